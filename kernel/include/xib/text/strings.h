// Small string helpers every part may need, one copy each.
#pragma once

#include <string>
#include <string_view>

namespace xib::text {

/// Every non-overlapping occurrence of `from`, left to right, replaced by `to` (Python's
/// str.replace); the replacements themselves are not searched again. An empty `from` changes
/// nothing.
inline std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  if (from.empty()) return s;
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

/// '0' … '9' (not the locale's digits).
inline bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace xib::text
