// Hostile and malformed GGUF input: every path must be a FormatError (IoError when the file
// cannot be read) that says what, where and what was expected; never a crash.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "test_support.h"
#include "xib/error.h"
#include "xib/io/gguf.h"

using xib::io::GgufFile;

namespace {

std::string le(uint64_t v, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}
std::string u32(uint64_t v) { return le(v, 4); }
std::string u64(uint64_t v) { return le(v, 8); }
std::string str(const std::string& s) { return u64(s.size()) + s; }

/// A GGUF file assembled piece by piece.
struct Builder {
  uint32_t version = 3;
  std::vector<std::string> kvs;
  std::vector<std::string> infos;
  std::string data;
  uint32_t alignment = 32;

  Builder& kv(const std::string& key, uint32_t type, const std::string& payload) {
    kvs.push_back(str(key) + u32(type) + payload);
    return *this;
  }
  Builder& tensor(const std::string& name, std::vector<int64_t> ne, uint32_t type, uint64_t offset) {
    std::string s = str(name) + u32(ne.size());
    for (int64_t d : ne) s += u64(static_cast<uint64_t>(d));
    infos.push_back(s + u32(type) + u64(offset));
    return *this;
  }
  std::string bytes(uint64_t n_tensors_override = UINT64_MAX, uint64_t n_kv_override = UINT64_MAX) const {
    std::string s = "GGUF" + u32(version) + u64(n_tensors_override == UINT64_MAX ? infos.size() : n_tensors_override) +
                    u64(n_kv_override == UINT64_MAX ? kvs.size() : n_kv_override);
    for (const auto& k : kvs) s += k;
    for (const auto& t : infos) s += t;
    if (!data.empty() || !infos.empty()) s.resize((s.size() + alignment - 1) / alignment * alignment, '\0');
    return s + data;
  }
};

/// A valid file: one u32 key, one F32 [2, 32] tensor (256 bytes) and one Q8_0 [32] (34 bytes).
Builder valid() {
  Builder b;
  b.kv("general.architecture", 8, str("llama")).kv("llama.block_count", 4, u32(2));
  b.tensor("a", {32, 2}, 0, 0).tensor("b", {32}, 8, 256);
  b.data = std::string(256 + 34, '\0');
  return b;
}

GgufFile parse(const std::string& bytes) {
  return GgufFile::from_buffer({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()}, "bad.gguf");
}

/// The FormatError report for parsing `bytes` ("no error" when it parses).
std::string error_of(const std::string& bytes) {
  try {
    (void)parse(bytes);
  } catch (const xib::FormatError& e) {
    const std::string r = e.report();
    CHECK(r.find("bad.gguf") != std::string::npos);  // where
    CHECK(!e.info().expected.empty());
    CHECK(!e.info().got.empty());
    return r;
  } catch (const std::exception& e) {
    return std::string("other exception: ") + e.what();
  }
  return "no error";
}

bool has(const std::string& report, const std::string& text) {
  const bool found = report.find(text) != std::string::npos;
  if (!found) MESSAGE("report: " << report << "\nmissing: " << text);
  return found;
}

}  // namespace

TEST_CASE("gguf errors: the hand-built valid file parses") {
  const std::string bytes = valid().bytes();
  const auto f = parse(bytes);
  CHECK(f.tensors().size() == 2);
  CHECK(f.tensor("b").nbytes == 34);
  CHECK(f.get_int("llama.block_count") == 2);
  CHECK(f.dequantize("a").shape == std::vector<int64_t>{2, 32});
}

TEST_CASE("gguf errors: not GGUF, bad versions, big-endian") {
  CHECK(has(error_of(""), "not a GGUF file"));
  CHECK(has(error_of("GGU"), "not a GGUF file"));
  CHECK(has(error_of("PK\x03\x04 not gguf"), "first bytes 50 4b 03 04"));
  Builder b = valid();
  b.version = 1;
  CHECK(has(error_of(b.bytes()), "GGUF version 1 is not supported"));
  b.version = 4;
  CHECK(has(error_of(b.bytes()), "unsupported GGUF version 4"));
  b.version = 0;
  CHECK(has(error_of(b.bytes()), "unsupported GGUF version 0"));
  b.version = 0x03000000;
  CHECK(has(error_of(b.bytes()), "big-endian"));
}

TEST_CASE("gguf errors: truncated anywhere") {
  const std::string full = valid().bytes();
  // Every prefix of the header and tensor infos fails cleanly; cut in the data, it is the data check.
  for (size_t n = 0; n < full.size(); ++n) {
    CAPTURE(n);
    const std::string r = error_of(full.substr(0, n));
    CHECK(r != "no error");
    CHECK(r.find("other exception") == std::string::npos);
  }
  CHECK(has(error_of(full.substr(0, 6)), "file ends inside the version"));
  CHECK(has(error_of(full.substr(0, full.size() - 1)), "tensor data runs past the end of the file"));
}

TEST_CASE("gguf errors: absurd counts and lengths") {
  const Builder b = valid();
  CHECK(has(error_of(b.bytes(UINT64_MAX - 1)), "tensor count is larger than the file can hold"));
  CHECK(has(error_of(b.bytes(1ull << 40)), "tensor count is larger than the file can hold"));
  CHECK(has(error_of(b.bytes(UINT64_MAX, 1ull << 60)), "metadata count is larger than the file can hold"));
  // A key length past the end of the file.
  Builder k;
  k.kvs.push_back(u64(1ull << 62) + "abc" + std::string(16, '\0'));
  CHECK(has(error_of(k.bytes()), "metadata key length runs past the end of the file"));
  // A string value and an array length past the end.
  Builder s;
  s.kv("x", 8, u64(1000) + "short");
  CHECK(has(error_of(s.bytes()), "string length runs past the end"));
  Builder a;
  a.kv("x", 9, u32(4) + u64(1ull << 61));
  CHECK(has(error_of(a.bytes()), "array length is larger than the file can hold"));
  Builder as;  // array of strings: each at least 8 bytes
  as.kv("x", 9, u32(8) + u64(3) + str("a") + str("b"));
  CHECK(has(error_of(as.bytes()), "array length is larger than the file can hold"));
  Builder n;  // a tensor name longer than the file
  n.infos.push_back(u64(1ull << 50) + "name" + std::string(40, '\0'));
  CHECK(has(error_of(n.bytes(1)), "tensor name length runs past the end"));
}

TEST_CASE("gguf errors: bad metadata values") {
  Builder t;
  t.kv("x", 13, u32(1));
  CHECK(has(error_of(t.bytes()), "unknown metadata value type 13"));
  CHECK(has(error_of(t.bytes()), "key 'x'"));
  Builder e;
  e.kv("x", 9, u32(77) + u64(1) + u32(0));
  CHECK(has(error_of(e.bytes()), "unknown metadata value type 77"));
  Builder bo;
  bo.kv("flag", 7, std::string(1, '\x02'));
  CHECK(has(error_of(bo.bytes()), "bool value is neither 0 nor 1"));
  Builder d;
  d.kv("x", 4, u32(1)).kv("x", 4, u32(2));
  CHECK(has(error_of(d.bytes()), "duplicate metadata key 'x'"));
  // Arrays nested deeper than the limit.
  std::string deep = u32(4) + u64(1) + u32(7);  // innermost: array of 1 u32 (value 7)
  for (int i = 0; i < 5; ++i) deep = u32(9) + u64(1) + deep;
  Builder nd;
  nd.kv("x", 9, deep);
  CHECK(has(error_of(nd.bytes()), "nested too deeply"));
  // general.alignment: not u32, zero, not a power of two.
  for (const auto& [type, payload] :
       std::vector<std::pair<uint32_t, std::string>>{{4, u32(0)}, {4, u32(48)}, {10, u64(32)}, {8, str("32")}}) {
    Builder al = valid();
    al.kv("general.alignment", type, payload);
    CHECK(has(error_of(al.bytes()), "bad general.alignment"));
  }
  // An empty array is fine.
  Builder ea;
  ea.kv("x", 9, u32(8) + u64(0));
  CHECK(parse(ea.bytes()).get_string_array("x").empty());
}

TEST_CASE("gguf errors: bad tensor infos") {
  auto with_tensor = [](std::vector<int64_t> ne, uint32_t type, uint64_t offset, size_t data = 256) {
    Builder b;
    b.tensor("w", std::move(ne), type, offset);
    b.data = std::string(data, '\0');
    return b.bytes();
  };
  CHECK(has(error_of(with_tensor({}, 0, 0)), "bad number of dimensions"));
  CHECK(has(error_of(with_tensor({1, 1, 1, 1, 1}, 0, 0)), "bad number of dimensions"));
  CHECK(has(error_of(with_tensor({0}, 0, 0)), "dimension 0 is not positive"));
  CHECK(has(error_of(with_tensor({4, -3}, 0, 0)), "dimension 1 is not positive"));
  CHECK(has(error_of(with_tensor({1ll << 40, 1ll << 40}, 0, 0)), "too many elements"));
  CHECK(has(error_of(with_tensor({1ll << 62, 1}, 0, 0)), "byte size overflows"));
  CHECK(has(error_of(with_tensor({32}, 5, 0)), "unknown ggml tensor type 5"));
  CHECK(has(error_of(with_tensor({32}, 1000, 0)), "unknown ggml tensor type 1000"));
  CHECK(has(error_of(with_tensor({33}, 8, 0)), "not a multiple of the Q8_0 block size"));
  CHECK(has(error_of(with_tensor({8}, 0, 4)), "tensor data offset is not aligned"));
  CHECK(has(error_of(with_tensor({8}, 0, 1ull << 63)), "tensor data runs past the end of the file"));
  CHECK(has(error_of(with_tensor({128}, 0, 0)), "tensor data runs past the end of the file"));
  CHECK(has(error_of(with_tensor({64}, 0, 32 * 6)), "tensor data runs past the end of the file"));
  CHECK(error_of(with_tensor({64}, 0, 32 * 6, 448)) == "no error");
  // Where: the tensor's name and a byte offset.
  CHECK(has(error_of(with_tensor({0}, 0, 0)), "tensor 'w', byte"));

  Builder dup;
  dup.tensor("w", {8}, 0, 0).tensor("w", {8}, 0, 32);
  dup.data = std::string(64, '\0');
  CHECK(has(error_of(dup.bytes()), "duplicate tensor name 'w'"));
  Builder ov;
  ov.tensor("a", {16}, 0, 0).tensor("b", {8}, 0, 32);  // a covers [0, 64)
  ov.data = std::string(96, '\0');
  CHECK(has(error_of(ov.bytes()), "tensor data overlaps tensor 'a'"));
  Builder short_data;  // tensors but the file ends before the data section
  short_data.tensor("a", {8}, 0, 0);
  std::string bytes = short_data.bytes();
  bytes.resize(bytes.size() - 5);
  CHECK(has(error_of(bytes), "file ends before its tensor data section"));
}

TEST_CASE("gguf errors: a missing or unreadable file is an IoError") {
  xib::test::TempDir tmp;
  CHECK_THROWS_AS(GgufFile(tmp / "absent.gguf"), xib::IoError);
  CHECK_THROWS_AS(GgufFile(tmp.path()), xib::IoError);
  CHECK_THROWS_AS(GgufFile(tmp.write("empty.gguf", "")), xib::FormatError);
}
