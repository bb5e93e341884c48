// The X-InstructBLIP model object: a frozen LanguageModel, the modalities (each with its
// processor, frozen encoder and own trainable aligner), and the prompt options. Built from the
// recipe's `model:` section:
//
//   model:
//     llm: {plugin: llama, path: smollm2-135m-instruct}   # `plugin` picks the factory, the rest is its section
//     prompt: {prefix: "", postfix: ""}                   # PromptOptions (xib/assembly.h)
//     modalities:                                         # recipe order = prompt order
//       image: {encoder: {type: efficientnet_lite0}, aligner: {type: qformer, queries: 8}}
//     skip_undecodable: false
//
//   auto model = XInstructBlip::from_recipe(source->section("model"));
//   EncodedFeatures f = model.encode(samples, /*training=*/true);   // frozen encoders, no grad
//   Tensor loss = model.loss(samples, f);                           // aligners → prompt → lm.loss
//
// encode() and loss() are separate so that a feature cache can stand in for encode().
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "xib/assembly.h"
#include "xib/config.h"
#include "xib/sample.h"
#include "xib/tensor.h"

namespace xib {

class LanguageModel;
class Modality;
class Rng;
class Tokenizer;

/// The recipe's `model:` section.
struct ModelOptions {
  /// `plugin:` names the registered LanguageModel (default: the only one loaded); the other keys
  /// are handed to that factory as its section.
  ConfigSection llm = {};
  PromptOptions prompt = {};
  /// name → section handed to the registered Modality factory of that name; the order written
  /// in the recipe is the order of the modalities in the prompt.
  ConfigSection modalities = {};
  /// Drop (and count) samples whose input file fails to decode instead of failing the batch.
  bool skip_undecodable = false;

  template <class V>
  void fields(V& v) {
    v("llm", llm, "the language model: {plugin: NAME, …the plugin's options} (plugin: the only one loaded)");
    v("prompt", prompt, "how the LLM prompt is assembled");
    v("modalities", modalities, "modality name → its section (encoder, processor, aligner)");
    v("skip_undecodable", skip_undecodable, "skip and count samples whose file cannot be decoded");
  }
  void validate(Validator& v) const;
  /// The LanguageModel factory name: `llm.plugin`, else the only registered language model
  /// (NotFoundError when none is loaded, ConfigError naming them when several are).
  std::string llm_plugin() const;
};

/// How from_recipe() builds the model.
struct ModelBuildOptions {
  /// false: the aligners' `init:` weights are not read, because a checkpoint restores every
  /// aligner tensor (loading a trained run).
  bool load_aligner_init = true;
};

/// What the model object is made of (the constructor for tests and embedding programs).
struct XInstructBlipParts {
  std::shared_ptr<LanguageModel> lm = {};
  /// In prompt order; names must be unique.
  std::vector<std::shared_ptr<Modality>> modalities = {};
  PromptOptions prompt = {};
  bool skip_undecodable = false;
  /// Tokenizer for the prompt; empty: the language model's own.
  std::shared_ptr<const Tokenizer> tokenizer = {};
};

/// encode()'s result: the frozen encoders' features of the samples that were kept.
struct EncodedFeatures {
  /// modality → [B', T, D], or [B', S, T, D] for a sequence modality (B' = kept samples).
  std::map<std::string, Tensor> by_modality = {};
  /// Indices (into the samples given to encode()) of the rows of the tensors, in order.
  std::vector<size_t> kept = {};
  /// Ids of the samples dropped because a file failed to decode (skip_undecodable).
  std::vector<std::string> skipped_ids = {};
  /// Why each was dropped ("cannot decode PNG image"), parallel to skipped_ids.
  std::vector<std::string> skipped_reasons = {};
};

/// load_inputs()' result: the processors' outputs of the kept samples, not yet encoded.
struct LoadedInputs {
  std::vector<std::string> modalities = {};       ///< the batch's modalities, in model order
  std::vector<std::vector<Tensor>> tensors = {};  ///< per modality, one processor output per kept sample
  std::vector<std::string> ids = {};              ///< every sample's id (for messages)
  EncodedFeatures features = {};                  ///< kept and skipped filled in; by_modality empty
};

class XInstructBlip {
 public:
  /// Builds the language model, then every modality from the registry with a ModalityContext
  /// carrying its name and the LLM's width (plugins must be loaded).
  static XInstructBlip from_recipe(const ConfigSection& model_section, const ModelBuildOptions& build = {});
  /// ShapeError when an aligner's output width is not the LM's hidden size or its input width
  /// not its encoder's width; UsageError for duplicate or missing parts.
  explicit XInstructBlip(XInstructBlipParts parts);
  ~XInstructBlip();
  XInstructBlip(XInstructBlip&&) noexcept;
  XInstructBlip& operator=(XInstructBlip&&) noexcept;

  LanguageModel& lm();
  const Tokenizer& tokenizer() const;
  /// NotFoundError listing the known modalities for an unknown name.
  Modality& modality(const std::string& name);
  /// In prompt order.
  std::vector<std::string> modality_names() const;
  const PromptOptions& prompt_options() const;

  /// "<modality>.<aligner parameter name>" → tensor, requires_grad on. Only the aligners (their
  /// encoder LayerNorm included) train: the LLM and the encoders contribute nothing.
  std::vector<std::pair<std::string, Tensor>> trainable_parameters() const;
  /// Moves the language model and every aligner onto `device`, where the prompt is assembled
  /// and the loss computed. The frozen encoders keep their own placement (`encoder.device`):
  /// their features are moved to the aligners. Call it before making the optimizer.
  void to(const c10::Device& device);
  /// The language model's device.
  c10::Device device() const;
  /// Training mode (dropout) for the aligners; the LLM and encoders always run in eval mode.
  void set_training(bool on);
  bool training() const;

  /** Load each sample's file per modality (processor, `training` augmentations), stack, run the
      frozen encoder without gradients → features [B', T, D] ([B', S, T, D] for sequences).
      NotFoundError for a modality the model lacks; UsageError when a sample lacks a file the
      batch's other samples have; a file that fails to decode is an error naming the sample and
      file, or with skip_undecodable the sample is dropped and counted. */
  EncodedFeatures encode(std::span<const Sample> samples, bool training);
  /// encode() in two halves: the processors (files → tensors; skips) …
  LoadedInputs load_inputs(std::span<const Sample> samples, bool training);
  /** … and the frozen encoders: processor outputs → features [B', T, D] ([B', S, T, D]). */
  EncodedFeatures encode_loaded(LoadedInputs inputs);

  /** Training loss: aligners (with the instructions) → training prompt → lm.loss → scalar.
      `samples` are those given to encode(); rows follow features.kept. With
      prompt.shuffle_modalities the order is drawn from `rng` (Rng::global() when null).
      A batch whose samples were all skipped gives a zero scalar without gradient. */
  Tensor loss(std::span<const Sample> samples, const EncodedFeatures& features, Rng* rng = nullptr);

  /** The generation prompt (left-padded, add_space) of the kept samples: embeddings [B', T, d],
      mask [B', T]. `order` overrides the modality order (default: the model's). */
  Assembled build_prompt(std::span<const Sample> samples, const EncodedFeatures& features,
                         std::span<const std::string> order = {});

  /** Aligner outputs [B', N_k, d] → the prompt for any mode (what loss() and build_prompt()
      use). Modality order: `order` when given, else the model's (shuffled for training prompts
      with prompt.shuffle_modalities, drawn from `rng` or Rng::global()). UsageError when every
      sample was skipped. */
  Assembled assemble(std::span<const Sample> samples, const EncodedFeatures& features, PromptMode mode,
                     std::span<const std::string> order = {}, Rng* rng = nullptr);

  /// Samples dropped by encode() so far, and their ids.
  int64_t skipped() const;
  const std::vector<std::string>& skipped_ids() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace xib
