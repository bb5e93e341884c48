// Gathering a strided tensor view into contiguous (row-major) bytes, torch-free. Used where a
// view must be written as a plain tensor (safetensors has no strides): `xib convert`.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "xib/io/tensor_record.h"

namespace xib::io {

/// Checks that every element of the view lies within its storage (`storage_bytes` from `data`):
/// non-negative sizes, strides and offset, no overflow. FormatError naming the tensor otherwise.
void check_view(const TensorRecord& t);

/// Copies the view's elements, row-major, into `out` (exactly t.nbytes() bytes; a ShapeError
/// otherwise). The innermost run is copied with one memcpy when its stride is 1.
/// FormatError (see check_view) when the view leaves its storage.
void copy_contiguous(const TensorRecord& t, std::span<std::byte> out);

/// The view's elements as a new contiguous buffer (t.nbytes() bytes).
std::vector<std::byte> contiguous_bytes(const TensorRecord& t);

/// A record over `buffer` (from contiguous_bytes(t)): same name, dtype and shape, no strides.
/// The record points into `buffer`, which must outlive it and not be resized.
TensorRecord contiguous_record(const TensorRecord& t, const std::vector<std::byte>& buffer);

}  // namespace xib::io
