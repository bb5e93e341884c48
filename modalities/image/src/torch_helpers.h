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
#include "xib/weights/weight_map.h"

namespace xib::image {

/// float32 tensors shaped as `spec`, on `device`: N(0, 0.02) when `random`, else zeros (to be
/// overwritten by a checkpoint). Running variances start at 1 either way.
std::map<std::string, Tensor> make_params(const std::vector<weights::DestParam>& spec, bool random,
                                          const std::string& device);

struct LoadedFrom {
  std::filesystem::path file;
  std::string summary;                    ///< the plan's one-line summary
  std::vector<std::string> skipped = {};  ///< "name: reason" of each deliberately unused tensor
};

/// Load `map` (expanded with `layers`) from `file` into `params`. A "visual_encoder." prefix on
/// every name (LAVIS full checkpoints) is stripped. WeightMapError listing every problem.
LoadedFrom load_encoder_weights(const weights::WeightMap& map, int64_t layers, const std::filesystem::path& file,
                                std::map<std::string, Tensor>& params);

/// The options' weights path: as given when it exists, else looked up in the model cache;
/// empty → the encoder's default in the model cache (efficientnet_lite0 only).
std::filesystem::path resolve_weights(const EncoderOptions& options);

/// [n] floats (moved) → a float32 CPU tensor of `shape`.
Tensor tensor_from_floats(std::vector<float>&& values, const std::vector<int64_t>& shape);

std::unique_ptr<Encoder> make_efficientnet_lite0(const EncoderOptions& options);
std::unique_ptr<Encoder> make_eva_vit(const EncoderOptions& options);

}  // namespace xib::image
