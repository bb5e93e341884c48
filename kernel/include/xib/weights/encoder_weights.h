// What every frozen encoder does with its weights: make its parameters from a table, find its
// weights file (a path, or a model-cache name), and load it through its weight map. Modality
// plugins (image, audio, …) share these instead of each keeping a copy. Torch-free header.
//
//   auto params = make_encoder_params(my_params(config), o.random_init, o.device);
//   auto file = resolve_weights_file({.given = o.weights, .cache_default = "model/model.bin", …});
//   auto from = load_encoder_weights(my_map(config), config.layers, file, params);
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "xib/tensor.h"
#include "xib/weights/weight_map.h"

namespace xib::weights {

/// The default scale rule: running variances, BatchNorm/LayerNorm weights (`…bn.weight`,
/// `…norm*.weight`, `…layer_norm.gamma`, `…LayerNorm.weight`) start at one.
bool is_scale_param(std::string_view name);

/// float32 tensors shaped as `spec`, on `device`. Random: N(0, 0.02), scales (the predicate)
/// one. Not random: zeros to be overwritten by a checkpoint (running variances one).
std::map<std::string, Tensor> make_encoder_params(
    const std::vector<DestParam>& spec, bool random, const std::string& device,
    const std::function<bool(std::string_view)>& is_scale = is_scale_param);

struct EncoderWeightsFrom {
  std::filesystem::path file;
  std::string prefix;                     ///< the wrapper prefix stripped ("" for none)
  std::string summary;                    ///< the plan's one-line summary
  std::vector<std::string> skipped = {};  ///< "name: reason" of each deliberately unused tensor
};

/// Loads `map` (expanded with `layers`) from `file` into `params`, strictly. When a name of the
/// file starts with one of `wrapper_prefixes` (a LAVIS full checkpoint's "visual_encoder",
/// BEATs' "model"), only the tensors under it are read, without it. WeightMapError listing
/// every problem.
EncoderWeightsFrom load_encoder_weights(const WeightMap& map, int64_t layers, const std::filesystem::path& file,
                                        std::map<std::string, Tensor>& params,
                                        const std::vector<std::string>& wrapper_prefixes = {});

struct WeightsFileRequest {
  std::filesystem::path given;     ///< the recipe's `weights` (may be empty)
  std::string cache_default = {};  ///< model-cache reference used when `given` is empty ("" = required)
  std::string encoder = {};        ///< the encoder type, for messages
  std::string where = "encoder.weights";
  std::string expected = {};  ///< what the file should be, for the missing-weights error
};

/// The weights file: `given` when it exists; else a model-cache name ("whisper-tiny-en-ct2",
/// "efficientnet-lite0/efficientnet-lite0.pth") looked up in the cache; empty → cache_default,
/// or a ConfigError when the encoder has none. The cache's NotFoundError lists what it holds.
std::filesystem::path resolve_weights_file(const WeightsFileRequest& request);

}  // namespace xib::weights
