// UTF-8 ↔ code points for the tokenizers. Decoding is lenient: a byte that does not start a
// valid, shortest-form sequence (or a surrogate / > U+10FFFF) reads as U+FFFD and consumes one byte.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace xib::text {

inline constexpr char32_t kReplacementChar = 0xFFFD;

/// The code point at s[pos], advancing pos. `valid` (if given) says whether it was well formed.
char32_t next_code_point(std::string_view s, size_t& pos, bool* valid = nullptr);
/// Length in bytes of the valid sequence at s[pos], or 0 when it is not valid UTF-8.
size_t valid_sequence_length(std::string_view s, size_t pos);
std::u32string decode_utf8(std::string_view s);
void append_utf8(std::string& out, char32_t cp);
std::string encode_utf8(std::u32string_view s);
bool is_valid_utf8(std::string_view s);

}  // namespace xib::text
