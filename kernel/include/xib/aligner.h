// Aligner: the trainable bridge from one modality's encoder tokens to the LLM's input space —
// the instruction-aware Q-Former, or the linear-projection ablation. Each modality owns its
// own instance (its own weights); the recipe key `aligner.type` chooses the implementation.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "xib/config.h"
#include "xib/tensor.h"

namespace xib {

class Aligner {
 public:
  static constexpr const char* kKind = "aligner";
  virtual ~Aligner() = default;

  /// "qformer" or "linear" (or a researcher's own type).
  virtual std::string type() const = 0;
  /// Q: LLM tokens produced per input (per frame/segment for sequence modalities).
  virtual int64_t num_queries() const = 0;
  /// Encoder width D this aligner accepts.
  virtual int64_t input_width() const = 0;
  /// d_llm: width of each output token.
  virtual int64_t output_width() const = 0;
  /// Whether the instruction text conditions the output (Q-Former yes, linear no).
  virtual bool uses_instruction() const = 0;

  /** tokens [B, T, D] float32 + B instructions → [B, Q, d_llm] float32 (with grad in training). */
  virtual Tensor align(const Tensor& tokens, std::span<const std::string> instructions) = 0;

  /// Trainable parameters by our names (xib/weights/maps.h: "ln.weight", "query_tokens",
  /// "qformer.layer.0.self_attn.q.weight", "llm_proj.weight"; linear: "projection.weight").
  virtual std::vector<std::pair<std::string, Tensor>> named_parameters() const = 0;
  /// Training mode switches dropout on; evaluation mode off.
  virtual void set_training(bool on) = 0;
  /** The state of the aligner's own dropout generator ([N] uint8), when it has one, so a
      checkpoint can save it and a resumed run draw the same masks; undefined Tensor otherwise. */
  virtual Tensor dropout_rng_state() const;
  /// Restores dropout_rng_state(); aligners without their own generator ignore it.
  virtual void set_dropout_rng_state(const Tensor& state);

  /// Moves the parameters (and gradients) onto `device` in place: each tensor keeps its
  /// identity, so a checkpoint's names still reach it. Make the optimizer after moving, so its
  /// state lives there too. align() then takes tokens from any device and returns its output on
  /// this one. The default moves named_parameters(); an aligner holding other tensors overrides it.
  virtual void to(const c10::Device& device);
  /// Where the parameters are (CPU for an aligner without any).
  virtual c10::Device device() const;
};

/// The aligner a recipe section describes: `type:` (default "qformer") picks the registered
/// factory, which binds the rest of the section to its options. Unknown types are a
/// NotFoundError listing the registered ones.
std::shared_ptr<Aligner> create_aligner(const ConfigSection& section);

}  // namespace xib
