// The GGUF reader's private helpers (kernel/src/io only): error construction and little-endian
// loads shared by gguf.cpp, gguf_metadata.cpp and gguf_dequantize.cpp.
#pragma once

#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "xib/error.h"
#include "xib/io/half.h"

namespace xib::io::gguf_detail {

/// "file", "file, key 'k'", "file, tensor 't'", with ", byte N" when an offset is known.
inline std::string where(const std::string& source, std::string_view what_kind = {}, std::string_view name = {},
                         int64_t byte = -1) {
  std::string w = source;
  if (!what_kind.empty()) w += fmt::format(", {} '{}'", what_kind, name);
  if (byte >= 0) w += fmt::format(", byte {}", byte);
  return w;
}

[[noreturn]] inline void fail(std::string where, std::string what, std::string expected, std::string got,
                              std::string hint = {}) {
  throw FormatError({.what = std::move(what),
                     .where = std::move(where),
                     .expected = std::move(expected),
                     .got = std::move(got),
                     .hint = std::move(hint)});
}

template <class T>
T load_le(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // little-endian host (x86-64, aarch64)
  return v;
}

using io::bf16_to_f32;
using io::f16_to_f32;

}  // namespace xib::io::gguf_detail
