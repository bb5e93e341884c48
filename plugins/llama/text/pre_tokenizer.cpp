#define PCRE2_CODE_UNIT_WIDTH 8
#include "pre_tokenizer.h"

#include <fmt/format.h>
#include <pcre2.h>

#include "xib/error.h"

namespace xib::llama {

struct RegexSplitter::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

namespace {

struct MatchData {
  explicit MatchData(const pcre2_code* code) : data(pcre2_match_data_create_from_pattern(code, nullptr)) {}
  ~MatchData() { pcre2_match_data_free(data); }
  MatchData(const MatchData&) = delete;
  MatchData& operator=(const MatchData&) = delete;
  pcre2_match_data* data;
};

size_t utf8_char_length(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }

}  // namespace

RegexSplitter::RegexSplitter(std::vector<std::string> patterns, std::string source) : patterns_(std::move(patterns)) {
  for (const auto& p : patterns_) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    auto c = std::make_unique<Compiled>();
    c->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(), PCRE2_UTF | PCRE2_UCP, &error, &offset,
                            nullptr);
    if (!c->code) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof message);
      throw FormatError(
          {.what = "a pre-tokenizer regex does not compile",
           .where = source,
           .expected = "a PCRE2 pattern",
           .got = fmt::format("{} (at offset {}: {})", p, offset, reinterpret_cast<const char*>(message))});
    }
    pcre2_jit_compile(c->code, PCRE2_JIT_COMPLETE);  // optional: falls back to the interpreter
    compiled_.push_back(std::move(c));
  }
}

RegexSplitter::RegexSplitter(RegexSplitter&&) noexcept = default;
RegexSplitter& RegexSplitter::operator=(RegexSplitter&&) noexcept = default;
RegexSplitter::~RegexSplitter() = default;

std::vector<std::pair<size_t, size_t>> RegexSplitter::split(std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> pieces;
  if (text.empty()) return pieces;
  pieces.emplace_back(0, text.size());
  for (const auto& c : compiled_) {
    MatchData md(c->code);
    std::vector<std::pair<size_t, size_t>> next;
    next.reserve(pieces.size() * 2);
    for (const auto& [begin, end] : pieces) {
      // The piece is the whole subject: lookarounds do not see past it (as llama.cpp and
      // Hugging Face tokenizers split each piece on its own).
      const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + begin);
      const size_t length = end - begin;
      size_t gap = 0;
      for (size_t pos = 0; pos < length;) {
        const int rc = pcre2_match(c->code, subject, length, pos, PCRE2_NO_UTF_CHECK, md.data, nullptr);
        if (rc < 0) break;  // no more matches (or a match error: the rest stays one piece)
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.data);
        const size_t m0 = ov[0], m1 = ov[1];
        if (m1 == m0) {  // empty match: not a piece; step over one character
          pos = m0 + utf8_char_length(static_cast<unsigned char>(text[begin + m0]));
          continue;
        }
        if (m0 > gap) next.emplace_back(begin + gap, begin + m0);
        next.emplace_back(begin + m0, begin + m1);
        gap = pos = m1;
      }
      if (gap < length) next.emplace_back(begin + gap, end);
    }
    pieces = std::move(next);
  }
  return pieces;
}

}  // namespace xib::llama
