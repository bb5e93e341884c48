// The audio Modality: cue " audio: " (audio_prompts.h), one input = a sequence of segments
// (each aligned alone, SPEC §The aligner); its processor, the encoder its recipe section
// chooses, and its own aligner, made by the model's context from the section's `aligner:` part.
#pragma once

#include <memory>

#include "audio_options.h"
#include "audio_processor.h"
#include "xib/aligner.h"
#include "xib/encoder.h"
#include "xib/modality.h"
#include "xib/registry.h"

namespace xib::audio {

class AudioModality : public Modality {
 public:
  /// Builds the encoder (weights loaded) and the aligner. A context without an LLM width
  /// (encoder-only use, e.g. feature caching) gives no aligner, and aligner() then throws.
  AudioModality(const ModalityContext& context, const ConfigSection& section);

  std::string name() const override { return name_; }
  std::string cue() const override;
  bool is_sequence() const override { return true; }

  AudioProcessor& processor() override { return *processor_; }
  Encoder& encoder() override { return *encoder_; }
  Aligner& aligner() override;

  const AudioModalityOptions& options() const { return options_; }

 private:
  AudioModalityOptions options_;
  std::string name_;
  std::unique_ptr<AudioProcessor> processor_;
  std::unique_ptr<Encoder> encoder_;
  std::shared_ptr<Aligner> aligner_;
};

/// The registry factory.
std::unique_ptr<Modality> make_audio_modality(const ModalityContext& context, const ConfigSection& section);

}  // namespace xib::audio
