// Torch-free description of a stored tensor: dtype, shape, strides and where its bytes are.
// The weight readers (safetensors, PyTorch checkpoints, GGUF) produce these; a thin adapter
// (elsewhere, with LibTorch) turns them into at::Tensor. Keeping the parsers torch-free keeps
// their sanitizer and fuzz builds fast.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xib::io {

enum class DType : uint8_t { f64, f32, f16, bf16, i64, i32, i16, i8, u8, boolean };

/// Bytes per element.
size_t dtype_size(DType t);
/// Canonical short name: "f32", "bf16", "i64", "bool", …
std::string_view dtype_name(DType t);
/// safetensors' names ("F32", "BF16", "I64", "BOOL", …) → DType; nullopt if unknown.
std::optional<DType> dtype_from_safetensors(std::string_view name);
std::string_view dtype_to_safetensors(DType t);

/// Element count and byte size of `shape` in `dtype`; false on a negative dimension or overflow
/// (of int64 elements or size_t bytes). Readers use it before trusting a file's shapes.
bool checked_byte_size(const std::vector<int64_t>& shape, DType dtype, uint64_t& numel, uint64_t& bytes);

/// One tensor in a file. `data` points into memory owned by the reader (a mapping or buffer)
/// and stays valid while the reader lives.
struct TensorRecord {
  std::string name = {};
  DType dtype = DType::f32;
  std::vector<int64_t> shape = {};
  std::vector<int64_t> strides = {};  ///< in elements; empty = contiguous (row-major)
  int64_t storage_offset = 0;         ///< in elements, from `data`
  const std::byte* data = nullptr;    ///< start of the storage the view refers to
  size_t storage_bytes = 0;           ///< bytes available from `data`

  int64_t numel() const;
  /// Bytes of the elements the view covers, when contiguous.
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  bool contiguous() const;
};

}  // namespace xib::io
