// The image Modality: name "image", cue " image: ", one input = one image (not a sequence); its
// processor, the encoder its recipe section chooses, and its own aligner made by the kernel's
// aligner factory from the section's `aligner:` part.
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
  /// registered Aligner ("qformer", "linear", …); an absent section means no aligner (encoder-only
  /// use, e.g. feature caching), and aligner() then throws.
  explicit ImageModality(const ConfigSection& section);

  std::string name() const override { return "image"; }
  std::string cue() const override { return options_.cue; }
  bool is_sequence() const override { return false; }

  ImageProcessor& processor() override { return *processor_; }
  Encoder& encoder() override { return *encoder_; }
  Aligner& aligner() override;

  const ImageModalityOptions& options() const { return options_; }
  bool has_aligner() const { return aligner_ != nullptr; }

 private:
  ImageModalityOptions options_;
  std::unique_ptr<ImageProcessor> processor_;
  std::unique_ptr<Encoder> encoder_;
  std::shared_ptr<Aligner> aligner_;
};

/// The registry factory.
std::unique_ptr<Modality> make_image_modality(const FactoryArgs& args);

}  // namespace xib::image
