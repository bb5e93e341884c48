// Tensors in public headers are declared, not defined: including this costs nothing, so
// torch-free code (config, CLI, parsers) can use the interfaces without compiling ATen.
// Implementations include <ATen/core/Tensor.h> (or <torch/torch.h>) in their .cpp files.
#pragma once

namespace at {
class Tensor;
}

namespace xib {
using Tensor = at::Tensor;
}
