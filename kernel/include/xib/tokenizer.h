// Tokenizer: text ↔ token ids. Torch-free. Implemented by the LLM plugins (byte-level BPE,
// SentencePiece) and by the aligners' BERT WordPiece tokenizer.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace xib {

class Tokenizer {
 public:
  static constexpr const char* kKind = "tokenizer";
  virtual ~Tokenizer() = default;

  /// A short identifier of the tokenizer and its vocabulary ("bpe:SmolLM2", "wordpiece:bert").
  virtual std::string name() const = 0;
  /// Number of ids, special tokens included.
  virtual int64_t vocab_size() const = 0;

  /// Text → ids, with the tokenizer's BOS first when add_bos is true and it has one.
  virtual std::vector<int64_t> encode(std::string_view text, bool add_bos) const = 0;
  /// Ids → text; special tokens are left out when skip_special is true.
  virtual std::string decode(std::span<const int64_t> ids, bool skip_special) const = 0;
  /// The piece one id stands for, as stored in the vocabulary.
  virtual std::string piece(int64_t id) const = 0;

  virtual std::optional<int64_t> bos_id() const = 0;
  virtual std::optional<int64_t> eos_id() const = 0;
  virtual std::optional<int64_t> pad_id() const = 0;
};

}  // namespace xib
