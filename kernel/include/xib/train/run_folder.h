// What a training run does with its run folder (run.out, run.resume, run.overwrite):
//
//   run_dir/config.yaml  metrics.jsonl  report.md  loss.svg  lr.svg  checkpoints/{step-…, latest}
//
// plan_run_folder() reads the folder before anything is built and decides one of three starts:
//   resume   — from the checkpoint that checkpoints/latest names (the single source of truth:
//              step folders newer than it belong to a run that was abandoned); when that one is
//              damaged, from the newest older intact one, with a warning;
//   fresh    — the folder holds no previous run;
//   replace  — a previous run is there and is not resumed: only with run.overwrite=true (or when
//              it never reached a checkpoint and run.resume=true). Otherwise a ConfigError says
//              what is there and how to go on, and nothing is touched.
// Nothing is written until the run really starts (its first step is done):
// begin_run_folder() then moves the previous run's files aside and removes them (replace), or
// cuts metrics.jsonl back to the resumed step and drops the checkpoints newer than it (resume),
// and writes config.yaml. A run that fails before its first step leaves the folder as it was.
//
//   const RunFolderPlan plan = plan_run_folder(o.out, o.resume, o.overwrite);   // may throw
//   … build the model, read plan.checkpoint, run …
//   begin_run_folder(o.out, plan, yaml_text(effective));                        // first write
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xib/train/checkpoint_folder.h"

namespace xib::train {

enum class RunStart { fresh, resume, replace };

struct RunFolderPlan {
  RunStart start = RunStart::fresh;
  std::optional<std::filesystem::path> checkpoint = {};  ///< resume: the checkpoint to load
  int64_t step = 0;                                      ///< resume: its step
  std::vector<std::string> previous = {};                ///< replace: the files of the previous run
  std::vector<SkippedCheckpoint> skipped = {};           ///< checkpoints passed over, and why
};

/// Decides how a run starts in `run_dir` (reads only; stale temporary folders of dead writers
/// are removed). ConfigError when `resume` is false and a previous run is there without
/// `overwrite`; FormatError (listing each) when every checkpoint is damaged and `overwrite` is false.
RunFolderPlan plan_run_folder(const std::filesystem::path& run_dir, bool resume, bool overwrite);

/// Makes the folder this run's, as planned, and writes `config_yaml` to config.yaml. IoError
/// naming the file when something cannot be moved or written.
void begin_run_folder(const std::filesystem::path& run_dir, const RunFolderPlan& plan, std::string_view config_yaml);

/// Rewrites a metrics JSONL file (atomically) with only the records whose "step" is at most
/// `step`; a torn last line is dropped. Returns the number of records removed. Nothing happens
/// when the file does not exist.
int64_t cut_metrics(const std::filesystem::path& file, int64_t step);

/// The files of a run folder that belong to a run (config, metrics, report, plots, checkpoints).
std::vector<std::string> run_files_in(const std::filesystem::path& run_dir);

}  // namespace xib::train
