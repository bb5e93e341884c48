#include "xib/io/strided_copy.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>

#include "xib/error.h"

namespace xib::io {

namespace {

std::string view_text(const TensorRecord& t) {
  return fmt::format("shape [{}], strides [{}], offset {}", fmt::join(t.shape, ", "), fmt::join(t.strides, ", "),
                     t.storage_offset);
}

[[noreturn]] void bad_view(const TensorRecord& t, const std::string& what, const std::string& expected) {
  throw FormatError(
      {.what = fmt::format("tensor '{}': {}", t.name, what),
       .where = t.name,
       .expected = expected,
       .got = fmt::format("{} over {} storage bytes of {}", view_text(t), t.storage_bytes, dtype_name(t.dtype))});
}

}  // namespace

void check_view(const TensorRecord& t) {
  if (!t.strides.empty() && t.strides.size() != t.shape.size())
    bad_view(t, "strides do not match the shape", "one stride per dimension");
  if (t.storage_offset < 0) bad_view(t, "negative storage offset", "an offset ≥ 0");
  const auto esize = static_cast<uint64_t>(dtype_size(t.dtype));
  // Highest element index the view touches: offset + Σ (size-1)·stride.
  uint64_t last = static_cast<uint64_t>(t.storage_offset);
  uint64_t numel = 1, contiguous_stride = 1;
  for (size_t i = t.shape.size(); i-- > 0;) {
    const int64_t size = t.shape[i];
    const int64_t stride = t.strides.empty() ? static_cast<int64_t>(contiguous_stride) : t.strides[i];
    if (size < 0) bad_view(t, "negative size", "sizes ≥ 0");
    if (stride < 0) bad_view(t, "negative stride", "strides ≥ 0");
    if (size == 0) return;  // no elements: nothing to read
    uint64_t span = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(size - 1), static_cast<uint64_t>(stride), &span) ||
        __builtin_add_overflow(last, span, &last) ||
        __builtin_mul_overflow(numel, static_cast<uint64_t>(size), &numel) ||
        __builtin_mul_overflow(contiguous_stride, static_cast<uint64_t>(size), &contiguous_stride))
      bad_view(t, "view size overflows", "a view whose byte range fits in 64 bits");
  }
  uint64_t end = 0;
  if (__builtin_add_overflow(last, 1, &end) || __builtin_mul_overflow(end, esize, &end) || end > t.storage_bytes ||
      t.data == nullptr)
    bad_view(t, "view reaches past its storage", fmt::format("elements within {} storage bytes", t.storage_bytes));
}

void copy_contiguous(const TensorRecord& t, std::span<std::byte> out) {
  check_view(t);
  const size_t esize = dtype_size(t.dtype);
  const int64_t n = t.numel();
  if (out.size() != static_cast<size_t>(n) * esize)
    throw ShapeError({.what = fmt::format("tensor '{}': output buffer has the wrong size", t.name),
                      .expected = fmt::format("{} bytes", static_cast<size_t>(n) * esize),
                      .got = fmt::format("{} bytes", out.size())});
  if (n == 0) return;
  const std::byte* base = t.data + static_cast<size_t>(t.storage_offset) * esize;
  if (t.contiguous()) {
    std::memcpy(out.data(), base, out.size());
    return;
  }
  const size_t dims = t.shape.size();  // ≥ 1: a 0-d tensor is contiguous
  const int64_t inner = t.shape[dims - 1];
  const int64_t inner_stride = t.strides[dims - 1];
  std::vector<int64_t> idx(dims - 1, 0);
  std::byte* dst = out.data();
  for (int64_t row = 0, rows = n / inner; row < rows; ++row) {
    int64_t off = 0;
    for (size_t d = 0; d + 1 < dims; ++d) off += idx[d] * t.strides[d];
    const std::byte* src = base + static_cast<size_t>(off) * esize;
    if (inner_stride == 1) {
      std::memcpy(dst, src, static_cast<size_t>(inner) * esize);
      dst += static_cast<size_t>(inner) * esize;
    } else {
      for (int64_t e = 0; e < inner; ++e, dst += esize)
        std::memcpy(dst, src + static_cast<size_t>(e * inner_stride) * esize, esize);
    }
    for (size_t d = dims - 1; d-- > 0;) {
      if (++idx[d] < t.shape[d]) break;
      idx[d] = 0;
    }
  }
}

std::vector<std::byte> contiguous_bytes(const TensorRecord& t) {
  check_view(t);
  std::vector<std::byte> out(t.nbytes());
  copy_contiguous(t, out);
  return out;
}

TensorRecord contiguous_record(const TensorRecord& t, const std::vector<std::byte>& buffer) {
  return {.name = t.name,
          .dtype = t.dtype,
          .shape = t.shape,
          .strides = {},
          .storage_offset = 0,
          .data = buffer.data(),
          .storage_bytes = buffer.size()};
}

}  // namespace xib::io
