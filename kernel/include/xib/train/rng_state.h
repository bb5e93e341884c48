// Random-generator state as tensors, so a checkpoint can save it and a resumed run continue the
// same random streams: LibTorch's default CPU generator (dropout, init) and xib::Rng::global()
// (data sampling). CUDA generators are not covered.
//
//   append(tensors, train::rng_state_tensors());          // "rng/torch_cpu", "rng/xib_global"
//   train::restore_rng_state(ckpt.tensors);                // after seed_everything(seed)
#pragma once

#include "xib/runtime.h"
#include "xib/tensor.h"
#include "xib/train/named_tensors.h"

namespace xib::train {

/** [N] uint8: LibTorch's default CPU generator state (a copy). */
Tensor torch_cpu_rng_state();
/** [N] uint8 → the default CPU generator. FormatError when it is not a state tensor. */
void set_torch_cpu_rng_state(const Tensor& state);

/** [4] int64: the xoshiro256** words of `rng` (bit-cast). */
Tensor rng_state_tensor(const Rng& rng);
/** [4] int64 → `rng`'s state (its seed, used by fork(), is not part of it). ShapeError otherwise. */
void set_rng_state_tensor(Rng& rng, const Tensor& state);

/// {"rng/torch_cpu": torch_cpu_rng_state(), "rng/xib_global": rng_state_tensor(Rng::global())}.
NamedTensors rng_state_tensors();
/// Restores both from tensors named as rng_state_tensors() makes them (other names are
/// ignored); NotFoundError when one is missing.
void restore_rng_state(const NamedTensors& tensors);

}  // namespace xib::train
