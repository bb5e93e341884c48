#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "xib/error.h"
#include "xib/io/safetensors.h"
#include "xib/sha256.h"

namespace fs = std::filesystem;
using nlohmann::json;
using xib::io::DType;
using xib::io::SafetensorsFile;
using xib::io::SafetensorsModel;
using xib::io::TensorRecord;
using xib::test::TempDir;

namespace {

fs::path data_dir() { return xib::test::source_dir() / "tests/io/data/safetensors"; }

json expected_json() { return json::parse(xib::test::read_file(data_dir() / "expected.json")); }

std::string bytes_of(const TensorRecord& r) { return {reinterpret_cast<const char*>(r.data), r.nbytes()}; }

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (size_t i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

/// A safetensors file from a header text and a data buffer.
std::string st_file(const std::string& header, const std::string& data = {}) {
  return le64(header.size()) + header + data;
}

/// Every tensor of `expected` (from expected.json) is in `records` with the same dtype, shape and bytes.
template <class Reader>
void check_against(const Reader& reader, const json& expected) {
  const json& tensors = expected.at("tensors");
  CHECK(reader.names().size() == tensors.size());
  for (const auto& [name, want] : tensors.items()) {
    CAPTURE(name);
    REQUIRE(reader.contains(name));
    const TensorRecord& r = reader.tensor(name);
    CHECK(r.name == name);
    CHECK(xib::io::dtype_to_safetensors(r.dtype) == want.at("dtype").template get<std::string>());
    CHECK(r.shape == want.at("shape").template get<std::vector<int64_t>>());
    CHECK(r.contiguous());
    CHECK(r.storage_bytes == r.nbytes());
    CHECK(xib::sha256_hex(bytes_of(r)) == want.at("sha256").template get<std::string>());
  }
  std::map<std::string, std::string> meta;
  for (const auto& [k, v] : expected.at("metadata").items()) meta[k] = v.template get<std::string>();
  CHECK(reader.metadata() == meta);
}

template <class T>
T value_at(const TensorRecord& r, size_t i) {
  T v;
  std::memcpy(&v, r.data + i * sizeof(T), sizeof(T));
  return v;
}

/// Opens `bytes` both from a file and from memory; both must throw a FormatError whose message
/// contains `what` and whose "where" names the file and `key`.
void expect_format_error(const std::string& bytes, const std::string& what, const std::string& key = {}) {
  TempDir dir;
  const fs::path file = dir.write("bad.safetensors", bytes);
  bool thrown = false;
  try {
    SafetensorsFile f(file);
  } catch (const xib::FormatError& e) {
    thrown = true;
    INFO(e.report());
    CHECK(e.info().what.find(what) != std::string::npos);
    CHECK(e.info().where.find(file.string()) != std::string::npos);
    if (!key.empty()) CHECK(e.info().where.find("tensor '" + key + "'") != std::string::npos);
    CHECK(!e.info().expected.empty());
    CHECK(!e.info().got.empty());
  }
  CHECK_MESSAGE(thrown, "no FormatError for: ", what);
  const auto* p = reinterpret_cast<const std::byte*>(bytes.data());
  CHECK_THROWS_AS(SafetensorsFile::from_buffer({p, bytes.size()}, "mem"), xib::FormatError);
}

TensorRecord record(std::string name, DType dtype, std::vector<int64_t> shape, const std::string& storage) {
  return TensorRecord{.name = std::move(name),
                      .dtype = dtype,
                      .shape = std::move(shape),
                      .strides = {},
                      .storage_offset = 0,
                      .data = reinterpret_cast<const std::byte*>(storage.data()),
                      .storage_bytes = storage.size()};
}

size_t files_in(const fs::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Reading files written by the reference implementation

TEST_CASE("safetensors: reads the reference library's file bit-exactly") {
  const SafetensorsFile f(data_dir() / "basic.safetensors");
  check_against(f, expected_json().at("basic.safetensors"));

  // File order is data-offset order; records are zero-copy views in that order.
  for (size_t i = 1; i < f.records().size(); ++i) CHECK(f.records()[i - 1].data <= f.records()[i].data);
  CHECK(f.names().size() == f.records().size());
  for (size_t i = 0; i < f.names().size(); ++i) CHECK(f.names()[i] == f.records()[i].name);

  CHECK(value_at<float>(f.tensor("weights.f32"), 0) == -1.25f);
  CHECK(value_at<float>(f.tensor("weights.f32"), 5) == 1.25f);
  CHECK(value_at<int64_t>(f.tensor("ids.i64"), 2) == (int64_t{1} << 40));
  CHECK(value_at<uint16_t>(f.tensor("weights.bf16"), 0) == 0x3f80);  // bf16 1.0
  const TensorRecord& scalar = f.tensor("scalar");
  CHECK(scalar.shape.empty());
  CHECK(scalar.numel() == 1);
  CHECK(value_at<float>(scalar, 0) == 42.0f);
  const TensorRecord& empty = f.tensor("empty");
  CHECK(empty.shape == std::vector<int64_t>{0, 3});
  CHECK(empty.numel() == 0);
  CHECK(empty.nbytes() == 0);
  CHECK(f.tensor("mask.bool").dtype == DType::boolean);
  CHECK(f.metadata().at("format") == "pt");
}

TEST_CASE("safetensors: from_buffer parses the same bytes without a file") {
  const std::string bytes = xib::test::read_file(data_dir() / "basic.safetensors");
  const auto f = SafetensorsFile::from_buffer({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()}, "buf");
  CHECK(f.source() == "buf");
  check_against(f, expected_json().at("basic.safetensors"));
}

TEST_CASE("safetensors: a moved file keeps its records valid") {
  SafetensorsFile a(data_dir() / "basic.safetensors");
  const std::byte* p = a.tensor("ids.i64").data;
  SafetensorsFile b(std::move(a));
  CHECK(b.tensor("ids.i64").data == p);
  CHECK(value_at<int64_t>(b.tensor("ids.i64"), 1) == -1);
}

TEST_CASE("safetensors: an unknown tensor name is a NotFoundError with a suggestion") {
  const SafetensorsFile f(data_dir() / "basic.safetensors");
  try {
    (void)f.tensor("weights.f33");
    FAIL("no error");
  } catch (const xib::NotFoundError& e) {
    CHECK(e.info().what.find("weights.f33") != std::string::npos);
    CHECK(e.info().hint.find("weights.f32") != std::string::npos);
    CHECK(e.info().expected.find("ids.i64") != std::string::npos);
  }
}

TEST_CASE("safetensors: a sharded model through its index, its folder, or a single file") {
  const json expected = expected_json();
  const SafetensorsModel m(data_dir() / "sharded" / "model.safetensors.index.json");
  check_against(m, expected.at("sharded/model.safetensors.index.json"));
  CHECK(m.shard_files().size() == 2);
  // Shard by shard; within a shard, file order (the reference writer puts wider dtypes first).
  CHECK(m.names() == std::vector<std::string>{"layers.0.weight", "layers.0.bias", "embed.ids", "layers.1.weight"});
  CHECK(value_at<int64_t>(m.tensor("embed.ids"), 2) == 4);
  CHECK_THROWS_AS((void)m.tensor("layers.2.weight"), xib::NotFoundError);

  const SafetensorsModel folder(data_dir() / "sharded");
  CHECK(folder.names() == m.names());

  const SafetensorsModel single(data_dir() / "basic.safetensors");
  check_against(single, expected.at("basic.safetensors"));
  CHECK(single.shard_files().size() == 1);

  TempDir empty;
  CHECK_THROWS_AS(SafetensorsModel{empty.path()}, xib::NotFoundError);
}

// ---------------------------------------------------------------------------------------------
// Writing

TEST_CASE("safetensors: writer round trip keeps names, order, bytes and metadata") {
  const SafetensorsFile src(data_dir() / "basic.safetensors");
  // Write in reverse file order, to check the writer keeps the given order.
  std::vector<TensorRecord> records(src.records().rbegin(), src.records().rend());
  const std::map<std::string, std::string> meta{{"format", "pt"}, {"note", "écrit par xib"}};
  TempDir dir;
  const fs::path out = dir / "out.safetensors";
  xib::io::write_safetensors(out, records, meta);

  const std::string bytes = xib::test::read_file(out);
  CHECK(bytes == xib::io::serialize_safetensors(records, meta));
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(n % 8 == 0);
  CHECK(bytes[8 + n - 1] != '\0');

  const SafetensorsFile back(out);
  CHECK(back.metadata() == meta);
  REQUIRE(back.names().size() == records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    CAPTURE(records[i].name);
    CHECK(back.names()[i] == records[i].name);
    const TensorRecord& r = back.tensor(records[i].name);
    CHECK(r.dtype == records[i].dtype);
    CHECK(r.shape == records[i].shape);
    CHECK(bytes_of(r) == bytes_of(records[i]));
  }
  CHECK(files_in(dir.path()) == 1);  // no temporary left behind

  // Writing again replaces the file.
  xib::io::write_safetensors(out, {records.front()}, {});
  CHECK(SafetensorsFile(out).names() == std::vector<std::string>{records.front().name});
  CHECK(files_in(dir.path()) == 1);
}

TEST_CASE("safetensors: writer honours storage_offset and size-1 strides") {
  std::string storage(6 * sizeof(float), '\0');
  for (int i = 0; i < 6; ++i) {
    const float v = static_cast<float>(i);
    std::memcpy(storage.data() + i * sizeof(float), &v, sizeof v);
  }
  TensorRecord row = record("row", DType::f32, {1, 3}, storage);
  row.storage_offset = 3;
  row.strides = {99, 1};  // any stride on a size-1 dimension
  const std::string bytes = xib::io::serialize_safetensors({row});
  const auto f = SafetensorsFile::from_buffer({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()});
  CHECK(value_at<float>(f.tensor("row"), 0) == 3.0f);
  CHECK(value_at<float>(f.tensor("row"), 2) == 5.0f);
}

TEST_CASE("safetensors: writer refuses what it cannot store") {
  const std::string storage(16, '\x01');
  const auto a = record("a", DType::f32, {2}, storage);

  CHECK_THROWS_AS(xib::io::serialize_safetensors({a, a}), xib::FormatError);
  CHECK_THROWS_AS(xib::io::serialize_safetensors({record("__metadata__", DType::u8, {1}, storage)}), xib::FormatError);
  CHECK_THROWS_AS(xib::io::serialize_safetensors({record("big", DType::f32, {5}, storage)}), xib::FormatError);
  CHECK_THROWS_AS(xib::io::serialize_safetensors({record("neg", DType::f32, {-1}, storage)}), xib::FormatError);
  auto transposed = record("t", DType::u8, {2, 2}, storage);
  transposed.strides = {1, 2};
  CHECK_FALSE(transposed.contiguous());
  CHECK_THROWS_WITH_AS(xib::io::serialize_safetensors({transposed}), doctest::Contains("not contiguous"),
                       xib::FormatError);
  auto null_data = a;
  null_data.data = nullptr;
  CHECK_THROWS_AS(xib::io::serialize_safetensors({null_data}), xib::FormatError);
  CHECK_THROWS_AS(xib::io::serialize_safetensors({record(std::string("bad\xff"), DType::u8, {1}, storage)}),
                  xib::FormatError);
}

TEST_CASE("safetensors: a failed write leaves the existing file untouched") {
  TempDir dir;
  const std::string storage(8, '\x02');
  const fs::path out = dir / "model.safetensors";
  xib::io::write_safetensors(out, {record("a", DType::f32, {2}, storage)});
  const std::string before = xib::test::read_file(out);

  auto transposed = record("t", DType::u8, {2, 2}, storage);
  transposed.strides = {1, 2};
  CHECK_THROWS_AS(xib::io::write_safetensors(out, {record("ok", DType::u8, {4}, storage), transposed}),
                  xib::FormatError);
  CHECK(xib::test::read_file(out) == before);
  CHECK(files_in(dir.path()) == 1);

  // The target is a folder: the rename fails after the data was written; the temporary goes.
  fs::create_directories(dir / "taken" / "inside");
  CHECK_THROWS_AS(xib::io::write_safetensors(dir / "taken", {record("a", DType::f32, {2}, storage)}), xib::IoError);
  CHECK(files_in(dir.path()) == 2);
  CHECK(xib::test::read_file(out) == before);
}

TEST_CASE("safetensors: writing into a missing folder is an IoError") {
  TempDir dir;
  const std::string storage(8, '\0');
  try {
    xib::io::write_safetensors(dir / "no" / "such" / "x.safetensors", {record("a", DType::f32, {2}, storage)});
    FAIL("no error");
  } catch (const xib::IoError& e) {
    CHECK(e.info().where.find("such") != std::string::npos);
    CHECK(e.info().hint.find("folder does not exist") != std::string::npos);
  }
  CHECK(!fs::exists(dir / "no"));
}

// ---------------------------------------------------------------------------------------------
// Hostile and corrupt files

TEST_CASE("safetensors: files that cannot be opened are IoErrors") {
  TempDir dir;
  CHECK_THROWS_AS(SafetensorsFile(dir / "missing.safetensors"), xib::IoError);
  CHECK_THROWS_AS(SafetensorsFile(dir.path()), xib::IoError);
}

TEST_CASE("safetensors: truncated files and bad header lengths") {
  expect_format_error("", "too small");
  expect_format_error("1234567", "too small");
  expect_format_error(le64(100) + "{}", "header length out of range");
  expect_format_error(le64(uint64_t{1} << 63) + "{}", "header length out of range");
  expect_format_error(le64(~uint64_t{0}) + "{}", "header length out of range");
  expect_format_error(le64(200'000'000) + std::string(16, ' '), "header length out of range");
  // A real file cut short: its tensors now run past the end.
  const std::string real = xib::test::read_file(data_dir() / "basic.safetensors");
  expect_format_error(real.substr(0, real.size() - 1), "past the end");
}

TEST_CASE("safetensors: headers that are not a JSON object") {
  expect_format_error(st_file(""), "not valid JSON");
  expect_format_error(st_file("{not json"), "not valid JSON");
  expect_format_error(st_file("{} trailing"), "not valid JSON");
  expect_format_error(st_file("[]"), "not a JSON object");
  expect_format_error(st_file("42"), "not a JSON object");
  expect_format_error(st_file(std::string("{\"a\xff\": 1}")), "not valid JSON");
}

TEST_CASE("safetensors: bad tensor entries name the tensor") {
  const std::string d4(4, '\0');
  auto one = [](const std::string& entry) { return R"({"t":)" + entry + "}"; };
  expect_format_error(st_file(one("5"), d4), "not a JSON object", "t");
  expect_format_error(st_file(one(R"({"shape":[1],"data_offsets":[0,4]})"), d4), "dtype", "t");
  expect_format_error(st_file(one(R"({"dtype":"F7","shape":[1],"data_offsets":[0,4]})"), d4), "unknown dtype", "t");
  expect_format_error(st_file(one(R"({"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]})"), d4), "unknown dtype",
                      "t");
  expect_format_error(st_file(one(R"({"dtype":"F32","data_offsets":[0,4]})"), d4), "shape", "t");
  expect_format_error(st_file(one(R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})"), d4), "bad shape", "t");
  expect_format_error(st_file(one(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})"), d4), "bad shape", "t");
  expect_format_error(st_file(one(R"({"dtype":"F32","shape":["1"],"data_offsets":[0,4]})"), d4), "bad shape", "t");
  expect_format_error(st_file(one(R"({"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]})"), d4),
                      "shape too large", "t");
  expect_format_error(st_file(one(R"({"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,4]})"), d4),
                      "shape too large", "t");
  expect_format_error(st_file(one(R"({"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,4]})"), d4),
                      "bad shape", "t");
  expect_format_error(st_file(one(R"({"dtype":"F32","shape":[1]})"), d4), "data_offsets", "t");
  expect_format_error(st_file(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4,8]})"), d4), "data_offsets", "t");
  expect_format_error(st_file(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,-4]})"), d4), "data_offsets", "t");
  expect_format_error(st_file(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,400]})"), d4), "past the end", "t");
  expect_format_error(st_file(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]})"), d4),
                      "past the end", "t");
  expect_format_error(st_file(one(R"({"dtype":"F32","shape":[0],"data_offsets":[4,0]})"), d4), "end before", "t");
  expect_format_error(st_file(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,4]})"), d4), "do not match", "t");
}

TEST_CASE("safetensors: overlapping tensors are refused, gaps and empty tensors are not overlaps") {
  const std::string d12(12, '\0');
  expect_format_error(st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                              R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                              d12),
                      "overlaps tensor 'a'", "b");
  expect_format_error(st_file(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                              R"("b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})",
                              d12),
                      "overlaps", "b");
  const std::string ok = st_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},)"
                                 R"("e":{"dtype":"F32","shape":[0,5],"data_offsets":[10,10]},)"
                                 R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                                 d12);
  const auto f = SafetensorsFile::from_buffer({reinterpret_cast<const std::byte*>(ok.data()), ok.size()});
  CHECK(f.names() == std::vector<std::string>{"b", "a", "e"});
}

TEST_CASE("safetensors: bad metadata and duplicate keys") {
  expect_format_error(st_file(R"({"__metadata__":{"k":1}})"), "metadata value for 'k'");
  expect_format_error(st_file(R"({"__metadata__":{"k":null}})"), "metadata value for 'k'");
  expect_format_error(st_file(R"({"__metadata__":["k"]})"), "__metadata__");
  expect_format_error(st_file(R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                              R"("t":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                              "ab"),
                      "duplicate key 't'", "t");
  expect_format_error(st_file(R"({"__metadata__":{"k":"a","k":"b"}})"), "duplicate key 'k'");
  // The same key in two different objects is fine.
  const std::string ok = st_file(
      R"({"__metadata__":{"dtype":"x"},"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", std::string(1, '\0'));
  CHECK(
      SafetensorsFile::from_buffer({reinterpret_cast<const std::byte*>(ok.data()), ok.size()}).metadata().at("dtype") ==
      "x");
}

TEST_CASE("safetensors: broken sharded indexes") {
  TempDir dir;
  for (const char* shard : {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"})
    fs::copy_file(data_dir() / "sharded" / shard, dir / shard);
  const std::string s1 = "model-00001-of-00002.safetensors";
  const std::string s2 = "model-00002-of-00002.safetensors";

  SUBCASE("missing shard file") {
    const fs::path index = dir.write("model.safetensors.index.json", R"({"weight_map":{"layers.0.bias":")" + s1 +
                                                                         R"(","x":"model-gone.safetensors"}})");
    try {
      SafetensorsModel m(index);
      FAIL("no error");
    } catch (const xib::IoError& e) {
      CHECK(e.info().what.find("model-gone.safetensors") != std::string::npos);
      CHECK(e.info().where.find("tensor 'x'") != std::string::npos);
    }
  }
  SUBCASE("tensor missing from its shard") {
    const fs::path index =
        dir.write("model.safetensors.index.json", R"({"weight_map":{"layers.0.bias":")" + s2 + R"("}})");
    try {
      SafetensorsModel m(index);
      FAIL("no error");
    } catch (const xib::FormatError& e) {
      CHECK(e.info().what.find("missing from its shard") != std::string::npos);
      CHECK(e.info().where.find(s2) != std::string::npos);
      CHECK(e.info().where.find("tensor 'layers.0.bias'") != std::string::npos);
    }
  }
  SUBCASE("malformed indexes") {
    for (const std::string& text : {std::string("not json"), std::string("[]"), std::string(R"({"metadata":{}})"),
                                    std::string(R"({"weight_map":{}})"), std::string(R"({"weight_map":{"a":1}})"),
                                    std::string(R"({"weight_map":{"a":"../x.safetensors"}})"),
                                    std::string(R"({"weight_map":{"a":"/etc/passwd"}})"),
                                    std::string(R"({"metadata":[],"weight_map":{"a":"x"}})")}) {
      CAPTURE(text);
      CHECK_THROWS_AS(SafetensorsModel(dir.write("model.safetensors.index.json", text)), xib::FormatError);
    }
  }
  SUBCASE("unreadable index") { CHECK_THROWS_AS(SafetensorsModel(dir / "nope.index.json"), xib::IoError); }
  SUBCASE("a corrupt shard reports the shard") {
    dir.write(s2, "garbage");
    const fs::path index = dir.write("model.safetensors.index.json", R"({"weight_map":{"embed.ids":")" + s2 + R"("}})");
    CHECK_THROWS_WITH_AS(SafetensorsModel{index}, doctest::Contains("too small"), xib::FormatError);
  }
}
