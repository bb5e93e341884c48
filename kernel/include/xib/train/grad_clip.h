// Gradient clipping by the global L2 norm, as torch.nn.utils.clip_grad_norm_ (norm_type 2,
// foreach=False): every gradient is multiplied by min(max_norm / (total_norm + 1e-6), 1).
#pragma once

#include "xib/train/named_tensors.h"

namespace xib::train {

/// Returns the total L2 norm of all defined gradients of `params` before clipping (0 when none
/// has a gradient) and scales the gradients in place. Like torch, a non-finite norm is returned
/// (and propagates into the gradients) rather than thrown: the caller decides to skip the step.
/// `max_norm` must be > 0 (UsageError otherwise).
double clip_grad_norm(const NamedTensors& params, double max_norm);

}  // namespace xib::train
