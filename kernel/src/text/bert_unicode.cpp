#include "bert_unicode.h"

#include <algorithm>
#include <span>

#include "bert_unicode_tables.h"

namespace xib::text::bert {
namespace {

namespace t = unicode_tables;

bool in_ranges(std::span<const t::Range> ranges, char32_t cp) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), cp, [](char32_t c, const t::Range& r) { return c < r.lo; });
  return it != ranges.begin() && cp <= std::prev(it)->hi;
}

const t::Mapping* find_mapping(std::span<const t::Mapping> map, char32_t cp) {
  auto it = std::lower_bound(map.begin(), map.end(), cp, [](const t::Mapping& m, char32_t c) { return m.cp < c; });
  return it != map.end() && it->cp == cp ? &*it : nullptr;
}

uint8_t combining_class(char32_t cp) {
  std::span<const t::ValuedRange> ranges(t::combining_class, t::combining_class_size);
  auto it =
      std::upper_bound(ranges.begin(), ranges.end(), cp, [](char32_t c, const t::ValuedRange& r) { return c < r.lo; });
  return it != ranges.begin() && cp <= std::prev(it)->hi ? std::prev(it)->value : 0;
}

// Hangul syllable decomposition (Unicode §3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kTCount = 28, kNCount = 21 * 28, kSCount = 19 * 21 * 28;

void decompose(char32_t cp, std::u32string& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const char32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
    return;
  }
  if (const auto* m = find_mapping({t::nfd_map, t::nfd_map_size}, cp)) {
    out.append(t::nfd_pool + m->offset, m->length);
  } else {
    out.push_back(cp);
  }
}

bool is_cased(char32_t cp) { return in_ranges({t::cased, t::cased_size}, cp); }
bool is_case_ignorable(char32_t cp) { return in_ranges({t::case_ignorable, t::case_ignorable_size}, cp); }

// Σ at i follows a cased letter and no cased letter follows it (case-ignorables skipped).
bool final_sigma(std::u32string_view s, size_t i) {
  size_t j = i;
  while (j > 0 && is_case_ignorable(s[j - 1])) --j;
  if (j == 0 || !is_cased(s[j - 1])) return false;
  size_t k = i + 1;
  while (k < s.size() && is_case_ignorable(s[k])) ++k;
  return k == s.size() || !is_cased(s[k]);
}

}  // namespace

bool is_whitespace(char32_t cp) {
  if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r') return true;
  return cp >= 0x80 && in_ranges({t::space, t::space_size}, cp);
}

bool is_control(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  return in_ranges({t::control, t::control_size}, cp);
}

bool is_punctuation(char32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
    return true;
  }
  return cp >= 0x80 && in_ranges({t::punctuation, t::punctuation_size}, cp);
}

bool is_chinese_char(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

std::u32string lower(std::u32string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char32_t cp = s[i];
    if (cp < 0x80) {
      out.push_back(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    } else if (cp == 0x3A3 && final_sigma(s, i)) {
      out.push_back(0x3C2);  // Python's Final_Sigma rule: word-final Σ lowers to ς
    } else if (const auto* m = find_mapping({t::lower_map, t::lower_map_size}, cp)) {
      out.append(t::lower_pool + m->offset, m->length);
    } else {
      out.push_back(cp);
    }
  }
  return out;
}

std::u32string strip_accents(std::u32string_view s) {
  std::u32string nfd;
  nfd.reserve(s.size() + 4);
  for (char32_t cp : s) decompose(cp, nfd);
  // Canonical ordering: stable sort of each run of non-starters by combining class.
  for (size_t i = 0; i < nfd.size();) {
    if (combining_class(nfd[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < nfd.size() && combining_class(nfd[j]) != 0) ++j;
    std::stable_sort(nfd.begin() + static_cast<ptrdiff_t>(i), nfd.begin() + static_cast<ptrdiff_t>(j),
                     [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    i = j;
  }
  std::u32string out;
  out.reserve(nfd.size());
  for (char32_t cp : nfd) {
    if (cp < 0x300 || !in_ranges({t::nonspacing_mark, t::nonspacing_mark_size}, cp)) out.push_back(cp);
  }
  return out;
}

}  // namespace xib::text::bert
