// Reference tensors in tests that link LibTorch: every tensor of a safetensors fixture, and a
// tolerance comparison that says where and by how much two tensors differ.
#pragma once

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <string>

#include "xib/io/safetensors.h"
#include "xib/weights/weight_loader.h"

namespace xib::test {

/// Every tensor of a safetensors file by name (owning copies).
inline std::map<std::string, at::Tensor> read_tensor_file(const std::filesystem::path& file) {
  io::SafetensorsFile f(file);
  std::map<std::string, at::Tensor> out;
  for (const auto& r : f.records()) out[r.name] = weights::record_to_tensor(r);
  return out;
}

/// "" when allclose (rtol, atol), else where and by how much they differ.
inline std::string compare(const at::Tensor& got, const at::Tensor& want, double rtol = 1e-4, double atol = 1e-5) {
  if (got.sizes() != want.sizes()) {
    return fmt::format("shape {} != {}", weights::shape_str(got.sizes().vec()), weights::shape_str(want.sizes().vec()));
  }
  const at::Tensor g = got.detach().to(at::kDouble), w = want.to(at::kDouble);
  if (at::allclose(g, w, rtol, atol)) return {};
  const at::Tensor excess = (g - w).abs() - (w.abs() * rtol + atol);
  const int64_t i = excess.flatten().argmax().item<int64_t>();
  return fmt::format("worst element {}: got {} want {} (max |diff| {})", i, g.flatten()[i].item<double>(),
                     w.flatten()[i].item<double>(), (g - w).abs().max().item<double>());
}

}  // namespace xib::test
