// SentencePiece tokenizer (LLaMA 1/2, Vicuna, TinyLlama …), torch-free: SentencePiece BPE
// (sp_model.h; not libsentencepiece, which cannot share a process with LibTorch's protobuf) with
// the token handling of transformers' slow LlamaTokenizer around it.
//
// Reference: transformers 4.33.2 LlamaTokenizer (use_fast=False), the class the upstream
// X-InstructBLIP code (LAVIS) loads Vicuna with; tools/fixtures/llama/make_sp_fixture.py records
// its ids and decodes. What it does, and so what this class does:
//   1. special tokens (bos/eos/unk/pad, from special_tokens_map.json over tokenizer_config.json)
//      and added tokens (added_tokens.json, added_tokens_decoder) written in the text are cut out
//      first (leftmost, then longest match) and become their ids; a token may eat the whitespace
//      beside it (lstrip/rstrip; plain-string special tokens, as LAVIS sets them, strip both);
//   2. each remaining piece goes through SentencePiece. legacy = true (the default when
//      tokenizer_config.json has no "legacy", as Vicuna v1.1's has none): the model's own
//      normaliser, so every piece gets the dummy "▁" prefix, also the one after a special token.
//      legacy = false (Vicuna v1.5): the model is loaded with add_dummy_prefix off, "▁" is put
//      before the whole text only, and a piece starting with a space is encoded after the unk
//      token's text, whose pieces are then dropped (transformers' trick to keep that space);
//   3. BOS first when asked and add_bos_token; EOS last when add_eos_token.
// Decoding: special tokens are written as their text (legacy: a space before one that follows a
// normal token), added tokens are joined to their neighbours with spaces
// (spaces_between_special_tokens), everything else is SentencePiece's decoding, with the first
// piece's leading "▁" removed. transformers' fast tokenizer differs from the slow one in a few
// places (decoding a leading space, tokens next to special tokens, see the fixture script's
// output); this class follows the slow one.
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

class SpModel;

/// A token cut out of the text before SentencePiece runs (special and added tokens).
struct SpAddedToken {
  std::string text = {};
  int64_t id = 0;
  bool special = true;  ///< left out by decode(skip_special = true)
  bool lstrip = false;  ///< eats the whitespace on its left
  bool rstrip = false;  ///< eats the whitespace on its right
  bool added = false;   ///< an added token (not in tokenizer.model): decoded apart, joined by spaces
};

/// How the tokenizer treats the model's text: what tokenizer_config.json and its companions say.
struct SpSettings {
  bool legacy = true;
  bool add_bos = true;
  bool add_eos = false;
  bool spaces_between_special_tokens = true;  ///< transformers 4.33's decode default
  std::string bos = "<s>", eos = "</s>", unk = "<unk>";
  std::optional<std::string> pad = {};
};

class SpTokenizer final : public Tokenizer {
 public:
  /// `dir`/tokenizer.model with tokenizer_config.json, special_tokens_map.json, added_tokens.json
  /// (all optional). `legacy` overrides tokenizer_config.json's. FormatError for a file that does
  /// not parse, NotFoundError without tokenizer.model.
  static SpTokenizer from_hf_folder(const std::filesystem::path& dir, std::optional<bool> legacy = {});
  /// A tokenizer.model file with the given settings; `added` are added tokens (ids past the model).
  static SpTokenizer from_model_file(const std::filesystem::path& file, const SpSettings& settings = {},
                                     std::vector<SpAddedToken> added = {});
  /// From GGUF metadata with tokenizer.ggml.model == "llama" (tokens, scores, token types: a
  /// SentencePiece BPE model with byte fallback is rebuilt from them), llama.cpp's way: the space
  /// prefix as tokenizer.ggml.add_space_prefix says (default on), control tokens cut out of the text.
  static SpTokenizer from_gguf(const io::GgufFile& file);
  /// From a serialized SentencePiece ModelProto.
  static SpTokenizer from_serialized(std::string_view proto, const SpSettings& settings,
                                     std::vector<SpAddedToken> added, std::string name, std::string source);

  SpTokenizer(SpTokenizer&&) noexcept;
  SpTokenizer& operator=(SpTokenizer&&) noexcept;
  ~SpTokenizer() override;

  /// What the upstream X-InstructBLIP code does to the Vicuna tokenizer after loading it
  /// (LAVIS blip2_vicuna_xinstruct.py): add_special_tokens pad "[PAD]" (a new id, the vocabulary
  /// size: 32000 for Vicuna, hence the embeddings resized to 32001), then bos = eos = unk = "</s>".
  /// These are plain strings, so every special token found in text eats the whitespace around
  /// it, and "<s>"/"<unk>" stay cut out of text but are no longer special. BOS becomes id 2.
  void apply_upstream_vicuna_setup();

  std::string name() const override { return name_; }
  int64_t vocab_size() const override;
  std::vector<int64_t> encode(std::string_view text, bool add_bos) const override;
  std::string decode(std::span<const int64_t> ids, bool skip_special) const override;
  std::string piece(int64_t id) const override;
  std::optional<int64_t> bos_id() const override { return bos_id_; }
  std::optional<int64_t> eos_id() const override { return eos_id_; }
  std::optional<int64_t> pad_id() const override { return pad_id_; }
  std::optional<int64_t> unk_id() const { return unk_id_; }

  /// The pieces encode() maps to ids (special tokens as their text), before BOS/EOS.
  std::vector<std::string> tokenize(std::string_view text) const;
  /// The id of a piece or added token; the model's unk id for anything else (as transformers).
  int64_t token_to_id(std::string_view token) const;
  /// Number of pieces in tokenizer.model (without added tokens).
  int64_t model_size() const;
  const SpSettings& settings() const { return settings_; }
  const std::vector<SpAddedToken>& added_tokens() const { return added_; }

 private:
  SpTokenizer() = default;
  void finish();
  const SpAddedToken* find_added(std::string_view text) const;
  std::vector<std::string> sp_encode(std::string_view text) const;
  std::string sp_decode(std::vector<std::string> pieces) const;
  std::vector<std::string> tokenize_piece(std::string_view text) const;
  std::string tokens_to_string(std::vector<std::string> tokens) const;
  bool is_special_text(std::string_view token) const;

  std::unique_ptr<SpModel> sp_;
  SpSettings settings_;
  std::vector<SpAddedToken> added_;  // every token cut out of text
  std::vector<std::string> special_texts_;
  std::vector<int64_t> special_ids_;
  bool strip_all_ = false;  // special tokens given as plain strings (LAVIS): strip both sides
  std::string name_, source_;
  std::optional<int64_t> bos_id_, eos_id_, pad_id_, unk_id_;
  size_t unk_pieces_ = 0;  // pieces of the unk token's text (legacy = false)
};

/// True when `dir` holds a SentencePiece tokenizer (tokenizer.model).
bool has_sp_model(const std::filesystem::path& dir);

}  // namespace xib::llama
