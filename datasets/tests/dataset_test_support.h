// Helpers of the datasets plugin's tests: fixture paths and reader sections.
#pragma once

#include <filesystem>
#include <string>

#include "xib/config.h"
#include "xib/datasets/lavis_reader.h"
#include "xib/prompts.h"

namespace xib::test {

inline std::filesystem::path dataset_data() { return XIB_DATASETS_TEST_DATA; }

/// Two templates per task of each test modality, as the modality plugins (not loaded by these
/// tests) would register theirs.
inline ModalityPrompts test_prompts(const std::string& m) {
  return {.cue = " " + m + ": ",
          .templates = {{"caption", {"describe the " + m + ".", "a caption of this " + m + " please."}},
                        {"qa", {"{question}", "about the " + m + ": {question} answer:"}}}};
}

/// Registers test_prompts() for image, video, audio and pc, once per process.
inline void register_test_prompts() {
  static const bool done = [] {
    Registrations reg;
    for (const std::string m : {"image", "video", "audio", "pc"}) {
      reg.add<ModalityPrompts>(m, prompts_factory(test_prompts(m)));
    }
    Registry::global().commit(std::move(reg.entries()));
    return true;
  }();
  (void)done;
}

/// A recipe section (YAML text) whose relative paths resolve against the fixture folder.
inline ConfigSection data_section(const std::string& yaml) {
  register_test_prompts();
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
