// Aligner: the trainable bridge from one modality's encoder tokens to the LLM's input space —
// the instruction-aware Q-Former, or the linear-projection ablation. Each modality owns its
// own instance (its own weights); the recipe key `aligner.type` chooses the implementation.
//
// A modality gets its aligner from one kernel call, with the facts only the model knows passed
// as typed arguments (never as recipe keys):
//
//   aligner_ = make_aligner({.modality = "…", .encoder_width = encoder_->width(), .llm_width = …},
//                           options_.aligner);   // or ModalityContext::make_aligner (xib/modality.h)
//
// An aligner type registers with add_aligner_type<Options>(): its recipe keys are Options'
// fields. A section may carry keys of other registered types (so that changing `type:` alone
// swaps the aligner): they are reported once as unused; a key no type knows is a ConfigError.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "xib/config.h"
#include "xib/registry.h"
#include "xib/tensor.h"

namespace xib {

/// What the model tells an aligner about where it sits. None of it is a recipe key.
struct AlignerContext {
  /// The modality it serves: names it in messages, and is the {m}_ prefix of LAVIS checkpoints.
  std::string modality = {};
  int64_t encoder_width = 0;  ///< D: width of the encoder tokens it reads
  int64_t llm_width = 0;      ///< d_llm: width of the tokens it writes (the LLM's hidden size)
  /// false: leave `init:` unread, because a checkpoint will restore every tensor (reloading a
  /// trained run); the weights training started from need not exist any more.
  bool load_init = true;
};

/// The type a section without `type:` gets.
inline constexpr const char* kDefaultAlignerType = "qformer";

class Aligner {
 public:
  static constexpr const char* kKind = "aligner";
  using Context = AlignerContext;
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

/** The aligner a modality's `aligner:` section describes, for the modality, encoder width and
    LLM width of `context`: `type:` (default kDefaultAlignerType) picks the registered type, whose
    factory binds its own keys. Keys of other registered types are dropped and logged once as
    unused by this type; a key no type knows is a ConfigError naming the nearest known key; an
    unknown type a NotFoundError listing the registered ones. An absent section gives the default
    type with its defaults. UsageError when the context lacks a modality or a width. */
std::shared_ptr<Aligner> make_aligner(const AlignerContext& context, const ConfigSection& section);

/// Registers an aligner type: its recipe keys are Options' fields (Options has fields() and may
/// have validate()); `make` receives the bound options and the context.
template <class Options>
void add_aligner_type(Registrations& reg, std::string name,
                      std::function<std::unique_ptr<Aligner>(const Options&, const AlignerContext&)> make,
                      std::string help) {
  reg.add<Aligner>(
      std::move(name),
      [make = std::move(make)](const AlignerContext& context, const ConfigSection& section) {
        return make(bind<Options>(section), context);
      },
      std::move(help), option_keys<Options>());
}

}  // namespace xib
