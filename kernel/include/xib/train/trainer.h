// The training loop's seams (in the spirit of marian's training loop): a TrainState that holds
// the run, a BatchSource that hands out encoded micro-batches (prepared on a worker thread one
// batch ahead), an UpdateStrategy that turns micro-batches into one optimizer step, and
// TrainObservers that react to the run's events (metrics, progress, checkpoints, the report and
// plots, stop requests). `kind: train` (xib/train/train_options.h) assembles them:
//
//   TrainState state{…};                                 // model, optimizer, schedule, stream
//   auto update = single_process_update();               // data-parallel: with the distributed issue
//   BatchPrefetcher batches(state, feature_cache);       // worker thread, one batch ahead
//   run_training_loop(state, *update, batches, observers);
//
// Data-parallel training keeps the same loop: each rank's stream yields its slice of the
// global batch (xib/dataset.h), the strategy reduces the gradients, and only rank 0 attaches
// observers that write files.
#pragma once

#include <c10/core/Device.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xib/train/named_tensors.h"
#include "xib/train/run_folder.h"
#include "xib/xinstructblip.h"

namespace xib {
class DataStream;
class FeatureCache;
class ConfigSource;
}  // namespace xib

namespace xib::train {

class AdamW;
class LrSchedule;
struct TrainRecipe;
struct RunSummary;

/// One optimizer step, as metrics.jsonl records it.
struct StepRecord {
  int64_t step = 0;  ///< 1-based: the step just taken
  double loss = 0;   ///< mean over the micro-batches that had samples
  double lr = 0;
  double grad_norm = 0;  ///< before clipping
  int64_t samples = 0;   ///< kept samples (all ranks)
  int64_t skipped = 0;   ///< samples skipped as undecodable (all ranks)
  /// Micro-batches drawn in which every sample was skipped: they do not count towards the step.
  int64_t skipped_batches = 0;
  double seconds = 0;
  int64_t epoch = 0;  ///< completed epochs of the first dataset
  std::vector<std::string> skipped_ids = {};
  std::vector<std::string> skipped_reasons = {};  ///< parallel to skipped_ids
  nlohmann::json to_json() const;
};

/// Where the data is, to resume exactly: the stream's state and the processors' augmentation
/// streams as of the next micro-batch the loop has not taken yet.
struct ResumePoint {
  nlohmann::json stream = {};
  NamedTensors processor_rngs = {};  ///< "rng/processor.<modality>" → state
};

/// One micro-batch, its samples encoded by the frozen encoders.
struct EncodedBatch {
  std::vector<Sample> samples = {};
  EncodedFeatures features = {};
};

/// Hands out the run's micro-batches in order.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  /// The next micro-batch; errors met while preparing it (a file that cannot be decoded,
  /// naming the sample) are thrown here.
  virtual EncodedBatch next() = 0;
  /// Where the stream stands for a checkpoint written now (prefetched batches not counted).
  virtual ResumePoint resume_point() = 0;
};

/// Everything the loop, the update strategy and the observers share.
struct TrainState {
  const TrainRecipe& recipe;
  const ConfigSource& source;
  XInstructBlip& model;
  NamedTensors& params;  ///< the trainable parameters ("<modality>.<name>")
  AdamW& optimizer;
  const LrSchedule& schedule;
  c10::Device device;
  bool bf16 = false;
  int64_t rank = 0;
  int64_t world_size = 1;
  std::filesystem::path run_dir = {};
  nlohmann::json frozen = {};  ///< identities of the frozen models (xib/trained_run.h)
  YAML::Node effective = {};   ///< the effective recipe (config.yaml)
  int64_t step = 0;            ///< optimizer steps done, this run's whole history
  int64_t start_step = 0;      ///< the step this process started (resumed) at
  int64_t steps_this_process = 0;
  /// Set by an observer ("SIGINT", "run.stop_after", …) to end the loop after this step.
  std::string stop_reason = {};
  int stop_signal = 0;  ///< the signal behind stop_reason, or 0
  /// The run folder is this run's: set by the run-folder observer before the run's first write
  /// (after its first step); the other observers write nothing before (xib/train/run_folder.h).
  bool folder_begun = false;
  BatchSource* batches = nullptr;                         ///< for resume points
  std::vector<std::string> skipped_ids = {};              ///< every sample skipped by this process
  std::map<std::string, int64_t> skipped_by_reason = {};  ///< this process's skipped samples by reason
  int64_t skipped_batches = 0;                            ///< this process's micro-batches with no sample left
};

class TrainObserver {
 public:
  virtual ~TrainObserver() = default;
  /// Before the first step of this process (after a resume).
  virtual void on_start(TrainState& state) {}
  /// After each optimizer step, in the order the observers were given.
  virtual void on_step(TrainState& state, const StepRecord& record) {}
  /// A step whose loss is not finite: before the loop throws.
  virtual void on_failure(TrainState& state, const StepRecord& record) {}
  /// After the last step of this process (finished, or stopped on request).
  virtual void on_end(TrainState& state) {}
};

/// How micro-batches become one optimizer step.
class UpdateStrategy {
 public:
  virtual ~UpdateStrategy() = default;
  virtual int64_t rank() const = 0;
  virtual int64_t world_size() const = 0;
  /** `accumulate` micro-batches from `batches`: forward (autocast when state.bf16) and backward
      of each, the gradients combined (summed over micro-batches, averaged over ranks), clipped to
      `max_grad_norm` (0: measured only), then AdamW at `lr`. The record's step is state.step + 1. */
  virtual StepRecord update(TrainState& state, BatchSource& batches, int64_t accumulate, double max_grad_norm,
                            double lr) = 0;
};

/// One process: the gradients are its own.
std::unique_ptr<UpdateStrategy> single_process_update();

/// A BatchSource whose worker thread draws, decodes, preprocesses and encodes each micro-batch
/// (from the feature cache when given) one batch ahead of the loop, in a bounded queue. Errors
/// reach the main thread with the batch they belong to; stop() (and the destructor) ends the
/// worker after the batch in hand.
class BatchPrefetcher final : public BatchSource {
 public:
  struct Options {
    size_t depth = 1;  ///< batches prepared ahead
    /// The worker draws, decodes and preprocesses; the frozen encoders run in next(), on the
    /// loop's thread. For CPU-only runs, where encoder and step use the same cores: encoding
    /// beside the step only makes them compete (measured: docs/training.md).
    bool encode_in_loop = false;
  };
  /// The stream and the model's processors must not be used by anyone else while it lives.
  BatchPrefetcher(XInstructBlip& model, DataStream& stream, FeatureCache* cache, Options options);
  ~BatchPrefetcher() override;
  BatchPrefetcher(const BatchPrefetcher&) = delete;
  BatchPrefetcher& operator=(const BatchPrefetcher&) = delete;

  EncodedBatch next() override;
  ResumePoint resume_point() override;
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The processors' augmentation streams now, as checkpoint tensors.
NamedTensors processor_rng_tensors(XInstructBlip& model);
/// Restores them (a missing one is logged and restarts from its seed).
void restore_processor_rngs(XInstructBlip& model, const NamedTensors& tensors);

/** Runs optimizer steps until state.step reaches `total_steps` or an observer sets
    state.stop_reason: each step is update() then every observer's on_step(). A non-finite loss
    calls on_failure() and throws an Error. on_start() and on_end() bracket the loop. */
void run_training_loop(TrainState& state, UpdateStrategy& update, BatchSource& batches,
                       const std::vector<TrainObserver*>& observers, int64_t total_steps, int64_t accumulate,
                       double max_grad_norm);

/// The standard observers of `kind: train`. Those that write files go only to rank 0, after the
/// run-folder observer, which makes the folder the run's (begin_run_folder()) when the first step
/// is done (or fails): a run that fails before changes nothing.
std::unique_ptr<TrainObserver> run_folder_observer(RunFolderPlan plan, std::string config_yaml);
std::unique_ptr<TrainObserver> metrics_observer(bool append);           ///< metrics.jsonl
std::unique_ptr<TrainObserver> progress_observer(int64_t total_steps);  ///< progress bar
std::unique_ptr<TrainObserver> stop_observer(int64_t stop_after);       ///< SIGINT/SIGTERM, run.stop_after
/// Checkpoints every `every` steps before `total_steps` (0: none in between), at the end and on
/// a failure; keeps the newest `keep`. The summary learns the last checkpoint.
std::unique_ptr<TrainObserver> checkpoint_observer(int64_t every, int64_t keep, int64_t total_steps,
                                                   RunSummary& summary);
/// At the end: the summary completed (steps, times, skips, what stopped the run) and loss.svg,
/// lr.svg and report.md written from metrics.jsonl.
std::unique_ptr<TrainObserver> report_observer(RunSummary& summary, int64_t total_steps);
/// SIGKILLs the process right after step `step`'s other observers: what a crash leaves behind,
/// for tests ($XIB_TEST_KILL_AFTER_STEP in `kind: train`).
std::unique_ptr<TrainObserver> kill_after_step_observer(int64_t step);

}  // namespace xib::train
