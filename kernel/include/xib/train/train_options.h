// `kind: train` — train the aligners of a model against its frozen LLM. The recipe:
//
//   kind: train
//   model: {llm: {…}, prompt: {…}, modalities: {image: {…}}}      # xib/xinstructblip.h
//   data:  {train: [{reader: caption, path: …}], batch_size: 8, mixing: sqrt, seed: 42}
//   run:   {out: runs/x, steps: 120, lr: 1e-4, warmup_steps: 12, accumulate: 1, max_grad_norm: 1.0,
//           checkpoint_every: 50, resume: true, …}
//
// The run folder receives config.yaml (the effective recipe), metrics.jsonl, checkpoints/,
// loss.svg, lr.svg and report.md. `xib run` on the same recipe resumes from the newest complete
// checkpoint; SIGINT/SIGTERM stop after the current step with a final checkpoint.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "xib/config.h"
#include "xib/dataset.h"
#include "xib/feature_cache.h"
#include "xib/train/adamw.h"
#include "xib/train/lr_schedule.h"
#include "xib/xinstructblip.h"

namespace xib::train {

/// The recipe's `run:` section.
struct RunOptions {
  std::filesystem::path out = "runs/train";  ///< the run folder (relative to the recipe)
  int64_t steps = 100;                       ///< optimizer steps of the whole run
  int64_t accumulate = 1;                    ///< micro-batches per optimizer step
  double max_grad_norm = 0.0;                ///< clip the global gradient norm (0: off)
  /// The learning-rate curve: lr, min_lr, warmup_steps, warmup_start_lr, decay, steps_per_epoch
  /// as keys of run: itself; its total_steps is `steps` (schedule()).
  LrScheduleOptions curve = {};
  AdamWOptions optimizer = {};
  int64_t seed = 42;
  int threads = 0;                ///< 0: every core of the process's affinity
  int64_t checkpoint_every = 0;   ///< also save every N steps (0: only at the end / on a stop)
  int64_t keep_checkpoints = 3;   ///< newest checkpoints kept (0: all)
  bool resume = true;             ///< continue from the checkpoint `out`/checkpoints/latest names
  bool overwrite = false;         ///< a run that is not resumed may replace a previous run in `out`
  int64_t stop_after = 0;         ///< stop (as on SIGTERM) after this many steps of this process; 0 off
  std::string device = "cpu";     ///< cpu | cuda | cuda:N: the LLM, the aligners and the optimizer state
  std::string precision = "f32";  ///< f32 | bf16 (autocast of the forward pass on `device`)
  /// Frozen-encoder features from an HDF5 file (xib/feature_cache.h; no augmentation).
  FeatureCacheOptions feature_cache = {};

  template <class V>
  void fields(V& v) {
    v("out", out, "run folder: config, metrics, checkpoints, plots, report");
    v("steps", steps, "optimizer steps of the whole run");
    v("accumulate", accumulate, "micro-batches whose gradients are summed per optimizer step");
    v("max_grad_norm", max_grad_norm, "clip the global L2 norm of the gradients to this (0: off)");
    curve.curve_fields(v);
    v("optimizer", optimizer, "AdamW: beta1, beta2, eps, weight_decay");
    v("seed", seed, "seeds LibTorch, the data order and the augmentations");
    v("threads", threads, "CPU threads (0: all cores this process may use)");
    v("checkpoint_every", checkpoint_every, "save a checkpoint every N steps (0: only at the end)");
    v("keep_checkpoints", keep_checkpoints, "newest checkpoints kept (0: all)");
    v("resume", resume, "continue from the run folder's checkpoint (checkpoints/latest)");
    v("overwrite", overwrite,
      "replace a previous run in the run folder that is not resumed (resume=false, or all checkpoints damaged)");
    v("stop_after", stop_after, "stop cleanly after this many steps of this process (0: off)");
    v("device", device, "cpu | cuda | cuda:N: where the LLM, the aligners and the optimizer state live");
    v("precision", precision, "f32 | bf16: autocast the forward pass (matrix products in bf16, parameters f32)");
    v("feature_cache", feature_cache,
      "{path: features.h5, build: true}: read the frozen encoders' features from a cache");
  }
  void validate(Validator& v) const;
  /// The learning-rate schedule of the run: `curve` over `steps` optimizer steps.
  LrScheduleOptions schedule() const {
    LrScheduleOptions s = curve;
    s.total_steps = steps;
    return s;
  }
};

/// The whole `kind: train` recipe.
struct TrainRecipe {
  std::string description = {};
  ModelOptions model = {};
  DataOptions data = {};
  RunOptions run = {};

  template <class V>
  void fields(V& v) {
    v("description", description, "what this run is for (goes into the report)");
    v("model", model, "the language model, prompt and modalities");
    v("data", data, "training datasets and batching");
    v("run", run, "steps, optimisation, checkpoints and the run folder");
  }
};

/// Runs a bound recipe (what `xib run` does for `kind: train`); returns the exit code.
int run_train(const TrainRecipe& recipe, const ConfigSource& source);

}  // namespace xib::train
