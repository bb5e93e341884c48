// CTranslate2 model files (xib/io/ctranslate2.h) written by CTranslate2's own serializer
// (tools/fixtures/make_ctranslate2_fixtures.py): every variable's name, shape, dtype and bytes
// in five weight types, aliases, open_weights() on the file and its folder, `xib inspect`, and
// every malformed file a FormatError naming the offset — truncations at every byte included.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "xib/error.h"
#include "xib/io/ctranslate2.h"
#include "xib/io/weight_source.h"
#include "xib/model_cache.h"
#include "xib/sha256.h"

namespace fs = std::filesystem;
using nlohmann::json;
using xib::io::Ct2File;
using xib::test::TempDir;

namespace {

fs::path data(const std::string& name) { return xib::test::source_dir() / "tests/io/data/ctranslate2" / name; }

const json& expected() {
  static const json doc = json::parse(xib::test::read_file(data("tiny.json")));
  return doc;
}

std::string dtype_of(xib::io::DType t) {
  switch (t) {
    case xib::io::DType::f32:
      return "float32";
    case xib::io::DType::f16:
      return "float16";
    case xib::io::DType::bf16:
      return "bfloat16";
    case xib::io::DType::i8:
      return "int8";
    case xib::io::DType::i16:
      return "int16";
    case xib::io::DType::i32:
      return "int32";
    default:
      return "other";
  }
}

std::string sha(const xib::io::TensorRecord& r) {
  xib::Sha256 h;
  h.update(r.data, r.storage_bytes);
  return h.hex_digest();
}

/// The report of the FormatError that opening `bytes` as a model.bin gives.
std::string refusal(const TempDir& dir, const std::string& bytes) {
  const fs::path p = dir.write("bad.bin", bytes);
  try {
    Ct2File f(p);
  } catch (const xib::FormatError& e) {
    return e.report();
  }
  FAIL("accepted a malformed file");
  return {};
}

std::string u32(uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); }
std::string u16(uint16_t v) { return std::string(reinterpret_cast<const char*>(&v), 2); }
std::string str(const std::string& s) { return u16(static_cast<uint16_t>(s.size() + 1)) + s + std::string(1, '\0'); }

}  // namespace

TEST_CASE("ctranslate2: every variable of CTranslate2's own files, in five weight types") {
  REQUIRE(expected()["files"].size() == 5);
  for (const auto& [name, want] : expected()["files"].items()) {
    CAPTURE(name);
    const Ct2File f(data(name));
    CHECK(f.binary_version() == expected()["binary_version"].get<uint32_t>());
    CHECK(f.spec() == want["spec"]);
    CHECK(f.revision() == want["revision"].get<uint32_t>());
    REQUIRE(f.variables().size() == want["variables"].size());
    for (size_t i = 0; i < f.variables().size(); ++i) {
      const auto& r = f.variables()[i];
      const auto& w = want["variables"][i];
      CAPTURE(r.name);
      CHECK(r.name == w["name"]);
      CHECK(r.shape == w["shape"].get<std::vector<int64_t>>());
      CHECK(dtype_of(r.dtype) == w["dtype"]);
      CHECK(sha(r) == w["sha256"]);
    }
    REQUIRE(f.aliases().size() == want["aliases"].size());
    for (size_t i = 0; i < f.aliases().size(); ++i) {
      CHECK(f.aliases()[i].first == want["aliases"][i][0]);
      CHECK(f.aliases()[i].second == want["aliases"][i][1]);
      const auto* alias = f.find(f.aliases()[i].first);
      REQUIRE(alias != nullptr);
      CHECK(alias == f.find(f.aliases()[i].second));
    }
    CHECK(f.find("no.such.variable") == nullptr);
  }
  // Quantised files carry the scales beside the weights.
  const Ct2File q(data("tiny-int8.bin"));
  REQUIRE(q.find("encoder_0/weight_scale") != nullptr);
  CHECK(q.find("encoder_0/weight")->dtype == xib::io::DType::i8);
}

TEST_CASE("ctranslate2: open_weights reads the file and its model folder, inspect lists it") {
  CHECK(xib::sniff_format(data("tiny-float16.bin")) == "ctranslate2 v6");
  const auto src = xib::io::open_weights(data("tiny-float16.bin"));
  CHECK(src->format() == "ctranslate2 v6");
  CHECK(src->metadata().at("spec") == "XibTinySpec");
  CHECK(src->metadata().at("alias head_bias") == "encoder_0/bias");  // names as stored: scopes joined by /
  REQUIRE(src->find("head_bias") != nullptr);                        // aliases are tensors too
  CHECK(src->find("head_bias")->data == src->find("encoder_0/bias")->data);

  TempDir dir;
  fs::copy_file(data("tiny-float32.bin"), dir / "model.bin");
  dir.write("config.json", "{}");
  const auto folder = xib::io::open_weights(dir.path());
  CHECK(folder->format() == "ctranslate2 v6");
  CHECK(folder->tensors().size() == 9);  // 8 variables + 1 alias

  const auto r = xib::test::run_xib({"inspect", data("tiny-int8.bin").string()});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("ctranslate2 v6") != std::string::npos);
  CHECK(r.out.find("XibTinySpec") != std::string::npos);
  CHECK(r.out.find("encoder_0/weight_scale") != std::string::npos);
}

TEST_CASE("ctranslate2: a file cut at any byte is a clear error") {
  const std::string whole = xib::test::read_file(data("tiny-int8.bin"));
  TempDir dir;
  for (size_t n = 0; n < whole.size(); ++n) {
    CAPTURE(n);
    const std::string report = refusal(dir, whole.substr(0, n));
    CHECK((report.find("past the end of the file") != std::string::npos ||
           report.find("no variables") != std::string::npos || report.find("claims") != std::string::npos));
  }
  CHECK(refusal(dir, whole + "x").find("bytes follow the last alias") != std::string::npos);
}

TEST_CASE("ctranslate2: hostile headers are refused before anything is allocated") {
  TempDir dir;
  const std::string head = u32(6) + str("WhisperSpec") + u32(3);
  CHECK(refusal(dir, u32(7) + str("WhisperSpec")).find("newer CTranslate2") != std::string::npos);
  CHECK(refusal(dir, u32(0)).find("binary version") != std::string::npos);
  CHECK(refusal(dir, head + u32(0xffffffffu)).find("claims 4294967295 variables") != std::string::npos);
  const std::string var = str("w") + std::string(1, '\x02') + u32(3) + u32(2);
  // A 4-GiB claim for 6 elements; an unknown dtype; the bytes missing.
  CHECK(refusal(dir, head + u32(1) + var + std::string(1, '\0') + u32(0xfffffff0u)).find("does not match its shape") !=
        std::string::npos);
  CHECK(refusal(dir, head + u32(1) + var + "\x09" + u32(24)).find("unknown dtype") != std::string::npos);
  CHECK(refusal(dir, head + u32(1) + var + std::string(1, '\0') + u32(24) + "short").find("past the end") !=
        std::string::npos);
  // Dimensions whose product overflows.
  const std::string huge =
      str("w") + std::string(1, '\x04') + u32(0xffffffffu) + u32(0xffffffffu) + u32(0xffffffffu) + u32(0xffffffffu);
  CHECK(refusal(dir, head + u32(1) + huge + std::string(1, '\0') + u32(4)).find("does not match its shape") !=
        std::string::npos);
  const std::string ok = str("w") + std::string(1, '\x01') + u32(1) + std::string(1, '\0') + u32(4) + "abcd";
  CHECK(refusal(dir, head + u32(2) + ok + ok).find("appears twice") != std::string::npos);
  CHECK(refusal(dir, head + u32(1) + ok + u32(1) + str("a") + str("nope")).find("names no variable") !=
        std::string::npos);
  CHECK(refusal(dir, head + u32(1) + ok + u32(1) + str("w") + str("w")).find("also a variable") != std::string::npos);
  CHECK(refusal(dir, u32(6) + u16(0)).find("length 0") != std::string::npos);
  CHECK(refusal(dir, u32(6) + u16(3) + "abc").find("NUL") != std::string::npos);
  // A valid minimal file.
  const fs::path good = dir.write("good.bin", head + u32(1) + ok + u32(0));
  const Ct2File f(good);
  CHECK(f.variables().size() == 1);
  CHECK(f.variables()[0].shape == std::vector<int64_t>{1});
}
