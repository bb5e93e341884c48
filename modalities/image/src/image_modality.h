// The image Modality: cue " image: " (image_prompts.h), one input = one image (not a sequence);
// its processor, the encoder its recipe section chooses, and its own aligner, which the model's
// context makes from the section's `aligner:` part (ModalityContext::make_aligner).
#pragma once

#include <memory>

#include "image_options.h"
#include "image_processor.h"
#include "xib/aligner.h"
#include "xib/encoder.h"
#include "xib/modality.h"
#include "xib/registry.h"

namespace xib::image {

class ImageModality : public Modality {
 public:
  /// Builds the encoder (weights loaded) and the aligner. The aligner section's `type` picks the
  /// registered Aligner ("qformer", "linear", …). A context without an LLM width (encoder-only
  /// use, e.g. feature caching) gives no aligner, and aligner() then throws.
  ImageModality(const ModalityContext& context, const ConfigSection& section);

  std::string name() const override { return name_; }
  std::string cue() const override;
  bool is_sequence() const override { return false; }

  ImageProcessor& processor() override { return *processor_; }
  Encoder& encoder() override { return *encoder_; }
  Aligner& aligner() override;

  const ImageModalityOptions& options() const { return options_; }
  bool has_aligner() const { return aligner_ != nullptr; }

 private:
  ImageModalityOptions options_;
  std::string name_;
  std::unique_ptr<ImageProcessor> processor_;
  std::unique_ptr<Encoder> encoder_;
  std::shared_ptr<Aligner> aligner_;
};

/// The registry factory.
std::unique_ptr<Modality> make_image_modality(const ModalityContext& context, const ConfigSection& section);

}  // namespace xib::image
