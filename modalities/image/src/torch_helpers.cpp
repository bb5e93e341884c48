// Weights-path resolution, tensors from floats and encoder dispatch.
#include "torch_helpers.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "encoders.h"
#include "xib/error.h"

namespace xib::image {

std::filesystem::path resolve_weights(const EncoderOptions& o) {
  return weights::resolve_weights_file(
      {.given = o.weights,
       .cache_default = o.type == "efficientnet_lite0" ? "efficientnet-lite0/efficientnet-lite0.pth" : "",
       .encoder = o.type,
       .expected = "a path to the EVA-CLIP ViT-g checkpoint (eva_vit_g.pth or a LAVIS checkpoint)"});
}

Tensor tensor_from_floats(std::vector<float>&& values, const std::vector<int64_t>& shape) {
  auto* owned = new std::vector<float>(std::move(values));
  return torch::from_blob(
      owned->data(), shape, [owned](void*) { delete owned; }, torch::kFloat32);
}

std::unique_ptr<Encoder> make_encoder(const EncoderOptions& options) {
  if (options.type == "efficientnet_lite0") return make_efficientnet_lite0(options);
  if (options.type == "eva_vit_g") return make_eva_vit(options);
  const auto near = nearest_name(options.type, kEncoderTypes);
  throw NotFoundError({.what = fmt::format("unknown image encoder '{}'", options.type),
                       .where = "encoder.type",
                       .expected = "one of: " + join_names(kEncoderTypes),
                       .got = options.type,
                       .hint = near ? fmt::format("did you mean '{}'?", *near) : std::string()});
}

std::pair<std::vector<double>, std::vector<double>> encoder_normalisation(const std::string& type) {
  if (type == "eva_vit_g") {
    return {{0.48145466, 0.4578275, 0.40821073}, {0.26862954, 0.26130258, 0.27577711}};  // EVA-CLIP / OpenAI CLIP
  }
  return {{0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}};  // ImageNet
}

}  // namespace xib::image
