// The linear-projection aligner (upstream `projection_only`, the paper's ablation): encoder
// LayerNorm → mean over tokens → projection Linear(d_enc → Q·h) → reshape [Q, h] → llm_proj
// Linear(h → d_llm). No instruction input. Parameters: ln.*, projection.*, llm_proj.*.
#pragma once

#include <cstdint>
#include <filesystem>
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
#include "xib/weights/weight_map.h"

namespace xib::aligners {

/// `aligner: {type: linear, …}`. Keys shared with the Q-Former keep their meaning, so a recipe
/// swaps `type:` only (Q-Former-only keys are accepted and ignored, see docs/recipes.md).
struct LinearOptions {
  std::string type = "linear";
  std::string modality = "image";
  int64_t queries = 32;
  int64_t hidden = 768;
  int64_t encoder_width = 1408;
  int64_t llm_width = 4096;
  double encoder_ln_eps = 1e-5;
  int64_t seed = 0;
  AlignerInit init = {};
  /// Q-Former-only keys, accepted so that `type:` alone swaps the aligner; unused here.
  struct Ignored {
    std::optional<int64_t> layers = {}, heads = {}, ffn = {}, cross_attention_freq = {}, vocab = {};
    std::optional<int64_t> max_positions = {}, max_text_tokens = {};
    std::optional<double> dropout = {}, attention_dropout = {}, norm_eps = {};
    std::optional<std::filesystem::path> vocab_file = {};
  } ignored = {};

  template <class V>
  void fields(V& v) {
    v("type", type, "linear");
    v("modality", modality, "the modality this aligner serves (LAVIS prefix)");
    v("queries", queries, "LLM tokens per input");
    v("hidden", hidden, "width of each token before llm_proj");
    v("encoder_width", encoder_width, "width of the encoder tokens");
    v("llm_width", llm_width, "d_llm: width of the output tokens");
    v("encoder_ln_eps", encoder_ln_eps, "eps of the encoder LayerNorm");
    v("seed", seed, "seed of the initialisation");
    v("init", init, "checkpoint to start from");
    const char* unused = "Q-Former only: ignored by the linear aligner";
    v("layers", ignored.layers, unused);
    v("heads", ignored.heads, unused);
    v("ffn", ignored.ffn, unused);
    v("cross_attention_freq", ignored.cross_attention_freq, unused);
    v("vocab", ignored.vocab, unused);
    v("max_positions", ignored.max_positions, unused);
    v("max_text_tokens", ignored.max_text_tokens, unused);
    v("dropout", ignored.dropout, unused);
    v("attention_dropout", ignored.attention_dropout, unused);
    v("norm_eps", ignored.norm_eps, unused);
    v("vocab_file", ignored.vocab_file, unused);
  }
  void validate(Validator& v) const;
};

class LinearAligner final : public Aligner {
 public:
  explicit LinearAligner(LinearOptions options);
  ~LinearAligner() override;
  LinearAligner(const LinearAligner&) = delete;
  LinearAligner& operator=(const LinearAligner&) = delete;

  std::string type() const override { return "linear"; }
  int64_t num_queries() const override;
  int64_t input_width() const override;
  int64_t output_width() const override;
  bool uses_instruction() const override { return false; }

  /** tokens [B, T, D] → [B, Q, d_llm]; the instructions are ignored (any count) */
  Tensor align(const Tensor& tokens, std::span<const std::string> instructions) override;
  std::vector<std::pair<std::string, Tensor>> named_parameters() const override;
  void set_training(bool on) override;

  weights::WeightPlan load(const AlignerInit& init);
  const LinearOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::unique_ptr<LinearAligner> make_linear(const LinearOptions& options);

}  // namespace xib::aligners
