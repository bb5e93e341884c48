// A SentencePiece BPE model (tokenizer.model) read and run without libsentencepiece, as
// llama.cpp does. Why not the library: Debian's libsentencepiece.so.0 carries its own protobuf
// 3.14 with exported symbols; in a process that also loads LibTorch's libprotobuf 3.21 it aborts
// at load time ("compiled against version 3.14.0 … installed version 3.21.12") or crashes in
// protobuf's initialisers. Torch-free.
//
// What is implemented (sentencepiece's bpe_model.cc / normalizer.cc / Decode):
//  - ModelProto parsing: pieces (text, score, type), trainer_spec (model_type, byte_fallback,
//    unk_id), normalizer_spec (add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces);
//  - normalisation without rules (LLaMA's "identity"): extra whitespace removed when asked, "▁"
//    before a non-empty text when add_dummy_prefix, spaces escaped to "▁";
//  - BPE: characters (user-defined pieces matched first, longest), then repeatedly the adjacent
//    pair whose concatenation is a piece with the highest score (leftmost on ties); unused pieces
//    are split back; a piece not in the vocabulary becomes its bytes (<0xXX>) with byte_fallback,
//    else unk;
//  - decoding: control pieces dropped, unk as " ⁇ ", byte pieces joined into UTF-8 (U+FFFD for
//    invalid bytes), "▁" as a space, the first piece's "▁" removed when add_dummy_prefix.
// Not implemented (FormatError): unigram/word/char models, normalisation rules
// (precompiled_charsmap), treat_whitespace_as_suffix.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace xib::llama {

/// SentencePiece piece types (sentencepiece_model.proto; GGUF token types use the same values).
enum class SpPieceType : int { normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5, byte = 6 };

struct SpPiece {
  std::string text = {};
  float score = 0.0f;
  SpPieceType type = SpPieceType::normal;
};

class SpModel {
 public:
  /// From a serialized ModelProto. FormatError (naming `source`) for a malformed or unsupported one.
  static SpModel from_proto(std::string_view proto, const std::string& source);
  /// From pieces (GGUF metadata): a BPE model with the given flags.
  static SpModel from_pieces(std::vector<SpPiece> pieces, bool byte_fallback, bool add_dummy_prefix,
                             const std::string& source);

  int64_t size() const { return static_cast<int64_t>(pieces_.size()); }
  int64_t unk_id() const { return unk_id_; }
  /// The piece's id; unk_id() for text that is no piece.
  int64_t piece_to_id(std::string_view piece) const;
  const std::string& id_to_piece(int64_t id) const { return pieces_.at(static_cast<size_t>(id)).text; }
  SpPieceType type(int64_t id) const { return pieces_.at(static_cast<size_t>(id)).type; }
  bool add_dummy_prefix() const { return add_dummy_prefix_; }
  void set_add_dummy_prefix(bool on) { add_dummy_prefix_ = on; }

  /// Text → pieces (as text; bytes as "<0xXX>").
  std::vector<std::string> encode(std::string_view text) const;
  /// Pieces → text (pieces that are not in the vocabulary are copied, "▁" as space).
  std::string decode(const std::vector<std::string>& pieces) const;

 private:
  void finish(const std::string& source);
  std::string normalize(std::string_view text) const;

  std::vector<SpPiece> pieces_;
  std::unordered_map<std::string, int64_t> ids_;        // every piece
  std::unordered_map<std::string, int64_t> mergeable_;  // normal, user-defined, unused
  std::vector<std::string> user_defined_;
  int64_t unk_id_ = 0;
  int64_t byte_ids_[256] = {};
  bool byte_fallback_ = false;
  bool add_dummy_prefix_ = true;
  bool remove_extra_whitespaces_ = true;
  bool escape_whitespaces_ = true;
};

}  // namespace xib::llama
