// Small helpers the map tables share: a Linear or LayerNorm is two entries (.weight, .bias).
#pragma once

#include <string>

#include "xib/weights/weight_map.h"

namespace xib::weights::maps::detail {

/// One module of a table: upstream module name → ours (".weight"/".bias" appended).
struct Row {
  const char* upstream;
  const char* ours;
};

/// Entries for `from`.weight → `to`.weight and `from`.bias → `to`.bias.
inline void add_module(WeightMap& map, const std::string& from, const std::string& to, int64_t layer_step = 1) {
  for (const char* leaf : {".weight", ".bias"}) {
    map.entries.push_back({.from = {from + leaf}, .to = to + leaf, .layer_step = layer_step});
  }
}

}  // namespace xib::weights::maps::detail
