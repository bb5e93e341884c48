// Byte-level BPE tokenizer (GPT-2 style: SmolLM2, Llama 3, Qwen2 …), torch-free.
//
// Loads from a Hugging Face tokenizer.json (model.type "BPE") or from GGUF metadata
// (tokenizer.ggml.model "gpt2"). Encoding, as llama.cpp and Hugging Face tokenizers do it:
//   1. special / added tokens written in the text are cut out first (longest first) and
//      become their ids;
//   2. the rest is split by the pre-tokenizer regexes, applied in sequence (each splits every
//      piece of the previous one; the text between matches is kept as pieces too), with PCRE2
//      in UTF + UCP mode (\p{L}, \p{N}, lookaheads such as \s+(?!\S));
//   3. each piece's bytes are mapped to GPT-2's printable byte characters and merged by rank.
// Decoding maps the byte characters back to bytes.
//
// Invalid UTF-8 in the text is not an error: each byte that does not start a valid sequence is
// read as U+FFFD (encoded as its three bytes), as llama.cpp does.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "xib/tokenizer.h"

namespace xib::io {
class GgufFile;
}

namespace xib::llama {

/// A token matched in the raw text before pre-tokenisation.
struct BpeAddedToken {
  std::string text = {};
  int64_t id = 0;
  bool special = true;  ///< control token: left out by decode(skip_special = true)
};

/// Everything a BpeTokenizer is made of; the loaders fill it.
struct BpeModel {
  std::string name = {};                ///< "bpe:SmolLM2"
  std::string source = {};              ///< file, for messages
  std::vector<std::string> vocab = {};  ///< id → piece, in byte-character form ("Ġthe")
  /// In rank order; each side and their concatenation must be in the vocabulary.
  std::vector<std::pair<std::string, std::string>> merges = {};
  std::vector<BpeAddedToken> added = {};
  /// Pre-tokenizer regexes (PCRE2 syntax), applied in sequence.
  std::vector<std::string> split_regexes = {};
  bool ignore_merges = false;  ///< a piece that is itself in the vocabulary is not merged (Llama 3)
  std::optional<int64_t> bos = {}, eos = {}, pad = {}, unk = {};
  bool add_bos = false;  ///< the model's default (tokenizer.ggml.add_bos_token)
};

/// The regexes llama.cpp uses for a tokenizer.ggml.pre value ("gpt2", "smollm", "llama3", …).
/// NotFoundError listing the known ones for anything else.
std::vector<std::string> bpe_pre_tokenizer_regexes(std::string_view pre);

struct BpeEncodeOptions {
  bool add_bos = false;
  bool parse_special = true;  ///< match added tokens in the text (llama.cpp's `special`)
};

class BpeTokenizer final : public Tokenizer {
 public:
  /// FormatError naming the problem (missing model, model type other than BPE, a merge with an
  /// unknown token, unsupported pre-tokenizer, …); IoError when unreadable.
  static BpeTokenizer from_tokenizer_json(const std::filesystem::path& file);
  /// tokenizer.ggml.* metadata. FormatError for tokenizer.ggml.model other than "gpt2" (naming it).
  static BpeTokenizer from_gguf(const io::GgufFile& gguf);
  static BpeTokenizer from_gguf(const std::filesystem::path& file);
  explicit BpeTokenizer(BpeModel model);
  BpeTokenizer(BpeTokenizer&&) noexcept;
  BpeTokenizer& operator=(BpeTokenizer&&) noexcept;
  ~BpeTokenizer() override;

  std::string name() const override;
  int64_t vocab_size() const override;
  /// Added tokens in the text are parsed; BOS first when add_bos and the model has one.
  std::vector<int64_t> encode(std::string_view text, bool add_bos) const override;
  std::vector<int64_t> encode(std::string_view text, const BpeEncodeOptions& options) const;
  /// Bytes of the pieces; special tokens left out when skip_special. Bytes that do not form
  /// valid UTF-8 are kept as they are (a prefix of a multi-byte character, say).
  std::string decode(std::span<const int64_t> ids, bool skip_special) const override;
  std::string piece(int64_t id) const override;
  std::optional<int64_t> bos_id() const override;
  std::optional<int64_t> eos_id() const override;
  std::optional<int64_t> pad_id() const override;
  /// Whether the model adds BOS by default (GGUF tokenizer.ggml.add_bos_token).
  bool add_bos_by_default() const;
  std::optional<int64_t> id_of(std::string_view piece) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// GPT-2's byte ↔ printable character map: byte b → one code point, as UTF-8.
const std::string& byte_to_piece(uint8_t b);
/// The byte a byte character stands for, or nullopt.
std::optional<uint8_t> piece_char_to_byte(char32_t cp);

}  // namespace xib::llama
