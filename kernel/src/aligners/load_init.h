// Loading an aligner's `init:` source, shared by the Q-Former and the linear aligner: open the
// file, resolve its format and prefix from the stored names, reopen under the prefix, then plan
// and apply the map the aligner builds for that format. Included by the aligners' LibTorch files.
#pragma once

#include <fmt/format.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "xib/aligners/aligner_init.h"
#include "xib/io/weight_source.h"
#include "xib/model_cache.h"
#include "xib/weights/weight_loader.h"

namespace xib::aligners {

/// init.path, or — when no such file exists and it ends in a model-cache name
/// (`init: {path: all-minilm-l6-v2}`, `all-minilm-l6-v2/model.safetensors`) — that cached path.
inline std::filesystem::path init_path(const AlignerInit& init) {
  std::error_code ec;
  if (std::filesystem::exists(init.path, ec)) return init.path;
  return ModelCache().locate(init.path).value_or(init.path);
}

/// `named`: the aligner's parameters; `make_map(resolved, source_names, own_names)` → the
/// expanded map. Raises WeightMapError listing every problem; returns the applied plan.
template <class Named, class MakeMap>
weights::WeightPlan load_init(const AlignerInit& init, const Named& named, MakeMap&& make_map) {
  const std::filesystem::path path = init_path(init);
  auto source = io::open_weights(path);
  std::vector<std::string> names;
  for (const auto& r : source->tensors()) names.push_back(r.name);
  const ResolvedInit resolved = resolve_init(init, names, path.string());
  if (!resolved.prefix.empty()) {
    source = io::open_weights(path, {.prefix = resolved.prefix});
    names.clear();
    for (const auto& r : source->tensors()) names.push_back(r.name);
  }
  std::map<std::string, Tensor> params(named.begin(), named.end());
  std::vector<std::string> own;
  for (const auto& [n, _] : named) own.push_back(n);
  const auto map = std::forward<MakeMap>(make_map)(resolved, names, own);
  auto plan = weights::plan(
      map, weights::source_tensors(source->tensors()), weights::dest_spec(params),
      {.strict = init.strict,
       .source_label = fmt::format("{} ({} as {})", init.path.string(), source->format(), resolved.format)});
  weights::apply_plan(plan, source->tensors(), params);
  return plan;
}

}  // namespace xib::aligners
