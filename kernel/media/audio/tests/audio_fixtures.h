// The audio library's reference files (kernel/media/audio/tests/data/, written by
// tools/fixtures/audio/): float32 arrays of a safetensors file, read without LibTorch.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "test_support.h"
#include "xib/io/safetensors.h"

namespace xib::test {

inline std::filesystem::path audio_data_dir() { return source_dir() / "kernel/media/audio/tests/data"; }

struct Array {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

/// Every (float32) array of audio_data_dir() / file by name.
inline std::map<std::string, Array> read_audio_arrays(const std::string& file) {
  io::SafetensorsFile f(audio_data_dir() / file);
  std::map<std::string, Array> out;
  for (const auto& r : f.records()) {
    REQUIRE(r.dtype == io::DType::f32);
    Array a{.shape = r.shape, .values = std::vector<float>(static_cast<size_t>(r.numel()))};
    std::memcpy(a.values.data(), r.data + r.storage_offset * 4, a.values.size() * sizeof(float));
    out.emplace(r.name, std::move(a));
  }
  return out;
}

}  // namespace xib::test
