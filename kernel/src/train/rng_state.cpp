// Random-generator states as tensors (xib/train/rng_state.h): LibTorch's CPU generator and
// xib's Rng, so a checkpoint can save them and a resumed run draw the same numbers.
#include "xib/train/rng_state.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join

#include <array>
#include <cstring>
#include <mutex>

#include "xib/error.h"
#include "xib/runtime.h"

namespace xib::train {

Tensor torch_cpu_rng_state() {
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state().clone();
}

void set_torch_cpu_rng_state(const Tensor& state) {
  const at::Tensor expected = torch_cpu_rng_state();
  if (!state.defined() || state.scalar_type() != at::kByte || state.sizes() != expected.sizes())
    throw FormatError({.what = "not a LibTorch CPU generator state",
                       .where = "rng/torch_cpu",
                       .expected = fmt::format("uint8 [{}]", expected.numel()),
                       .got = state.defined() ? fmt::format("{} [{}]", c10::toString(state.scalar_type()),
                                                            fmt::join(state.sizes(), ", "))
                                              : "undefined",
                       .hint = "was it saved by another LibTorch version? the state layout differs between versions"});
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state.contiguous());
}

Tensor rng_state_tensor(const Rng& rng) {
  const auto s = rng.state();
  at::Tensor t = at::empty({4}, at::kLong);
  std::memcpy(t.data_ptr<int64_t>(), s.data(), sizeof(s));
  return t;
}

void set_rng_state_tensor(Rng& rng, const Tensor& state) {
  if (!state.defined() || state.scalar_type() != at::kLong || state.dim() != 1 || state.size(0) != 4)
    throw ShapeError({.what = "not an xib::Rng state",
                      .where = "rng/xib_global",
                      .expected = "int64 [4]",
                      .got = state.defined() ? fmt::format("{} [{}]", c10::toString(state.scalar_type()),
                                                           fmt::join(state.sizes(), ", "))
                                             : "undefined"});
  std::array<uint64_t, 4> s{};
  const at::Tensor c = state.to(at::kCPU).contiguous();
  std::memcpy(s.data(), c.data_ptr<int64_t>(), sizeof(s));
  rng.set_state(s);
}

NamedTensors rng_state_tensors() {
  return {{"rng/torch_cpu", torch_cpu_rng_state()}, {"rng/xib_global", rng_state_tensor(Rng::global())}};
}

void restore_rng_state(const NamedTensors& tensors) {
  const at::Tensor* cpu = nullptr;
  const at::Tensor* global = nullptr;
  for (const auto& [n, t] : tensors) {
    if (n == "rng/torch_cpu") cpu = &t;
    if (n == "rng/xib_global") global = &t;
  }
  if (!cpu || !global)
    throw NotFoundError({.what = "random-generator state missing",
                         .where = "checkpoint tensors",
                         .expected = "rng/torch_cpu and rng/xib_global",
                         .got = fmt::format("{}{}", cpu ? "" : "no rng/torch_cpu ", global ? "" : "no rng/xib_global"),
                         .hint = "save rng_state_tensors() with the checkpoint"});
  set_torch_cpu_rng_state(*cpu);
  set_rng_state_tensor(Rng::global(), *global);
}

}  // namespace xib::train
