// Regex pre-tokenisation with PCRE2 (UTF + UCP): a sequence of patterns, each splitting every
// piece the previous one produced into its matches and the text between them.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xib::llama {

class RegexSplitter {
 public:
  /// FormatError naming the pattern and PCRE2's message when one does not compile.
  RegexSplitter(std::vector<std::string> patterns, std::string source);
  RegexSplitter(RegexSplitter&&) noexcept;
  RegexSplitter& operator=(RegexSplitter&&) noexcept;
  ~RegexSplitter();

  /// Pieces of `text` (valid UTF-8) as [begin, end) byte ranges, in order, covering it.
  std::vector<std::pair<size_t, size_t>> split(std::string_view text) const;
  const std::vector<std::string>& patterns() const { return patterns_; }

 private:
  struct Compiled;
  std::vector<std::string> patterns_;
  std::vector<std::unique_ptr<Compiled>> compiled_;
};

}  // namespace xib::llama
