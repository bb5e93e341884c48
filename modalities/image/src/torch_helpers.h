// Helpers the plugin's LibTorch translation units share (private to modalities/image).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "image_options.h"
#include "xib/encoder.h"
#include "xib/tensor.h"
#include "xib/weights/encoder_weights.h"

namespace xib::image {

using weights::load_encoder_weights;
using LoadedFrom = weights::EncoderWeightsFrom;

/// The options' weights path: as given when it exists, else looked up in the model cache;
/// empty → the encoder's default in the model cache (efficientnet_lite0 only).
std::filesystem::path resolve_weights(const EncoderOptions& options);

/// [n] floats (moved) → a float32 CPU tensor of `shape`.
Tensor tensor_from_floats(std::vector<float>&& values, const std::vector<int64_t>& shape);

std::unique_ptr<Encoder> make_efficientnet_lite0(const EncoderOptions& options);
std::unique_ptr<Encoder> make_eva_vit(const EncoderOptions& options);

}  // namespace xib::image
