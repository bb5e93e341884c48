// A run folder's checkpoints, crash-safe:
//
//   run_dir/checkpoints/step-00001000/state.safetensors   every tensor (model, optimizer, RNG)
//   run_dir/checkpoints/step-00001000/checkpoint.json     format version, step, the caller's
//                                                        meta, size and SHA-256 of the state
//   run_dir/checkpoints/latest                           "step-00001000\n": the run's checkpoint
//
// write_checkpoint() fills a temporary folder (checkpoints/.tmp-step-…-<pid>-<n>), fsyncs its
// files and the folder, renames it into place, fsyncs checkpoints/, then replaces `latest`
// (temporary file + rename) and removes the oldest checkpoints beyond `keep_last`. A crash at
// any point leaves either the previous set of checkpoints or the new one, never a folder named
// step-… that is incomplete. `latest` is the single source of truth: find_latest_checkpoint()
// scans the step-… folders up to the one `latest` names (newest first; all of them when there is
// no `latest`) and returns the first whose checkpoint.json parses, whose format version is known
// and whose state file has the recorded size and hash. Folders of later steps are left by a crash
// between a checkpoint's rename and `latest`'s update, or by an abandoned run, and are ignored.
//
//   train::write_checkpoint(run, step, tensors, {{"recipe", …}, {"data", …}}, {.keep_last = 3});
//   if (auto dir = train::find_latest_checkpoint(run)) { auto c = train::read_checkpoint(*dir); … }
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "xib/config.h"
#include "xib/train/checkpoint_folder.h"
#include "xib/train/named_tensors.h"

namespace xib::train {

/// Version of checkpoint.json's layout; read_checkpoint() refuses any other.
inline constexpr int kCheckpointFormatVersion = 1;

struct CheckpointOptions {
  int64_t keep_last = 3;  ///< complete checkpoints kept (the newest); 0 keeps all

  template <class V>
  void fields(V& v) {
    v("keep_last", keep_last, "checkpoints kept, newest first (0: all)");
  }
  void validate(Validator& v) const;
};

/// Writes checkpoint `step` of `run_dir` (created if needed) and returns its folder. Tensors are
/// stored on the CPU, contiguous, in the given order and dtype (names unique). `meta` is the
/// caller's (recipe, model ids, data position, …) and comes back unchanged from read_checkpoint().
/// An existing checkpoint of the same step is replaced. IoError when something cannot be
/// written (nothing partial is left behind under a step-… name).
std::filesystem::path write_checkpoint(const std::filesystem::path& run_dir, int64_t step, const NamedTensors& tensors,
                                       const nlohmann::json& meta, const CheckpointOptions& options = {});

/// One checkpoint, read back.
struct Checkpoint {
  std::filesystem::path dir = {};
  int64_t step = 0;
  NamedTensors tensors = {};  ///< owning CPU tensors, in the order written
  nlohmann::json meta = {};   ///< as given to write_checkpoint()

  /// NotFoundError (naming the nearest stored name) when absent.
  const Tensor& tensor(std::string_view name) const;
};

/// Reads a checkpoint folder. FormatError (naming the file, expected, got and a hint) when
/// checkpoint.json is malformed, its format version is not kCheckpointFormatVersion, or the state
/// file's size or SHA-256 differs from the recorded one; IoError when a file cannot be read.
/// With `only_prefix`, only the tensors whose names start with it are loaded (names kept whole):
/// "model/" reads the trainable parameters without the optimizer state.
Checkpoint read_checkpoint(const std::filesystem::path& dir, std::string_view only_prefix = {});

}  // namespace xib::train
