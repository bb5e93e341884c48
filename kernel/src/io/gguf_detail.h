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

/// IEEE half → float, exact (subnormals, infinities and NaN included).
inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t bits = 0;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3FFu) << 13);
    }
  } else if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline float bf16_to_f32(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

}  // namespace xib::io::gguf_detail
