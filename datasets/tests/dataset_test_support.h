// Helpers of the datasets plugin's tests: fixture paths and reader sections.
#pragma once

#include <filesystem>
#include <string>

#include "xib/config.h"
#include "xib/datasets/lavis_reader.h"

namespace xib::test {

inline std::filesystem::path dataset_data() { return XIB_DATASETS_TEST_DATA; }

/// A recipe section (YAML text) whose relative paths resolve against the fixture folder.
inline ConfigSection data_section(const std::string& yaml) {
  return ConfigSource::from_string(yaml, "recipe.yaml", dataset_data())->section();
}

inline datasets::LavisDataset open_lavis(const std::string& yaml) {
  return datasets::LavisDataset(bind<datasets::LavisReaderOptions>(data_section(yaml)));
}

template <class E, class F>
std::string report_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.report();
  }
  return "<no error of the expected type>";
}

}  // namespace xib::test
