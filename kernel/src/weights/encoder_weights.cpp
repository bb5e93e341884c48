// Encoder parameters, weights-file resolution and loading (see xib/weights/encoder_weights.h).
#include "xib/weights/encoder_weights.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>

#include "xib/error.h"
#include "xib/io/weight_source.h"
#include "xib/model_cache.h"
#include "xib/weights/weight_loader.h"

namespace xib::weights {

bool is_scale_param(std::string_view name) {
  const auto last_dot = name.rfind('.');
  const std::string_view module = last_dot == std::string_view::npos ? std::string_view() : name.substr(0, last_dot);
  const std::string_view leaf = last_dot == std::string_view::npos ? name : name.substr(last_dot + 1);
  if (leaf == "running_var" || leaf == "gamma") return true;
  if (leaf != "weight") return false;
  const auto module_start = module.rfind('.');
  const std::string_view last = module_start == std::string_view::npos ? module : module.substr(module_start + 1);
  return last == "bn" || last.starts_with("norm") || last.ends_with("norm") || last == "LayerNorm" ||
         last.ends_with("layer_norm");
}

std::map<std::string, Tensor> make_encoder_params(const std::vector<DestParam>& spec, bool random,
                                                  const std::string& device,
                                                  const std::function<bool(std::string_view)>& is_scale) {
  std::map<std::string, Tensor> out;
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(torch::Device(device));
  for (const auto& p : spec) {
    const bool var = p.name.ends_with("running_var");
    at::Tensor t = var || (random && is_scale(p.name)) ? torch::ones(p.shape, opts)
                   : random                            ? torch::randn(p.shape, opts) * 0.02
                                                       : torch::zeros(p.shape, opts);
    out.emplace(p.name, t);
  }
  return out;
}

EncoderWeightsFrom load_encoder_weights(const WeightMap& map, int64_t layers, const std::filesystem::path& file,
                                        std::map<std::string, Tensor>& params,
                                        const std::vector<std::string>& wrapper_prefixes) {
  auto src = io::open_weights(file);
  std::string prefix;
  for (const auto& w : wrapper_prefixes) {
    const auto& all = src->tensors();
    const std::string dotted = w + ".";
    if (std::any_of(all.begin(), all.end(), [&](const auto& r) { return r.name.starts_with(dotted); })) {
      src = io::open_weights(file, {.prefix = w});
      prefix = w;
      break;
    }
  }
  const auto& records = src->tensors();
  const PlanOptions po{.strict = true, .source_label = file.string()};
  const auto p = plan(expand(map, {.layers = layers}), source_tensors(records), dest_spec(params), po);
  p.raise_if_failed();
  apply_plan(p, records, params);
  EncoderWeightsFrom out{.file = file, .prefix = prefix, .summary = p.summary()};
  for (const auto& s : p.skipped) out.skipped.push_back(s.name + ": " + s.reason);
  return out;
}

std::filesystem::path resolve_weights_file(const WeightsFileRequest& r) {
  if (r.given.empty()) {
    if (!r.cache_default.empty()) return ModelCache().resolve(r.cache_default);
    throw ConfigError({.what = fmt::format("encoder '{}' needs a weights file", r.encoder),
                       .where = r.where,
                       .expected = r.expected,
                       .got = "nothing",
                       .hint = "set encoder.weights=PATH, or encoder.random_init=true for a smoke test"});
  }
  std::error_code ec;
  if (std::filesystem::exists(r.given, ec)) return r.given;
  // A model-cache name: the recipe resolved it against its own folder, where no such file is.
  const ModelCache cache;
  if (auto cached = cache.locate(r.given)) return *cached;
  if (r.given.is_absolute()) return r.given;
  return cache.resolve(r.given.string());  // its NotFoundError lists what the cache holds
}

}  // namespace xib::weights
