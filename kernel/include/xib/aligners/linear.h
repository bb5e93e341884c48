// The linear-projection aligner (upstream `projection_only`, the paper's ablation): encoder
// LayerNorm → mean over tokens → projection Linear(d_enc → Q·h) → reshape [Q, h] → llm_proj
// Linear(h → d_llm). No instruction input. Parameters: ln.*, projection.*, llm_proj.*.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
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

/// `aligner: {type: linear, …}`. `modality`, `encoder_width` and `llm_width` come from the
/// AlignerContext (the model), never from the recipe. Keys of other aligner types (the
/// Q-Former's `layers`, …) are accepted by make_aligner() and reported as unused, so a recipe
/// swaps `type:` only.
struct LinearOptions {
  std::string modality = {};  ///< context: names this aligner in messages and LAVIS checkpoints
  int64_t queries = 32;
  int64_t hidden = 768;
  int64_t encoder_width = 1408;  ///< context
  int64_t llm_width = 4096;      ///< context
  double encoder_ln_eps = 1e-5;
  int64_t seed = 0;
  AlignerInit init = {};

  template <class V>
  void fields(V& v) {
    v("queries", queries, "LLM tokens per input");
    v("hidden", hidden, "width of each token before llm_proj");
    v("encoder_ln_eps", encoder_ln_eps, "eps of the encoder LayerNorm");
    v("seed", seed, "seed of the initialisation");
    v("init", init, "checkpoint to start from (a Q-Former-only source is skipped: fresh start)");
  }
  void validate(Validator& v) const;
  /// These options with the model's facts filled in.
  LinearOptions with(const AlignerContext& context) const;
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
