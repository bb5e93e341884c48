// The reader's and writer's shared error helper (private to kernel/src/io).
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

#include "xib/error.h"

namespace xib::io::safetensors_detail {

inline std::string where(const std::string& source, std::string_view key) {
  return key.empty() ? source : fmt::format("{}, tensor '{}'", source, key);
}

/// A FormatError located at `source` (and tensor `key`, when given).
[[noreturn]] inline void fail(const std::string& source, std::string_view key, std::string what, std::string expected,
                              std::string got, std::string hint = {}) {
  throw FormatError({.what = std::move(what),
                     .where = where(source, key),
                     .expected = std::move(expected),
                     .got = std::move(got),
                     .hint = std::move(hint)});
}

}  // namespace xib::io::safetensors_detail
