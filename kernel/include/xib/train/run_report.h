// The end of a run: loss and learning-rate plots (SVG) and a Markdown report, from the run's
// metrics.jsonl and a summary the trainer fills in. Torch-free.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace xib::train {

struct ModalitySummary {
  std::string name, aligner, encoder;
  int64_t trainable_values = 0;
};

struct RunSummary {
  std::string recipe = {};
  std::string description = {};
  std::filesystem::path run_dir = {};
  int64_t total_steps = 0;
  int64_t start_step = 0;  ///< step this process resumed from (0: fresh)
  int64_t end_step = 0;
  int64_t steps_this_process = 0;
  int64_t batch_size = 0;  ///< samples per optimizer step (batch × accumulation)
  int64_t trainable_values = 0;
  std::string optimizer = {};
  std::string device = "cpu";     ///< run.device
  std::string precision = "f32";  ///< run.precision
  nlohmann::json frozen = {};
  std::vector<ModalitySummary> modalities = {};
  double seconds = 0;        ///< this process, set-up included
  double setup_seconds = 0;  ///< this process, before the first step
  double loop_seconds = 0;   ///< this process, training steps only
  int64_t skipped = 0;       ///< samples skipped by this process
  std::vector<std::string> skipped_examples = {};
  std::map<std::string, int64_t> skipped_by_reason = {};  ///< this process's skipped samples by reason
  int64_t skipped_batches = 0;  ///< this process's micro-batches with every sample skipped (not steps)
  std::string stopped_by = {};  ///< "SIGTERM", "SIGINT", "run.stop_after"; empty when finished
  std::filesystem::path last_checkpoint = {};
};

/// Writes loss.svg, lr.svg and report.md into summary.run_dir from its metrics.jsonl (the whole
/// run, across resumptions). Returns the report's text.
std::string write_run_report(const RunSummary& summary);

}  // namespace xib::train
