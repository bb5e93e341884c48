// The audio Modality (see audio_modality.h).
#include "audio_modality.h"

#include <fmt/format.h>

#include "audio_prompts.h"
#include "encoders.h"
#include "xib/error.h"

namespace xib::audio {

AudioModality::AudioModality(const ModalityContext& context, const ConfigSection& section)
    : options_(bind<AudioModalityOptions>(section)), name_(context.name) {
  processor_ = std::make_unique<AudioProcessor>(options_.processor, options_.encoder);
  encoder_ = make_encoder(options_.encoder);
  aligner_ = context.make_aligner(encoder_->width(), options_.aligner);
}

std::string AudioModality::cue() const { return options_.cue ? *options_.cue : audio_prompts().cue; }

Aligner& AudioModality::aligner() {
  if (!aligner_) {
    throw ConfigError(
        {.what = fmt::format("the {} modality was built without a language model: it has no aligner", name_),
         .where = options_.aligner.path.empty() ? "model.modalities." + name_ : options_.aligner.path,
         .expected = "a modality made by the model (XInstructBlip), which knows the LLM's width",
         .got = "an encoder-only modality",
         .hint = "the encoder alone (feature caching) needs no aligner; training does"});
  }
  return *aligner_;
}

std::unique_ptr<Modality> make_audio_modality(const ModalityContext& context, const ConfigSection& section) {
  return std::make_unique<AudioModality>(context, section);
}

}  // namespace xib::audio
