// The instruction-aware Q-Former aligner (SPEC "The aligner (per modality)"): encoder LayerNorm
// (eps 1e-5, fp32) → BERT Q-Former over [learned queries; instruction] with cross-attention to
// the encoder tokens every `cross_attention_freq` layers (query positions only) and a separate
// FFN for the query positions → llm_proj. Parameter names: xib/weights/maps.h.
//
//   auto a = xib::aligners::make_qformer({.layers = 6, .hidden = 384, .heads = 12, .ffn = 1536});
//   Tensor out = a->align(tokens, instructions);   // [B, T, D] → [B, Q, d_llm]
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "xib/aligner.h"
#include "xib/aligners/aligner_init.h"
#include "xib/config.h"
#include "xib/tensor.h"
#include "xib/weights/maps.h"
#include "xib/weights/weight_map.h"

namespace xib::text {
class WordPieceTokenizer;
}

namespace xib::aligners {

/// `aligner: {type: qformer, …}`. Defaults: SPEC's BERT-base Q-Former on EVA-CLIP for Vicuna 7B.
/// `modality`, `encoder_width` and `llm_width` come from the AlignerContext (the model), never
/// from the recipe: fields() lists the recipe keys only.
struct QFormerOptions {
  std::string modality = {};  ///< context: names this aligner in messages and LAVIS checkpoints
  int64_t layers = 12;
  int64_t hidden = 768;
  int64_t heads = 12;
  int64_t ffn = 3072;
  int64_t queries = 32;
  int64_t cross_attention_freq = 2;
  int64_t encoder_width = 1408;  ///< context: width of the encoder tokens
  int64_t vocab = 30523;         ///< bert-base 30522 + [DEC]
  int64_t max_positions = 512;
  int64_t llm_width = 4096;        ///< context: d_llm
  double dropout = 0.1;            ///< hidden-state dropout (training mode)
  double attention_dropout = 0.1;  ///< dropout on attention probabilities (training mode)
  double encoder_ln_eps = 1e-5;
  double norm_eps = 1e-12;
  int64_t max_text_tokens = 128;  ///< instruction tokens kept ([CLS]/[SEP] included), left truncation
  std::optional<std::filesystem::path> vocab_file =
      {};            ///< WordPiece vocab.txt (default: the model cache's MiniLM one)
  int64_t seed = 0;  ///< initialisation and dropout
  AlignerInit init = {};

  template <class V>
  void fields(V& v) {
    v("layers", layers, "BERT layers");
    v("hidden", hidden, "hidden width");
    v("heads", heads, "attention heads");
    v("ffn", ffn, "FFN inner width");
    v("queries", queries, "learned query tokens = LLM tokens per input");
    v("cross_attention_freq", cross_attention_freq, "cross-attention in layers i % freq == 0");
    v("vocab", vocab, "word-embedding rows (30522 + [DEC])");
    v("max_positions", max_positions, "position-embedding rows");
    v("dropout", dropout, "hidden dropout in training mode");
    v("attention_dropout", attention_dropout, "attention-probability dropout in training mode");
    v("encoder_ln_eps", encoder_ln_eps, "eps of the encoder LayerNorm");
    v("norm_eps", norm_eps, "eps of the Q-Former LayerNorms");
    v("max_text_tokens", max_text_tokens, "instruction length limit (left truncation)");
    v("vocab_file", vocab_file, "WordPiece vocab.txt for the instructions");
    v("seed", seed, "seed of the initialisation and of dropout");
    v("init", init, "checkpoint to start from");
  }
  void validate(Validator& v) const;
  /// These options with the model's facts filled in.
  QFormerOptions with(const AlignerContext& context) const;
  /// The sizes of the parameter table (xib/weights/maps.h).
  weights::maps::QFormerShape shape() const;
};

class QFormerAligner final : public Aligner {
 public:
  explicit QFormerAligner(QFormerOptions options);
  ~QFormerAligner() override;
  QFormerAligner(const QFormerAligner&) = delete;
  QFormerAligner& operator=(const QFormerAligner&) = delete;

  std::string type() const override { return "qformer"; }
  int64_t num_queries() const override;
  int64_t input_width() const override;
  int64_t output_width() const override;
  bool uses_instruction() const override { return true; }

  /** tokens [B, T, D] + B instruction strings (WordPiece, [CLS] … [SEP], left-truncated) → [B, Q, d_llm] */
  Tensor align(const Tensor& tokens, std::span<const std::string> instructions) override;
  /** tokens [B, T, D], ids [B, L] int64, mask [B, L] (1 token / 0 padding; L may be 0) → [B, Q, d_llm] */
  Tensor align_ids(const Tensor& tokens, const Tensor& ids, const Tensor& mask);
  /** The Q-Former alone: tokens [B, T, D] (after the encoder LayerNorm) → [B, Q, H] */
  Tensor qformer(const Tensor& normed_tokens, const Tensor& ids, const Tensor& mask);

  std::vector<std::pair<std::string, Tensor>> named_parameters() const override;
  void set_training(bool on) override;
  Tensor dropout_rng_state() const override;
  void set_dropout_rng_state(const Tensor& state) override;
  bool training() const;
  /// Restart the dropout stream (same seed → same masks).
  void seed_dropout(uint64_t seed);
  /// The WordPiece tokenizer used by align() (loaded on first use unless set).
  void set_tokenizer(std::shared_ptr<const text::WordPieceTokenizer> tokenizer);
  std::shared_ptr<const text::WordPieceTokenizer> tokenizer();

  /// Load weights through the map of `init.format` (ConfigError/WeightMapError listing every
  /// problem). Returns the plan (loaded, fresh, skipped) for reporting.
  weights::WeightPlan load(const AlignerInit& init);

  const QFormerOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Validates (ConfigError) and initialises; loads options.init when it names a path.
std::unique_ptr<QFormerAligner> make_qformer(const QFormerOptions& options);

}  // namespace xib::aligners
