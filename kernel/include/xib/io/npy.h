// NumPy .npy arrays (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html),
// read and written torch-free: format versions 1.0, 2.0 and 3.0, little-endian (or byte-order
// free) f64/f32/f16, i64/i32/i16/i8, u8 and bool, C order. Everything in the header is checked
// against the file before anything is allocated; a malformed file is a FormatError naming the
// file and what is wrong, an unsupported one (big-endian, Fortran order, objects, structured
// dtypes) one whose hint says how to convert it.
//
//   const auto a = xib::io::read_npy("features/0001.npy");    // a.record().shape == {49, 1280}
//   xib::io::write_npy("out.npy", a.record());
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "xib/io/tensor_record.h"

namespace xib::io {

/// Largest header accepted (numpy itself writes at most a few hundred bytes).
inline constexpr size_t kNpyMaxHeader = 1 << 16;

/// One array, owning its bytes.
struct NpyArray {
  DType dtype = DType::f32;
  std::vector<int64_t> shape = {};
  std::vector<std::byte> data = {};  ///< C order, little-endian
  /// A record viewing `data` (valid while the array lives), named `name`.
  TensorRecord record(std::string name = {}) const;
};

/// Parses .npy bytes; `label` names them in errors.
NpyArray parse_npy(std::span<const std::byte> bytes, const std::string& label = "<memory>");
/// Reads a file (IoError when it cannot be read).
NpyArray read_npy(const std::filesystem::path& file);
/// The .npy bytes (format 1.0, or 2.0 when the header needs it) of a contiguous record.
std::vector<std::byte> encode_npy(const TensorRecord& record);
/// Writes encode_npy() to a file, replacing it atomically. IoError on failure.
void write_npy(const std::filesystem::path& file, const TensorRecord& record);

}  // namespace xib::io
