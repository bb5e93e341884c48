// The GGUF reader against gguf-py (llama.cpp's own reader and dequantisation): fixtures from
// tools/fixtures/make_gguf_fixtures.py in tests/io/data/gguf, and the cached SmolLM2 model.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_skip.h"
#include "test_support.h"
#include "xib/error.h"
#include "xib/io/gguf.h"
#include "xib/io/safetensors.h"
#include "xib/io/weight_source.h"
#include "xib/model_cache.h"

namespace fs = std::filesystem;
using nlohmann::json;
using xib::io::GgmlType;
using xib::io::GgufFile;
using xib::io::GgufType;
using xib::io::GgufValue;

namespace {

fs::path data_dir() { return xib::test::source_dir() / "tests/io/data/gguf"; }

json expected_json() { return json::parse(xib::test::read_file(data_dir() / "expected.json")); }

/// gguf-py's GGUFValueType names → ours.
std::string py_type(GgufType t) {
  switch (t) {
    case GgufType::u8:
      return "UINT8";
    case GgufType::i8:
      return "INT8";
    case GgufType::u16:
      return "UINT16";
    case GgufType::i16:
      return "INT16";
    case GgufType::u32:
      return "UINT32";
    case GgufType::i32:
      return "INT32";
    case GgufType::f32:
      return "FLOAT32";
    case GgufType::boolean:
      return "BOOL";
    case GgufType::string:
      return "STRING";
    case GgufType::array:
      return "ARRAY";
    case GgufType::u64:
      return "UINT64";
    case GgufType::i64:
      return "INT64";
    case GgufType::f64:
      return "FLOAT64";
  }
  return "?";
}

/// A scalar value equals its JSON rendering by gguf-py.
void check_scalar(const GgufValue& v, const json& want) {
  if (v.is_string()) {
    CHECK(*v.as_string() == want.get<std::string>());
  } else if (v.is_bool()) {
    CHECK(*v.as_bool() == want.get<bool>());
  } else if (v.is_float()) {
    // f32 values went through Python floats: exact as doubles.
    CHECK(*v.as_float() == want.get<double>());
  } else if (v.type() == GgufType::u64) {
    CHECK(static_cast<uint64_t>(*v.as_float()) == static_cast<uint64_t>(want.get<double>()));
    if (want.is_number_unsigned() && want.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX))
      CHECK(*v.as_int() == want.get<int64_t>());
  } else {
    REQUIRE(v.as_int());
    CHECK(*v.as_int() == want.get<int64_t>());
  }
}

/// Leaves of a (possibly nested) array, depth-first, as gguf-py's contents() flattens them.
void flatten(const GgufValue& v, std::vector<const GgufValue*>& out) {
  if (const auto* a = v.as_array()) {
    for (const auto& e : *a) flatten(e, out);
  } else {
    out.push_back(&v);
  }
}

void check_file_against(const GgufFile& f, const json& want) {
  CHECK(f.version() == want["version"].get<uint32_t>());
  CHECK(f.alignment() == want["alignment"].get<uint32_t>());
  CHECK(f.data_offset() == want["data_offset"].get<uint64_t>());
  CHECK(f.keys() == want["keys"].get<std::vector<std::string>>());
  for (const auto& [key, w] : want["metadata"].items()) {
    CAPTURE(key);
    const GgufValue& v = f.get(key);
    CHECK(py_type(v.type()) == w["type"].get<std::string>());
    if (v.is_array()) {
      CHECK(py_type(v.element_type()) == w["element_type"].get<std::string>());
      std::vector<const GgufValue*> leaves;
      flatten(v, leaves);
      REQUIRE(leaves.size() == w["value"].size());
      for (size_t i = 0; i < leaves.size(); ++i) check_scalar(*leaves[i], w["value"][i]);
    } else {
      check_scalar(v, w["value"]);
    }
  }
  const json& tensors = want["tensors"];
  REQUIRE(f.tensors().size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = f.tensors()[i];
    CAPTURE(t.name);
    CHECK(t.name == tensors[i]["name"].get<std::string>());
    CHECK(xib::io::ggml_type_name(t.type) == tensors[i]["type"].get<std::string>());
    CHECK(t.dims == tensors[i]["ne"].get<std::vector<int64_t>>());
    CHECK(t.offset == tensors[i]["offset"].get<uint64_t>());
    CHECK(&f.tensor(t.name) == &t);
  }
}

/// Every dequantisable tensor of `f` matches gguf-py's values stored under prefix + name.
void check_dequantized(const GgufFile& f, const std::string& prefix) {
  const xib::io::SafetensorsFile ref(data_dir() / "expected.safetensors");
  int checked = 0;
  for (const auto& t : f.tensors()) {
    if (!xib::io::ggml_type_dequantizable(t.type)) continue;
    CAPTURE(t.name);
    const auto& r = ref.tensor(prefix + t.name);
    const auto got = f.dequantize(t.name);
    CHECK(got.shape == r.shape);
    CHECK(got.shape == t.shape());
    REQUIRE(got.data.size() == static_cast<size_t>(r.numel()));
    std::vector<float> want(got.data.size());
    std::memcpy(want.data(), r.data, r.nbytes());
    int mismatches = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      // ggml's arithmetic order; gguf-py computes in numpy f32 too: equal up to a rounding step.
      const float tol = 1e-6f * std::max(1.0f, std::fabs(want[i]));
      if (!(std::fabs(got.data[i] - want[i]) <= tol) && !(std::isnan(want[i]) && std::isnan(got.data[i]))) ++mismatches;
    }
    CHECK(mismatches == 0);
    ++checked;
  }
  CHECK(checked == 8);
}

}  // namespace

TEST_CASE("gguf: v3 fixture metadata and tensor infos match gguf-py") {
  const GgufFile f(data_dir() / "basic_v3.gguf");
  CHECK(f.source() == (data_dir() / "basic_v3.gguf").string());
  check_file_against(f, expected_json()["basic_v3.gguf"]);
}

TEST_CASE("gguf: v2 fixture with general.alignment 64 matches gguf-py") {
  const GgufFile f(data_dir() / "basic_v2.gguf");
  CHECK(f.version() == 2);
  CHECK(f.alignment() == 64);
  CHECK(f.data_offset() % 64 == 0);
  check_file_against(f, expected_json()["basic_v2.gguf"]);
  for (const auto& t : f.tensors()) CHECK(t.offset % 64 == 0);
}

TEST_CASE("gguf: every dequantisable type matches gguf.quants.dequantize") {
  check_dequantized(GgufFile(data_dir() / "basic_v3.gguf"), "");
  check_dequantized(GgufFile(data_dir() / "basic_v2.gguf"), "v2.");
}

TEST_CASE("gguf: from_buffer reads the same as the mapped file") {
  const std::string bytes = xib::test::read_file(data_dir() / "basic_v3.gguf");
  const auto f = GgufFile::from_buffer({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()}, "buf");
  CHECK(f.source() == "buf");
  check_file_against(f, expected_json()["basic_v3.gguf"]);
  const GgufFile g(data_dir() / "basic_v3.gguf");
  CHECK(f.dequantize("t.q4_k").data == g.dequantize("t.q4_k").data);
}

TEST_CASE("gguf: typed getters accept compatible types and name the key on a mismatch") {
  const GgufFile f(data_dir() / "basic_v3.gguf");
  CHECK(f.get_string("general.architecture") == "testarch");
  CHECK(f.get_int("test.u8") == 200);
  CHECK(f.get_int("test.i64") == -9000000000000000000LL);
  CHECK(f.get_u32("test.u32") == 4000000000u);
  CHECK(f.get_u32("testarch.block_count") == 2);
  CHECK(f.get_float("test.f32") == 0.15625);
  CHECK(f.get_float("test.u16") == 60000.0);  // integers widen to float
  CHECK(f.get_bool("test.bool_true"));
  CHECK_FALSE(f.get_bool("test.bool_false"));
  CHECK(f.get_string_array("test.strings") == std::vector<std::string>{"<unk>", "<s>", "Ġthe", "é", "x y"});
  CHECK(f.get_int_array("test.ints") == std::vector<int64_t>{3, -1, 7, 2147483647});
  CHECK(f.get_int_array("test.u8s") == std::vector<int64_t>{1, 2, 255});
  CHECK(f.get_float_array("test.floats") == std::vector<double>{0.5, -1.25, static_cast<double>(3.0e-3f)});
  CHECK(f.get_float_array("test.ints").size() == 4);
  CHECK(f.get_int_or("absent.key", 7) == 7);
  CHECK(f.get_float_or("absent.key", 1.5) == 1.5);
  CHECK(f.get_string_or("absent.key", "x") == "x");
  CHECK(f.get_bool_or("absent.key", true));
  CHECK(f.get_int_or("test.i8", 7) == -100);
  CHECK(f.find("absent.key") == nullptr);
  REQUIRE(f.find("test.nested") != nullptr);
  const auto* nested = f.find("test.nested")->as_array();
  REQUIRE(nested);
  REQUIRE(nested->size() == 2);
  CHECK((*nested)[0].as_array()->size() == 2);
  CHECK((*nested)[1].as_array()->size() == 1);

  // u64 beyond int64: not an int, still a float.
  CHECK_FALSE(f.get("test.u64").as_int());
  CHECK(f.get_float("test.u64") == 18000000000000000000.0);

  auto report_of = [&](auto&& fn) {
    try {
      fn();
    } catch (const xib::Error& e) {
      return std::string(e.kind()) + ": " + e.report();
    }
    return std::string("no error");
  };
  const std::string s = report_of([&] { (void)f.get_string("test.u32"); });
  CHECK(s.find("FormatError") == 0);
  CHECK(s.find("test.u32") != std::string::npos);
  CHECK(s.find("a string") != std::string::npos);
  CHECK(s.find("u32 4000000000") != std::string::npos);
  CHECK(report_of([&] { (void)f.get_int("test.u64"); }).find("fits in 64-bit signed") != std::string::npos);
  CHECK(report_of([&] { (void)f.get_u32("test.i8"); }).find("out of range") != std::string::npos);
  CHECK(report_of([&] { (void)f.get_bool("test.string"); }).find("a bool") != std::string::npos);
  CHECK(report_of([&] { (void)f.get_float("test.strings"); }).find("array[5] of string") != std::string::npos);
  const std::string el = report_of([&] { (void)f.get_int_array("test.floats"); });
  CHECK(el.find("element 0 of metadata array 'test.floats'") != std::string::npos);
  CHECK(report_of([&] { (void)f.get_string_array("test.u8"); }).find("an array of string") != std::string::npos);
  CHECK(report_of([&] { (void)f.get_int_or("test.string", 1); }).find("FormatError") == 0);
  const std::string nf = report_of([&] { (void)f.get_int("testarch.block_cuont"); });
  CHECK(nf.find("NotFoundError") == 0);
  CHECK(nf.find("did you mean 'testarch.block_count'?") != std::string::npos);
  const std::string nt = report_of([&] { (void)f.tensor("t.q4_l"); });
  CHECK(nt.find("NotFoundError") == 0);
  CHECK(nt.find("t.q4_") != std::string::npos);
}

TEST_CASE("gguf: renderings of values") {
  const GgufFile f(data_dir() / "basic_v3.gguf");
  CHECK(f.get("test.u32").render() == "u32 4000000000");
  CHECK(f.get("test.i8").render() == "i8 -100");
  CHECK(f.get("test.f32").render() == "f32 0.15625");
  CHECK(f.get("test.bool_true").render() == "bool true");
  CHECK(f.get("general.architecture").render() == "string \"testarch\"");
  CHECK(f.get("test.string").render() == "string \"héllo \\\"gguf\\\"\\nline two\"");
  CHECK(f.get("test.strings").render() == "array[5] of string");
  CHECK(f.get("test.nested").render() == "array[2] of array");
  CHECK(xib::io::gguf_type_name(static_cast<GgufType>(42)) == "type 42");
  CHECK(xib::io::ggml_type_name(GgmlType::q4_k) == "Q4_K");
  CHECK(xib::io::ggml_type_name(static_cast<GgmlType>(99)) == "type 99");
}

TEST_CASE("gguf: an unsupported quantisation is refused by dequantize, naming type and tensor") {
  const GgufFile f(data_dir() / "basic_v3.gguf");
  const auto& t = f.tensor("t.q5_k");  // the file still opens and lists it
  CHECK(t.type == GgmlType::q5_k);
  CHECK(t.nbytes == 176);
  try {
    (void)f.dequantize("t.q5_k");
    FAIL("no error");
  } catch (const xib::FormatError& e) {
    const std::string r = e.report();
    CHECK(r.find("cannot dequantize tensor 't.q5_k' of type Q5_K") != std::string::npos);
    CHECK(r.find("Q4_K") != std::string::npos);
    CHECK(r.find("llama-quantize") != std::string::npos);
  }
  std::vector<float> out(256);
  CHECK_THROWS_AS(xib::io::dequantize_row(GgmlType::iq2_xs, t.data, out.data(), 256), xib::FormatError);
  CHECK_THROWS_AS(xib::io::dequantize_row(GgmlType::q4_0, t.data, out.data(), 33), xib::FormatError);
}

TEST_CASE("gguf: f16 conversion is exact for every half value") {
  // Every finite half is exactly representable as a float: check value by value against the
  // definition (sign, exponent, mantissa) with ldexp.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint16_t bits = static_cast<uint16_t>(h);
    float got = 0;
    xib::io::dequantize_row(GgmlType::f16, reinterpret_cast<const std::byte*>(&bits), &got, 1);
    const int exp = (h >> 10) & 0x1F;
    const int mant = h & 0x3FF;
    const float sign = (h & 0x8000) ? -1.0f : 1.0f;
    if (exp == 0x1F) {
      CHECK((mant == 0 ? std::isinf(got) : std::isnan(got)));
      CHECK(std::signbit(got) == ((h & 0x8000) != 0));
      continue;
    }
    const double want = exp == 0 ? std::ldexp(mant, -24) : std::ldexp(1024 + mant, exp - 25);
    if (got != static_cast<float>(sign * want) || std::signbit(got) != (sign < 0)) {
      CAPTURE(h);
      FAIL("f16 mismatch");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The real model (scripts/fetch-models.sh)

namespace {

std::optional<fs::path> smollm2_file() {
  const auto file = xib::ModelCache::default_root() / "smollm2-135m-instruct" / "SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!fs::exists(file)) {
    xib::test::skip_missing_model(file.string(), "smollm2-135m-instruct");
    return std::nullopt;
  }
  return file;
}

}  // namespace

TEST_CASE("gguf: SmolLM2 Q4_1 metadata matches gguf-py") {
  const auto file = smollm2_file();
  if (!file) return;
  const json want = json::parse(xib::test::read_file(data_dir() / "smollm2.json"));
  const GgufFile f(*file);
  CHECK(f.version() == want["version"].get<uint32_t>());
  CHECK(f.keys().size() == want["n_keys"].get<size_t>());
  CHECK(f.tensors().size() == want["n_tensors"].get<size_t>());
  const json& m = want["metadata"];
  CHECK(f.get_string("general.architecture") == m["general.architecture"].get<std::string>());
  for (const char* k : {"llama.block_count", "llama.context_length", "llama.embedding_length",
                        "llama.feed_forward_length", "llama.attention.head_count", "llama.attention.head_count_kv",
                        "llama.vocab_size", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"}) {
    CAPTURE(k);
    CHECK(f.get_int(k) == m[k].get<int64_t>());
  }
  CHECK(f.get_float("llama.rope.freq_base") == m["llama.rope.freq_base"].get<double>());
  CHECK(f.get_float("llama.attention.layer_norm_rms_epsilon") ==
        m["llama.attention.layer_norm_rms_epsilon"].get<double>());
  CHECK(f.get_string("tokenizer.ggml.model") == m["tokenizer.ggml.model"].get<std::string>());
  CHECK(f.get_bool("tokenizer.ggml.add_bos_token") == m["tokenizer.ggml.add_bos_token"].get<bool>());

  const auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  CHECK(tokens.size() == want["tokens"]["count"].get<size_t>());
  CHECK(std::vector<std::string>(tokens.begin(), tokens.begin() + 5) ==
        want["tokens"]["first"].get<std::vector<std::string>>());
  CHECK(tokens.back() == want["tokens"]["last"].get<std::string>());
  const auto merges = f.get_string_array("tokenizer.ggml.merges");
  CHECK(merges.size() == want["merges"]["count"].get<size_t>());
  CHECK(std::vector<std::string>(merges.begin(), merges.begin() + 3) ==
        want["merges"]["first"].get<std::vector<std::string>>());
  const auto types = f.get_int_array("tokenizer.ggml.token_type");
  CHECK(types.size() == want["token_type"]["count"].get<size_t>());
  int64_t sum = 0;
  for (int64_t t : types) sum += t;
  CHECK(sum == want["token_type"]["sum"].get<int64_t>());

  std::map<std::string, int> counts;
  for (const auto& t : f.tensors()) ++counts[xib::io::ggml_type_name(t.type)];
  CHECK(counts == want["tensor_types"].get<std::map<std::string, int>>());
}

TEST_CASE("gguf: SmolLM2 tensors dequantise like gguf-py") {
  const auto file = smollm2_file();
  if (!file) return;
  const json want = json::parse(xib::test::read_file(data_dir() / "smollm2.json"));
  const GgufFile f(*file);
  for (const auto& [name, w] : want["tensors"].items()) {
    CAPTURE(name);
    const auto& info = f.tensor(name);
    CHECK(xib::io::ggml_type_name(info.type) == w["type"].get<std::string>());
    const auto t = f.dequantize(name);
    CHECK(t.shape == w["shape"].get<std::vector<int64_t>>());
    const auto first = w["first"].get<std::vector<float>>();
    for (size_t i = 0; i < first.size(); ++i) CHECK(t.data[i] == doctest::Approx(first[i]).epsilon(1e-6));
    double s = 0, a = 0;
    for (float v : t.data) {
      s += v;
      a += std::fabs(v);
    }
    CHECK(s == doctest::Approx(w["sum"].get<double>()).epsilon(1e-6).scale(a));
    CHECK(a == doctest::Approx(w["abs_sum"].get<double>()).epsilon(1e-6));
  }
}

// ---------------------------------------------------------------------------------------------
// open_weights()

TEST_CASE("gguf: open_weights gives dequantised f32 records, row-major shapes, rendered metadata") {
  const auto src = xib::io::open_weights(data_dir() / "basic_v2.gguf");
  CHECK(src->format() == "gguf v2");
  CHECK(src->files() == std::vector<fs::path>{data_dir() / "basic_v2.gguf"});
  const auto meta = src->metadata();
  CHECK(meta.at("general.architecture") == "string \"testarch\"");
  CHECK(meta.at("test.strings") == "array[5] of string");
  CHECK(meta.at("testarch.block_count") == "u32 2");
  CHECK(meta.size() == expected_json()["basic_v2.gguf"]["keys"].size());

  const GgufFile f(data_dir() / "basic_v2.gguf");
  REQUIRE(src->tensors().size() == f.tensors().size());
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const auto& info = f.tensors()[i];
    const auto& r = src->tensors()[i];
    CAPTURE(info.name);
    CHECK(r.name == info.name);
    CHECK(r.dtype == xib::io::DType::f32);
    CHECK(r.shape == info.shape());
    CHECK(r.contiguous());
    REQUIRE(r.storage_bytes == r.nbytes());
    std::vector<float> values(static_cast<size_t>(r.numel()));
    std::memcpy(values.data(), r.data, r.nbytes());
    CHECK(values == f.dequantize(info).data);
    CHECK(src->find(info.name) == &r);
  }
  CHECK(src->find("t.q8_0")->shape == std::vector<int64_t>{2, 3, 64});

  const auto sub = xib::io::open_weights(data_dir() / "basic_v2.gguf", {.prefix = "t"});
  CHECK(sub->find("q4_k") != nullptr);

  // A tensor of a type xib cannot dequantise refuses the file, naming tensor and type.
  try {
    (void)xib::io::open_weights(data_dir() / "basic_v3.gguf");
    FAIL("no error");
  } catch (const xib::FormatError& e) {
    CHECK(e.report().find("cannot dequantize tensor 't.q5_k' of type Q5_K") != std::string::npos);
  }
}
