// A tiny trained run for the tests of what reads one (kind: eval, xib ask): a tiny LLaMA and the
// fixture `segments` modality trained 4 steps, with caption and QA annotations over the same
// inputs, and helpers to write eval recipes and run xib on it.
#pragma once

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "e2e_support.h"
#include "test_support.h"

namespace xib::test {

inline const char* const kWords[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"};

/// A tiny trained run (dir/run) plus QA annotations over the same inputs (two questions each).
struct TrainedSetup {
  TempDir dir;
  int samples;
  explicit TrainedSetup(int n = 12) : samples(n) {
    write_tiny_llama(dir / "lm", 7);
    write_segments_world(dir.path(), n);
    nlohmann::json qa = nlohmann::json::array();
    for (int i = 0; i < n; ++i) {
      qa.push_back({{"image", fmt::format("segments/{}.txt", i)},
                    {"question", "what comes first?"},
                    {"answer", {kWords[i % 10]}},
                    {"question_id", fmt::format("q{}a", i)}});
      qa.push_back({{"image", fmt::format("segments/{}.txt", i)},
                    {"question", "what comes second?"},
                    {"answer", {kWords[(i * 7 + 3) % 10]}},
                    {"question_id", fmt::format("q{}b", i)}});
    }
    std::ofstream(dir / "qa.json") << qa.dump(1);
    dir.write("train.yaml", train_recipe("qformer", "steps: 4\n  lr: 1.0e-3\n  warmup_steps: 1\n  threads: 1"));
    const auto r = run_xib({"run", (dir / "train.yaml").string(), "--plugin-dir", engine_plugin_dir().string()});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  }
  std::filesystem::path run() const { return dir / "run"; }

  /// An eval recipe over the run; `extra` adds top-level keys. (The readers want templates for a
  /// modality they have none for, though evaluation uses the fixed instruction / the question.)
  std::filesystem::path eval_recipe(const std::string& name, const std::string& extra) const {
    return dir.write(name, fmt::format(R"(kind: eval
run: run
data:
  test:
    - {{reader: caption, path: captions.json, modality: segments, instructions: ["a short description"]}}
    - {{reader: qa, path: qa.json, modality: segments, instructions: ["{{question}}"]}}
batch_size: 4
threads: 1
generate:
  caption: {{num_beams: 2, max_new_tokens: 6, min_new_tokens: 2}}
  qa: {{num_beams: 2, max_new_tokens: 3}}
{}
)",
                                       extra));
  }
  CommandResult xib(std::vector<std::string> args) const {
    args.push_back("--plugin-dir");
    args.push_back(engine_plugin_dir().string());
    return run_xib(args);
  }
  CommandResult eval(const std::filesystem::path& recipe, std::vector<std::string> sets = {}) const {
    std::vector<std::string> args = {"run", recipe.string()};
    for (auto& s : sets) {
      args.push_back("--set");
      args.push_back(s);
    }
    return xib(args);
  }
};

}  // namespace xib::test
