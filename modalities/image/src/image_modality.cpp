// The image Modality (see image_modality.h).
#include "image_modality.h"

#include <fmt/format.h>

#include "encoders.h"
#include "image_prompts.h"
#include "xib/error.h"

namespace xib::image {

ImageModality::ImageModality(const ModalityContext& context, const ConfigSection& section)
    : options_(bind<ImageModalityOptions>(section)), name_(context.name) {
  processor_ = std::make_unique<ImageProcessor>(options_.processor, options_.encoder.type);
  encoder_ = make_encoder(options_.encoder);
  aligner_ = context.make_aligner(encoder_->width(), options_.aligner);
}

std::string ImageModality::cue() const { return options_.cue ? *options_.cue : image_prompts().cue; }

Aligner& ImageModality::aligner() {
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

std::unique_ptr<Modality> make_image_modality(const ModalityContext& context, const ConfigSection& section) {
  return std::make_unique<ImageModality>(context, section);
}

}  // namespace xib::image
