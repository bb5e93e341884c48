// Parameter creation, weight loading, weights-path resolution and encoder dispatch.
#include "torch_helpers.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>

#include "encoders.h"
#include "xib/error.h"
#include "xib/io/weight_source.h"
#include "xib/model_cache.h"
#include "xib/weights/weight_loader.h"

namespace xib::image {

std::map<std::string, Tensor> make_params(const std::vector<weights::DestParam>& spec, bool random,
                                          const std::string& device) {
  std::map<std::string, Tensor> out;
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(torch::Device(device));
  for (const auto& p : spec) {
    const bool var = p.name.ends_with("running_var");
    const bool scale =
        p.name.ends_with("bn.weight") || p.name.ends_with("norm1.weight") || p.name.ends_with("norm2.weight");
    at::Tensor t = var || (random && scale) ? torch::ones(p.shape, opts)
                   : random                 ? torch::randn(p.shape, opts) * 0.02
                                            : torch::zeros(p.shape, opts);
    out.emplace(p.name, t);
  }
  return out;
}

LoadedFrom load_encoder_weights(const weights::WeightMap& map, int64_t layers, const std::filesystem::path& file,
                                std::map<std::string, Tensor>& params) {
  // A full LAVIS checkpoint holds the encoder under visual_encoder.*, next to other modules.
  auto src = io::open_weights(file);
  const auto& all = src->tensors();
  if (std::any_of(all.begin(), all.end(), [](const auto& r) { return r.name.starts_with("visual_encoder."); })) {
    src = io::open_weights(file, {.prefix = "visual_encoder"});
  }
  const auto& records = src->tensors();
  weights::PlanOptions po{.strict = true, .source_label = file.string()};
  const auto expanded = weights::expand(map, {.layers = layers});
  const auto p = weights::plan(expanded, weights::source_tensors(records), weights::dest_spec(params), po);
  p.raise_if_failed();
  weights::apply_plan(p, records, params);
  LoadedFrom out{.file = file, .summary = p.summary()};
  for (const auto& s : p.skipped) out.skipped.push_back(s.name + ": " + s.reason);
  return out;
}

std::filesystem::path resolve_weights(const EncoderOptions& o) {
  if (o.weights.empty()) {
    if (o.type == "efficientnet_lite0") return ModelCache().resolve("efficientnet-lite0/efficientnet-lite0.pth");
    throw ConfigError({.what = fmt::format("encoder '{}' needs a weights file", o.type),
                       .where = "encoder.weights",
                       .expected = "a path to the EVA-CLIP ViT-g checkpoint (eva_vit_g.pth or a LAVIS checkpoint)",
                       .got = "nothing",
                       .hint = "set encoder.weights=PATH, or encoder.random_init=true for a smoke test"});
  }
  std::error_code ec;
  if (std::filesystem::exists(o.weights, ec)) return o.weights;
  // A model-cache name ("efficientnet-lite0", "efficientnet-lite0/efficientnet-lite0.pth"):
  // the recipe resolved it against its own folder, where no such file is.
  const ModelCache cache;
  if (auto cached = cache.locate(o.weights)) return *cached;
  if (o.weights.is_absolute()) return o.weights;
  return cache.resolve(o.weights.string());  // its NotFoundError lists what the cache holds
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
