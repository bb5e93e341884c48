// The character classes and normalisation of BERT's basic tokenizer, as transformers' Python
// BertTokenizer computes them with unicodedata (tables: bert_unicode_tables.cpp).
#pragma once

#include <string>

namespace xib::text::bert {

/// ' ', \t, \n, \r and the separators (Zs; Zl and Zp, which Python's str.split() splits on).
bool is_whitespace(char32_t cp);
/// Categories C* except \t, \n, \r.
bool is_control(char32_t cp);
/// ASCII non-alphanumerics and categories P*.
bool is_punctuation(char32_t cp);
/// The CJK ideograph blocks BERT surrounds with spaces.
bool is_chinese_char(char32_t cp);
/// Python's str.lower() of the code points.
std::u32string lower(std::u32string_view s);
/// NFD, then nonspacing marks (Mn) removed (BasicTokenizer._run_strip_accents).
std::u32string strip_accents(std::u32string_view s);

}  // namespace xib::text::bert
