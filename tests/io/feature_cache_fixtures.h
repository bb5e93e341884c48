// Helpers of the feature-cache tests (test_feature_cache.cpp, test_feature_cache_seal.cpp): an
// image identity, samples with real files, feature values, error reports, and the h5py side
// (tests/io/h5py_feature_cache.py with /usr/bin/python3 and Debian's python3-h5py).
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "test_support.h"
#include "xib/error.h"
#include "xib/feature_cache.h"

namespace xib::test {

inline constexpr const char* kPython = "/usr/bin/python3";  // Debian's, with python3-h5py

inline xib::FeatureIdentity identity() {
  return {.modality = "image",
          .encoder = "efficientnet_lite0",
          .weights_id = "sha256:0123abcd",
          .preprocessing = {{"type", "image"}, {"size", 128}, {"resize", "crop"}, {"mean", {0.5, 0.5, 0.5}}},
          .feature_shape = {3, 2}};
}

/// A sample with one image file (written so it exists and has a size).
inline xib::Sample sample(const TempDir& dir, const std::string& id, const std::string& file,
                          const std::string& content = "x") {
  Sample s;
  s.id = id;
  s.inputs["image"] = {dir.write(file, content)};
  return s;
}

inline xib::FeatureArray values(float base) {
  FeatureArray a{.shape = {3, 2}};
  for (int i = 0; i < 6; ++i) a.values.push_back(base + 0.25f * static_cast<float>(i) - 1.0f / 3.0f);
  return a;
}

/// The report of the error `f` throws as T (fails the test when it throws nothing or another kind).
template <class T, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const T& e) {
    return e.report();
  } catch (const std::exception& e) {
    FAIL("threw another error: " << e.what());
  }
  FAIL("threw nothing");
  return {};
}

inline CommandResult h5py(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kPython, (xib::test::source_dir() / "tests/io/h5py_feature_cache.py").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = xib::test::run_command(argv);
  REQUIRE_MESSAGE(r.err.find("No module named 'h5py'") == std::string::npos,
                  "h5py is missing from /usr/bin/python3: install python3-h5py (scripts/setup-deps.sh)");
  return r;
}

inline std::string normal(const std::filesystem::path& p) {
  return std::filesystem::absolute(p).lexically_normal().string();
}

}  // namespace xib::test
