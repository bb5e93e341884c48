// Tensors in public headers are declared, not defined: including this costs nothing, so
// torch-free code (config, CLI, parsers) can use the interfaces without compiling ATen.
// Implementations include <ATen/core/Tensor.h> (or <torch/torch.h>) in their .cpp files.
#pragma once

#include <string>

namespace at {
class Tensor;
}

namespace xib {
using Tensor = at::Tensor;

/// "[2, 3, 4]": a tensor's shape for messages ("undefined" for an undefined tensor).
std::string shape_of(const Tensor& t);
}  // namespace xib
