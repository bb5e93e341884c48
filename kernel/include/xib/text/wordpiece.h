// BERT WordPiece tokenizer (uncased bert-base, as the Q-Former aligners use it), torch-free.
//
// Matches transformers' BertTokenizer: the basic tokenizer (drop NUL, U+FFFD and control
// characters; whitespace → one space; spaces around CJK ideographs; lower-case and strip accents
// via NFD; split on punctuation), then greedy longest-match-first WordPiece with "##" pieces; a
// word longer than max_chars_per_word becomes [UNK]. Special tokens written in the text
// ("[SEP]", "[DEC]", … exactly, case-sensitive) stay one token, as transformers' added tokens do.
//
// Invalid UTF-8 in the text is not an error: every byte that does not start a valid sequence is
// read as U+FFFD, which BERT's cleaning drops (Python would have refused to decode it at all).
//
// The Q-Former side (LAVIS init_tokenizer): "[DEC]" is added after the vocabulary as the BOS
// token (id 30522 for bert-base), and instructions are encoded as [CLS] … [SEP] with at most
// 128 tokens, truncated on the LEFT (the end of the text is kept), right-padded per batch.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "xib/config.h"
#include "xib/tokenizer.h"

namespace xib::text {

struct WordPieceOptions {
  bool lower_case = true;              ///< uncased BERT: lower-case and strip accents
  bool tokenize_chinese_chars = true;  ///< spaces around CJK ideographs
  bool add_dec_token = true;           ///< append "[DEC]" as the BOS token (LAVIS); id = vocab size
  int64_t max_chars_per_word = 100;    ///< longer words become [UNK]

  template <class V>
  void fields(V& v) {
    v("lower_case", lower_case, "lower-case and strip accents (uncased BERT)");
    v("tokenize_chinese_chars", tokenize_chinese_chars, "split around CJK ideographs");
    v("add_dec_token", add_dec_token, "add [DEC] after the vocabulary as BOS (LAVIS init_tokenizer)");
    v("max_chars_per_word", max_chars_per_word, "words longer than this become [UNK]");
  }
  void validate(Validator& v) const {
    v.require(max_chars_per_word > 0, "max_chars_per_word", "a positive number", max_chars_per_word);
  }
};

enum class TruncationSide { left, right };

/// How encode_batch() frames and cuts each text.
struct WordPieceEncodeOptions {
  int64_t max_length = 128;                          ///< tokens per row, [CLS] and [SEP] included
  TruncationSide truncation = TruncationSide::left;  ///< left: keep the end of the text (LAVIS)
  bool add_special = true;                           ///< [CLS] … [SEP]

  void validate(Validator& v) const {
    v.require(max_length >= (add_special ? 2 : 1), "max_length",
              add_special ? "at least 2 ([CLS] and [SEP])" : "at least 1", max_length);
  }
};

/// A right-padded batch, row-major: ids[b * length + t]. Torch-free; wrap with from_blob.
struct TokenBatch {
  int64_t batch = 0;
  int64_t length = 0;                   ///< the longest row (≤ max_length)
  std::vector<int64_t> ids;             ///< /** [batch, length] */ padded with [PAD]
  std::vector<int64_t> attention_mask;  ///< /** [batch, length] */ 1 = token, 0 = padding

  int64_t at(int64_t b, int64_t t) const { return ids[static_cast<size_t>(b * length + t)]; }
};

class WordPieceTokenizer final : public Tokenizer {
 public:
  /// vocab.txt: one piece per line, id = line number. IoError when unreadable; FormatError when
  /// empty or lacking [UNK], [CLS], [SEP] or [PAD], or with a duplicate piece.
  static WordPieceTokenizer from_vocab_file(const std::filesystem::path& vocab_txt, WordPieceOptions options = {});
  /// The same from pieces in id order; `source` names them in messages.
  WordPieceTokenizer(std::vector<std::string> vocab, WordPieceOptions options = {}, std::string source = "vocab");

  std::string name() const override { return "wordpiece:bert"; }
  /// The vocabulary plus [DEC] when added (30523 for bert-base).
  int64_t vocab_size() const override { return static_cast<int64_t>(pieces_.size()); }
  /// Text → ids; with add_bos, framed as [CLS] … [SEP] (transformers' add_special_tokens). No
  /// length limit here; encode_batch() truncates.
  std::vector<int64_t> encode(std::string_view text, bool add_bos) const override;
  /// Ids → text as transformers' decode does: pieces joined by spaces, " ##" removed.
  std::string decode(std::span<const int64_t> ids, bool skip_special) const override;
  std::string piece(int64_t id) const override;

  /// [DEC] when added (LAVIS sets it as bos_token), else none.
  std::optional<int64_t> bos_id() const override { return dec_; }
  /// BERT has no EOS token (transformers: eos_token_id is None); sequences end with sep_id().
  std::optional<int64_t> eos_id() const override { return std::nullopt; }
  std::optional<int64_t> pad_id() const override { return pad_; }
  int64_t cls_id() const { return cls_; }
  int64_t sep_id() const { return sep_; }
  int64_t unk_id() const { return unk_; }
  std::optional<int64_t> id_of(std::string_view piece) const;

  /// The pieces of a text, without [CLS]/[SEP] (transformers' tokenize()).
  std::vector<std::string> tokenize(std::string_view text) const;
  /// One text: [CLS] … [SEP] cut to options.max_length. ConfigError on bad options.
  std::vector<int64_t> encode(std::string_view text, const WordPieceEncodeOptions& options) const;
  /// Texts → ids and attention mask, right-padded to the longest row.
  TokenBatch encode_batch(std::span<const std::string> texts, const WordPieceEncodeOptions& options = {}) const;

  const WordPieceOptions& options() const { return options_; }

 private:
  void wordpiece(std::string_view word, std::vector<int64_t>& out) const;
  void encode_plain(std::string_view text, std::vector<int64_t>& out) const;

  WordPieceOptions options_;
  std::string source_;
  std::vector<std::string> pieces_;
  std::unordered_map<std::string, int64_t> ids_;
  std::vector<std::pair<std::string, int64_t>> specials_;  ///< matched in text, longest first
  int64_t unk_ = 0, cls_ = 0, sep_ = 0, pad_ = 0;
  std::optional<int64_t> dec_;
  std::optional<int64_t> mask_;
};

}  // namespace xib::text
