// Modality: everything one modality plugin contributes — a processor (file → tensor), its
// frozen encoder, its own aligner instance, the prompt cue, and whether an input is a sequence
// of segments (video frames, audio segments) that pass through the aligner one by one. Its
// prompt text (cue, instruction templates) is registered beside it as ModalityPrompts
// (xib/prompts.h), so datasets find it without building the encoder.
//
// The model builds each modality with a ModalityContext; the plugin gets its aligner from it:
//
//   MyModality(const ModalityContext& context, const ConfigSection& section)
//       : options_(bind<MyOptions>(section)), encoder_(…) {
//     aligner_ = context.make_aligner(encoder_->width(), options_.aligner);
//   }
//   reg.add<Modality>("mine", [](const ModalityContext& c, const ConfigSection& s) {
//     return std::make_unique<MyModality>(c, s); }, "…");
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "xib/config.h"
#include "xib/tensor.h"

namespace xib {

class Encoder;
class Aligner;
class Rng;

/// What the model hands a modality factory.
struct ModalityContext {
  std::string name = {};  ///< the modality's name in the model (its registry name)
  /// The language model's hidden size, which every aligner writes; 0 when the modality is built
  /// without a language model (encoder only), and then it has no aligner.
  int64_t llm_width = 0;
  /// false when a checkpoint will restore the aligner (reloading a trained run): its `init:`
  /// weights are not read.
  bool load_aligner_init = true;

  /** The modality's aligner from its `aligner:` section: make_aligner() (xib/aligner.h) with this
      modality's name, `encoder_width` and the LLM width. nullptr when llm_width is 0. */
  std::shared_ptr<Aligner> make_aligner(int64_t encoder_width, const ConfigSection& aligner_section) const;
};

class Processor {
 public:
  virtual ~Processor() = default;
  /** One file → the encoder's input for one sample: [C, H, W] for an image, [S, …] for a
      sequence of S segments. `training` enables the random augmentations (seeded by the caller). */
  virtual Tensor load(const std::filesystem::path& file, bool training) = 0;
  /// The random stream of the training augmentations, or nullptr when there are none.
  /// Checkpoints save and restore it, so a resumed run continues the same augmentations.
  virtual Rng* augmentation_rng() { return nullptr; }
  /// The settings that decide load(file, training=false)'s output (size, resize, mean, std, …).
  /// Feature caches store it and refuse entries made with other settings; an empty object says
  /// the processor has nothing to describe.
  virtual nlohmann::json config() const { return nlohmann::json::object(); }
};

class Modality {
 public:
  static constexpr const char* kKind = "modality";
  using Context = ModalityContext;
  virtual ~Modality() = default;

  /// "image", "video", "audio", "pc" — the upstream parameter prefix {m}.
  virtual std::string name() const = 0;
  /// Text placed before this modality's tokens in the LLM prompt (" image: ").
  virtual std::string cue() const = 0;
  /// True when one input is S segments, each aligned separately and concatenated (S·Q tokens).
  virtual bool is_sequence() const = 0;

  virtual Processor& processor() = 0;
  virtual Encoder& encoder() = 0;
  /// ConfigError when the modality was built without a language model (encoder only).
  virtual Aligner& aligner() = 0;
};

}  // namespace xib
