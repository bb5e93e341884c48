// Named tensors: what an optimizer, a model's trainable parameters and a checkpoint exchange.
// Order is kept (a checkpoint stores tensors in the order it is given them). Torch-free header.
//
//   NamedTensors all = with_prefix(model_params, "model/");
//   append(all, with_prefix(optimizer.state_tensors(), "optim/"));
//   copy_named_tensors(take_prefix(ckpt.tensors, "model/"), model_params, "model");
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "xib/tensor.h"

namespace xib::train {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

/// The same tensors (not copies) with `prefix` put before every name.
NamedTensors with_prefix(const NamedTensors& tensors, std::string_view prefix);
/// The tensors whose name starts with `prefix`, with the prefix removed (not copies).
NamedTensors take_prefix(const NamedTensors& tensors, std::string_view prefix);
/// Appends `more` to `into`.
void append(NamedTensors& into, const NamedTensors& more);

/// Copies `source` into `dest` in place (each value converted to its destination's device and
/// dtype, without recording gradients). Every name of `dest` must be in `source` with the same
/// shape, and `source` may hold no other names: all problems are reported at once as one
/// ShapeError whose `where` is `label` (missing, unexpected and mis-shaped names in details).
void copy_named_tensors(const NamedTensors& source, const NamedTensors& dest, std::string_view label);

}  // namespace xib::train
