// .npy arrays against numpy's own files (tools/fixtures/make_npy_fixtures.py): every dtype and
// shape read as numpy wrote it, our files read back by our reader and byte-identical to numpy's
// for the same array, and every malformed or unsupported file refused with the file named.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "xib/error.h"
#include "xib/io/half.h"
#include "xib/io/npy.h"

namespace fs = std::filesystem;
using namespace xib::io;

namespace {

fs::path data_dir() { return xib::test::source_dir() / "tests/io/data/npy"; }

std::vector<std::byte> bytes_of(const fs::path& f) {
  const std::string s = xib::test::read_file(f);
  std::vector<std::byte> out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}

/// Element i of the array as a double (every dtype the reader accepts).
double value_at(const NpyArray& a, size_t i) {
  const std::byte* p = a.data.data() + i * dtype_size(a.dtype);
  auto get = [&](auto v) {
    std::memcpy(&v, p, sizeof v);
    return static_cast<double>(v);
  };
  switch (a.dtype) {
    case DType::f64:
      return get(double{});
    case DType::f32:
      return get(float{});
    case DType::f16: {
      uint16_t h;
      std::memcpy(&h, p, 2);
      return f16_to_f32(h);
    }
    case DType::i64:
      return get(int64_t{});
    case DType::i32:
      return get(int32_t{});
    case DType::i16:
      return get(int16_t{});
    case DType::i8:
      return get(int8_t{});
    case DType::u8:
      return get(uint8_t{});
    case DType::boolean:
      return get(uint8_t{});
    case DType::bf16:
      break;
  }
  return std::nan("");
}

std::string error_of(const fs::path& f) {
  try {
    (void)read_npy(f);
  } catch (const xib::Error& e) {
    return std::string(e.kind()) + ": " + e.report();
  }
  return "<no error>";
}

}  // namespace

TEST_CASE("npy: numpy's files of every dtype and shape read with numpy's values") {
  const auto expected = nlohmann::json::parse(xib::test::read_file(data_dir() / "expected.json"));
  REQUIRE(expected.size() == 9);
  for (const auto& [name, want] : expected.items()) {
    CAPTURE(name);
    const NpyArray a = read_npy(data_dir() / name);
    CHECK(dtype_name(a.dtype) == want["dtype"].get<std::string>());
    CHECK(a.shape == want["shape"].get<std::vector<int64_t>>());
    const auto values = want["values"];
    REQUIRE(a.record().numel() == static_cast<int64_t>(values.size()));
    for (size_t i = 0; i < values.size(); ++i) {
      const double v = values[i].is_boolean() ? (values[i].get<bool>() ? 1.0 : 0.0) : values[i].get<double>();
      CHECK(value_at(a, i) == v);
    }
  }
}

TEST_CASE("npy: what we write is what numpy writes for the same array, and reads back") {
  for (const char* name :
       {"f32_2d.npy", "f16_1d.npy", "f64_scalar.npy", "i64_3d.npy", "u8.npy", "bool.npy", "empty.npy"}) {
    CAPTURE(name);
    const auto numpy_bytes = bytes_of(data_dir() / name);
    const NpyArray a = parse_npy(numpy_bytes, name);
    CHECK(encode_npy(a.record()) == numpy_bytes);
  }
  xib::test::TempDir dir;
  const std::vector<float> v = {1, 2, 3, 4, 5, 6};
  const TensorRecord r{.dtype = DType::f32,
                       .shape = {2, 3},
                       .data = reinterpret_cast<const std::byte*>(v.data()),
                       .storage_bytes = v.size() * 4};
  write_npy(dir / "out.npy", r);
  const NpyArray back = read_npy(dir / "out.npy");
  CHECK(back.shape == std::vector<int64_t>{2, 3});
  CHECK(std::memcmp(back.data.data(), v.data(), 24) == 0);
  CHECK(read_npy(data_dir() / "f32_v2.npy").shape == std::vector<int64_t>{2, 3});  // format 2.0
}

TEST_CASE("npy: unsupported and malformed files are refused, naming the file and how to fix them") {
  CHECK(error_of(data_dir() / "big_endian.npy").find("big-endian") != std::string::npos);
  CHECK(error_of(data_dir() / "fortran.npy").find("ascontiguousarray") != std::string::npos);
  CHECK(error_of(data_dir() / "object.npy").find("unsupported dtype") != std::string::npos);
  CHECK(error_of(data_dir() / "missing.npy").find("IoError") == 0);

  const auto good = bytes_of(data_dir() / "f32_2d.npy");
  auto refused = [&](std::vector<std::byte> b, const std::string& part) {
    try {
      (void)parse_npy(b, "case.npy");
      return std::string("accepted");
    } catch (const xib::FormatError& e) {
      CHECK(e.info().where == "case.npy");
      return e.report().find(part) != std::string::npos ? std::string("ok") : e.report();
    }
  };
  auto cut = good;
  cut.resize(good.size() - 4);
  CHECK(refused(cut, "truncated") == "ok");
  CHECK(refused({good.begin(), good.begin() + 5}, "magic") == "ok");
  auto version = good;
  version[6] = std::byte{9};
  CHECK(refused(version, "format version") == "ok");
  auto header_len = good;
  header_len[8] = std::byte{0xFF};
  header_len[9] = std::byte{0xFF};
  CHECK(refused(header_len, "header") == "ok");
  // A shape that claims 10^18 elements is refused before anything is allocated.
  std::string text(reinterpret_cast<const char*>(good.data()), good.size());
  const size_t at = text.find("(3, 5)");
  REQUIRE(at != std::string::npos);
  text.replace(at, 6, "(1000000000000000000, 5)");
  text.resize(text.size() - 18);  // keep the header length field honest enough to reach the shape
  std::vector<std::byte> huge(text.size());
  std::memcpy(huge.data(), text.data(), text.size());
  CHECK(refused(huge, "") != "accepted");
  CHECK(refused({}, "magic") == "ok");
}
