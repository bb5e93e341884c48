// A trained run, loaded for use: the model its `kind: train` recipe describes (run_dir/config.yaml,
// `model:` section) with the trainable aligner parameters of one of its checkpoints copied in.
// Read-only: nothing in the run folder is written, removed or cleaned up (a training process
// may still be writing there).
//
//   TrainedRun run = load_trained_run("runs/mini_image_qformer");      // newest complete checkpoint
//   run.model.encode(samples, /*training=*/false); …
//
// Relative paths in the run's `model:` section were resolved against the training recipe's
// folder; the trainer records that folder in each checkpoint (meta "recipe_dir"), and loading
// resolves them against it again. Checkpoints written before it was recorded resolve them
// against the folder that holds the run folder.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "xib/config.h"
#include "xib/xinstructblip.h"

namespace xib {

/// What identifies the frozen parts of a model — the LLM (name, hidden size, vocabulary,
/// tokenizer) and each modality's encoder (name, weights id, width). The trainer stores it in
/// every checkpoint (meta "frozen_models"); an aligner is only meaningful against the same ones.
nlohmann::json frozen_model_identities(XInstructBlip& model);

/// Number of trainable values (the aligners' parameters, summed numel).
int64_t trainable_values(const XInstructBlip& model);

struct TrainedRun {
  std::filesystem::path dir = {};         ///< the run folder
  std::filesystem::path checkpoint = {};  ///< the checkpoint folder loaded (…/checkpoints/step-…)
  int64_t step = 0;                       ///< its training step
  /// The run's config.yaml (the effective training recipe), relative paths resolving against the
  /// training recipe's folder.
  std::shared_ptr<ConfigSource> config = {};
  nlohmann::json frozen = {};  ///< frozen_model_identities() of the loaded model
  XInstructBlip model;         ///< aligners hold the checkpoint's values; evaluation mode
};

/** Loads `run_dir`: its config.yaml's `model:` section (plugins must be loaded), then checkpoint
    `step` (0: the newest complete one; incomplete or corrupt newer ones are skipped with a
    warning) → the aligners' parameters. Seeds everything with the run's run.seed first, as the
    trainer did, so parts built from random numbers (random_init encoders) come out the same. Errors, each naming the
   folder and a fix: NotFoundError for a missing run folder, a missing config.yaml, no complete checkpoint or no
   checkpoint of `step`; FormatError for a corrupt requested checkpoint; ConfigError when the frozen models differ from
   those the checkpoint was trained with; ShapeError listing every missing, unexpected and mis-shaped aligner tensor. */
TrainedRun load_trained_run(const std::filesystem::path& run_dir, int64_t step = 0);

}  // namespace xib
