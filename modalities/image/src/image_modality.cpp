// The image Modality (see image_modality.h).
#include "image_modality.h"

#include <fmt/format.h>

#include "encoders.h"
#include "xib/error.h"

namespace xib::image {

ImageModality::ImageModality(const ConfigSection& section) : options_(bind<ImageModalityOptions>(section)) {
  processor_ = std::make_unique<ImageProcessor>(options_.processor, options_.encoder.type);
  encoder_ = make_encoder(options_.encoder);
  if (options_.aligner.present()) {
    const ConfigSection type = options_.aligner.child("type");
    if (!type.present()) {
      throw ConfigError({.what = "the image aligner needs a type",
                         .where = options_.aligner.where(),
                         .expected = "aligner: {type: qformer | linear, …}",
                         .got = "no 'type' key",
                         .hint = "add type: qformer"});
    }
    // The aligner reads its encoder width and modality from its own section; fill them in
    // from this modality when the recipe leaves them out.
    YAML::Node node = YAML::Clone(options_.aligner.node);
    if (!node["encoder_width"]) node["encoder_width"] = encoder_->width();
    if (!node["modality"]) node["modality"] = "image";
    const ConfigSection filled(options_.aligner.source, node, options_.aligner.path);
    aligner_ = Registry::global().create<Aligner>(type.node.as<std::string>(), FactoryArgs{.options = filled});
  }
}

Aligner& ImageModality::aligner() {
  if (!aligner_) {
    throw ConfigError({.what = "the image modality has no aligner",
                       .where = options_.aligner.path.empty() ? "model.modalities.image" : options_.aligner.path,
                       .expected = "an aligner section: aligner: {type: qformer | linear, …}",
                       .got = "none",
                       .hint = "the encoder alone (feature caching) needs no aligner; training does"});
  }
  return *aligner_;
}

std::unique_ptr<Modality> make_image_modality(const FactoryArgs& args) {
  return std::make_unique<ImageModality>(args.options);
}

}  // namespace xib::image
