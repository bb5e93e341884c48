// A run folder's checkpoints as folders (xib/train/checkpoint.h has the layout and the writer):
// their names, which one `latest` names, finding the newest complete one, verifying one, and
// dropping those of an abandoned run. Torch-free: nothing here loads tensors.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace xib::train {

/// "step-00001000" (8 digits, more when the step needs them).
std::string checkpoint_dir_name(int64_t step);

/// Problems that make `dir` unusable, empty when it is a complete checkpoint (the checks of
/// read_checkpoint() short of loading the tensors).
std::vector<std::string> verify_checkpoint(const std::filesystem::path& dir);

/// Complete checkpoints of `run_dir` as (step, folder), oldest first, without verifying hashes.
std::vector<std::pair<int64_t, std::filesystem::path>> list_checkpoints(const std::filesystem::path& run_dir);

/// The step `checkpoints/latest` names; nullopt when it is absent or unreadable.
std::optional<int64_t> latest_checkpoint_step(const std::filesystem::path& run_dir);

/// The step-… folders of a run folder, split by the step `checkpoints/latest` names.
struct RunCheckpoints {
  /// At or before `latest` (all of them when it names none): the run's own, newest first.
  std::vector<std::pair<int64_t, std::filesystem::path>> own = {};
  /// After `latest`: left by a crash between a checkpoint's rename and `latest`'s update, or by
  /// an abandoned run. Never resumed or loaded unless asked for by step.
  std::vector<std::pair<int64_t, std::filesystem::path>> after_latest = {};
  std::optional<int64_t> latest = {};  ///< the step `latest` names
};

/// Every step-… folder of `run_dir` (complete or not), judged against `latest`. Read-only.
RunCheckpoints run_checkpoints(const std::filesystem::path& run_dir);

/// A checkpoint folder passed over by find_latest_checkpoint(), and why.
struct SkippedCheckpoint {
  std::filesystem::path dir;
  /// Newer than the checkpoint `latest` names (not damaged: it belongs to no resumable run).
  bool after_latest = false;
  std::string why = {};
  /// "<dir>: <why>"
  std::string text() const { return dir.string() + ": " + why; }
};

/// The newest of the run's own checkpoints (run_checkpoints().own) that verify_checkpoint()
/// accepts, or nullopt when there is none. Those passed over are logged and, when `skipped` is
/// given, listed there: damaged ones, and every folder after `latest`. Temporary folders left by
/// interrupted writes (.tmp-…, .trash-…, whose writing process is gone, or is this process: do
/// not call it while this process writes a checkpoint) are removed.
std::optional<std::filesystem::path> find_latest_checkpoint(const std::filesystem::path& run_dir,
                                                            std::vector<SkippedCheckpoint>* skipped = nullptr);

/// Removes the step-… folders of `run_dir` newer than `step` (each moved aside, then deleted)
/// and makes `latest` name step-<step>: a run resumed from `step` abandons what came after it.
/// Returns how many folders were removed.
int64_t drop_checkpoints_after(const std::filesystem::path& run_dir, int64_t step);

}  // namespace xib::train
