// Modality: everything one modality plugin contributes — a processor (file → tensor), its
// frozen encoder, its own aligner instance, the prompt cue, and whether an input is a sequence
// of segments (video frames, audio segments) that pass through the aligner one by one.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "xib/tensor.h"

namespace xib {

class Encoder;
class Aligner;
class Rng;

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
  virtual ~Modality() = default;

  /// "image", "video", "audio", "pc" — the upstream parameter prefix {m}.
  virtual std::string name() const = 0;
  /// Text placed before this modality's tokens in the LLM prompt (" image: ").
  virtual std::string cue() const = 0;
  /// True when one input is S segments, each aligned separately and concatenated (S·Q tokens).
  virtual bool is_sequence() const = 0;

  virtual Processor& processor() = 0;
  virtual Encoder& encoder() = 0;
  virtual Aligner& aligner() = 0;
};

}  // namespace xib
