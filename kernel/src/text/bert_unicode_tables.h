// Unicode data for BERT's basic tokenizer, generated from Python's unicodedata by
// tools/gen_bert_unicode_tables.py (bert_unicode_tables.cpp). Sorted; search with binary search.
#pragma once

#include <cstddef>
#include <cstdint>

namespace xib::text::unicode_tables {

struct Range {
  char32_t lo, hi;
};
struct ValuedRange {
  char32_t lo, hi;
  uint8_t value;
};
/// cp → pool[offset, offset + length)
struct Mapping {
  char32_t cp;
  uint16_t offset;
  uint8_t length;
};

extern const char* const unicode_version;
extern const Range control[];  ///< categories C* (Cc, Cf, Cn, Co, Cs)
extern const size_t control_size;
extern const Range punctuation[];  ///< categories P*
extern const size_t punctuation_size;
extern const Range space[];  ///< Zs, Zl, Zp
extern const size_t space_size;
extern const Range nonspacing_mark[];  ///< Mn
extern const size_t nonspacing_mark_size;
extern const Range cased[];  ///< for Final_Sigma: letters with case
extern const size_t cased_size;
extern const Range case_ignorable[];
extern const size_t case_ignorable_size;
extern const ValuedRange combining_class[];  ///< canonical combining class ≠ 0
extern const size_t combining_class_size;
extern const char32_t lower_pool[];
extern const Mapping lower_map[];  ///< Python's str.lower(), where it changes the character
extern const size_t lower_map_size;
extern const char32_t nfd_pool[];
extern const Mapping nfd_map[];  ///< full canonical decomposition (Hangul syllables excluded)
extern const size_t nfd_map_size;

}  // namespace xib::text::unicode_tables
