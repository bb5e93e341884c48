// Shape rules of weight-map transforms, shared by the planner (weight_plan.cpp) and the loader
// (weight_loader.cpp). Internal to the kernel.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "xib/weights/weight_map.h"

namespace xib::weights::detail {

struct ShapeResult {
  std::vector<int64_t> shape = {};
  std::string error = {};  ///< non-empty when the transform cannot apply
};

/// The shape a transform produces from its inputs' shapes (zeros already given their shape).
ShapeResult transformed_shape(const Transform& t, const std::vector<std::vector<int64_t>>& inputs);

}  // namespace xib::weights::detail
