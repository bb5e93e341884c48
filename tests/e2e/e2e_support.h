// End-to-end test helpers: a tiny random LLaMA (HF folder) that uses a small trained BPE
// tokenizer, a miniature "segments" world (LAVIS caption JSON + segment files), recipes, and a
// child `xib` process the tests can signal.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace xib::test {

/// Writes config.json, generation_config.json, tokenizer.json (the llama plugin's small BPE
/// fixture, 700 ids) and model.safetensors (N(0, 0.05) weights from `seed`, the output layer 10× larger) into `dir`.
void write_tiny_llama(const std::filesystem::path& dir, uint64_t seed, int64_t hidden = 64, int64_t layers = 2);

/// `n` samples: segments/<i>.txt (S segments × F numbers that depend on the sample) and
/// captions.json entries {"image": "segments/<i>.txt", "caption": …, "image_id": …} with a
/// caption that names the sample's numbers in words, so the input determines the answer.
void write_segments_world(const std::filesystem::path& dir, int n, int segments = 2, int features = 4);

/// A `kind: train` recipe over the two above (paths relative to `dir`), `run_yaml` spliced in as
/// the run section's keys ("steps: 10\n  lr: 1e-3").
std::string train_recipe(const std::string& aligner_type, const std::string& run_keys, int batch_size = 4,
                         const std::string& llm_path = "lm");

/// The folder holding the fixture "segments" modality plugin.
std::filesystem::path engine_plugin_dir();

/// A running `xib` child with stdout/stderr captured in files.
struct Child {
  pid_t pid = -1;
  std::filesystem::path out, err;
  /// Waits; returns the exit code, or 128 + signal when a signal ended it.
  int wait();
};
Child spawn_xib(const std::vector<std::string>& args, const std::filesystem::path& log_dir);

/// Lines of a run's metrics.jsonl (empty when absent).
std::vector<nlohmann::json> read_metrics(const std::filesystem::path& run_dir);

/// A folder with the tiny LM (or a cached one), a segments world of `samples` and a train
/// recipe ("train.yaml", run folder "run"); `xib run` on it, in this process or as a child.
struct TrainSetup {
  TempDir dir;
  explicit TrainSetup(int samples = 16, const std::string& aligner = "qformer", const std::string& run_keys = "",
                      int batch = 4, const std::string& llm = "lm");
  std::filesystem::path run() const { return dir / "run"; }
  CommandResult xib_run(const std::vector<std::string>& sets = {}, const std::vector<std::string>& env = {}) const;
  Child spawn(const std::vector<std::string>& sets = {}) const;
};

/// "exit N" and stderr, for failure messages.
std::string diagnose(const CommandResult& r);

/// Waits (up to 5 minutes) until the run's metrics have `n` records; fails the test otherwise.
void wait_for_steps(const std::filesystem::path& run, size_t n);

}  // namespace xib::test
