// Shared by the aligner tests: the fixtures of tools/fixtures/make_qformer_fixtures.py
// (tests/aligners/data/) and tensor comparison that names the worst element.
#pragma once

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tensor_fixtures.h"  // compare(), read_tensor_file()
#include "test_support.h"
#include "xib/aligners/qformer.h"
#include "xib/io/safetensors.h"
#include "xib/weights/weight_loader.h"

namespace xib::test {

inline std::filesystem::path aligner_data(const std::string& name) {
  return source_dir() / "tests" / "aligners" / "data" / name;
}

/// Every tensor of a fixture file by name (owning copies).
inline std::map<std::string, at::Tensor> read_tensors(const std::string& name) {
  return read_tensor_file(aligner_data(name));
}

/// Writes float32 tensors as a safetensors checkpoint (for loading tests).
inline void write_checkpoint(const std::filesystem::path& file, const std::map<std::string, at::Tensor>& tensors) {
  std::vector<at::Tensor> keep;
  std::vector<io::TensorRecord> records;
  for (const auto& [name, t] : tensors) {
    keep.push_back(t.detach().to(at::kFloat).contiguous());
    const at::Tensor& c = keep.back();
    records.push_back({.name = name,
                       .dtype = io::DType::f32,
                       .shape = c.sizes().vec(),
                       .data = static_cast<const std::byte*>(c.data_ptr()),
                       .storage_bytes = static_cast<size_t>(c.numel()) * sizeof(float)});
  }
  io::write_safetensors(file, records);
}

/// Our parameters under the names a map reads them from (the map's entries inverted).
inline std::map<std::string, at::Tensor> rename_for(const weights::ExpandedMap& map,
                                                    const std::vector<std::pair<std::string, at::Tensor>>& params) {
  std::map<std::string, std::string> upstream;
  for (const auto& e : map.entries) upstream[e.to] = e.from.front();
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, t] : params) {
    if (auto it = upstream.find(name); it != upstream.end()) out[it->second] = t.detach().clone();
  }
  return out;
}

/// The full report (what, where, expected, got, hint, details) of the E that `f` throws;
/// "<no error>" when it throws nothing. (what() alone is only the first line.)
template <class E, class F>
std::string report_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.report();
  }
  return "<no error>";
}

/// The Q-Former of the fixtures (an image aligner): 3 layers, hidden 32, 4 heads, FFN 64, 8
/// queries, encoder width 24, cross-attention every 2 layers, vocab 80, 128 positions, d_llm 16.
inline aligners::QFormerOptions fixture_qformer() {
  return {.modality = "image",
          .layers = 3,
          .hidden = 32,
          .heads = 4,
          .ffn = 64,
          .queries = 8,
          .cross_attention_freq = 2,
          .encoder_width = 24,
          .vocab = 80,
          .max_positions = 128,
          .llm_width = 16};
}

}  // namespace xib::test
