// The standard observers of `kind: train` (xib/train/trainer.h): stop requests, metrics.jsonl,
// the progress bar, checkpoints, and the report with its plots.
#include <ATen/ATen.h>

#include <chrono>
#include <csignal>

#include "xib/aligner.h"
#include "xib/metrics.h"
#include "xib/modality.h"
#include "xib/progress.h"
#include "xib/stop_signal.h"
#include "xib/train/adamw.h"
#include "xib/train/checkpoint.h"
#include "xib/train/rng_state.h"
#include "xib/train/run_report.h"
#include "xib/train/trainer.h"

namespace xib::train {

namespace {

/// SIGINT/SIGTERM (polled between steps) and run.stop_after end the loop after a step.
class StopObserver final : public TrainObserver {
 public:
  explicit StopObserver(int64_t stop_after) : stop_after_(stop_after) {}
  void on_start(TrainState& state) override { poll(state); }
  void on_step(TrainState& state, const StepRecord&) override {
    poll(state);
    if (state.stop_reason.empty() && stop_after_ > 0 && state.steps_this_process >= stop_after_) {
      state.stop_reason = "run.stop_after";
    }
  }

 private:
  void poll(TrainState& state) {
    if (!stop_.requested() || !state.stop_reason.empty()) return;
    state.stop_signal = stop_.signal();
    state.stop_reason = stop_.signal() ? stop_.signal_name() : "a stop request";
  }
  StopSignalScope stop_;
  int64_t stop_after_;
};

/// Makes the run folder the run's on its first write (xib/train/run_folder.h).
class RunFolderObserver final : public TrainObserver {
 public:
  RunFolderObserver(RunFolderPlan plan, std::string config) : plan_(std::move(plan)), config_(std::move(config)) {}
  void on_step(TrainState& state, const StepRecord&) override { begin(state); }
  void on_failure(TrainState& state, const StepRecord&) override { begin(state); }

 private:
  void begin(TrainState& state) {
    if (state.folder_begun) return;
    begin_run_folder(state.run_dir, plan_, config_);
    state.folder_begun = true;
  }
  RunFolderPlan plan_;
  std::string config_;
};

/// metrics.jsonl, opened on the first record (the run folder is the run's by then).
class MetricsObserver final : public TrainObserver {
 public:
  explicit MetricsObserver(bool append) : append_(append) {}
  void on_step(TrainState& state, const StepRecord& r) override { write(state, r); }
  void on_failure(TrainState& state, const StepRecord& r) override { write(state, r); }

 private:
  void write(TrainState& state, const StepRecord& r) {
    if (!state.folder_begun) return;
    if (!metrics_) metrics_ = std::make_unique<MetricsWriter>(state.run_dir / "metrics.jsonl", append_);
    metrics_->write(r.to_json());
  }
  bool append_;
  std::unique_ptr<MetricsWriter> metrics_;
};

class ProgressObserver final : public TrainObserver {
 public:
  explicit ProgressObserver(int64_t total) : total_(total) {}
  void on_start(TrainState& state) override {
    Progress::Options o;
    o.label = "train";
    o.total = total_;
    o.unit = "step";
    bar_ = std::make_unique<Progress>(o);
    bar_->set_done(state.step);
  }
  void on_step(TrainState& state, const StepRecord& r) override {
    bar_->set_metric("loss", r.loss);
    bar_->set_metric("lr", r.lr);
    bar_->set_done(state.step);
  }
  void on_end(TrainState&) override { bar_->finish(); }

 private:
  int64_t total_;
  std::unique_ptr<Progress> bar_;
};

class CheckpointObserver final : public TrainObserver {
 public:
  CheckpointObserver(int64_t every, int64_t keep, int64_t total, RunSummary& summary)
      : every_(every), keep_(keep), total_(total), summary_(summary) {}
  void on_start(TrainState& state) override { last_saved_ = state.step > 0 ? state.step : -1; }
  void on_step(TrainState& state, const StepRecord&) override {
    if (every_ > 0 && state.step % every_ == 0 && state.step < total_) save(state);
  }
  void on_failure(TrainState& state, const StepRecord&) override { save(state); }
  void on_end(TrainState& state) override {
    if (last_saved_ != state.step) save(state);
  }

 private:
  void save(TrainState& state) {
    if (!state.folder_begun) return;
    const ResumePoint at = state.batches->resume_point();
    NamedTensors tensors = with_prefix(state.params, "model/");
    append(tensors, with_prefix(state.optimizer.state_tensors(), "optim/"));
    append(tensors, rng_state_tensors());
    append(tensors, at.processor_rngs);
    for (const auto& name : state.model.modality_names()) {
      Tensor d = state.model.modality(name).aligner().dropout_rng_state();
      if (d.defined()) tensors.emplace_back("rng/aligner." + name, d);
    }
    int64_t trainable = 0;
    for (const auto& [name, p] : state.params) trainable += p.numel();
    const nlohmann::json meta = {{"kind", "xib.train"},
                                 {"recipe", yaml_text(state.effective)},
                                 {"recipe_dir", state.source.base_dir().string()},  // relative model paths
                                 {"frozen_models", state.frozen},
                                 {"data", at.stream},
                                 {"trainable", trainable}};
    summary_.last_checkpoint = write_checkpoint(state.run_dir, state.step, tensors, meta, {.keep_last = keep_});
    last_saved_ = state.step;
  }

  int64_t every_, keep_, total_;
  RunSummary& summary_;
  int64_t last_saved_ = -1;
};

class ReportObserver final : public TrainObserver {
 public:
  ReportObserver(RunSummary& summary, int64_t total) : summary_(summary), total_(total) {}
  void on_start(TrainState&) override { loop_start_ = std::chrono::steady_clock::now(); }
  void on_end(TrainState& state) override {
    if (!state.folder_begun) return;  // no step this time: the folder stays as it was
    const auto now = std::chrono::steady_clock::now();
    summary_.end_step = state.step;
    summary_.loop_seconds = std::chrono::duration<double>(now - loop_start_).count();
    summary_.seconds = summary_.loop_seconds + summary_.setup_seconds;
    summary_.steps_this_process = state.steps_this_process;
    summary_.skipped = static_cast<int64_t>(state.skipped_ids.size());
    summary_.skipped_examples = state.skipped_ids;
    summary_.skipped_by_reason = state.skipped_by_reason;
    summary_.skipped_batches = state.skipped_batches;
    if (!state.stop_reason.empty() && state.step < total_) summary_.stopped_by = state.stop_reason;
    write_run_report(summary_);
  }

 private:
  RunSummary& summary_;
  int64_t total_;
  std::chrono::steady_clock::time_point loop_start_;
};

/// A crash at a chosen point, for tests of what a killed run leaves behind.
class KillObserver final : public TrainObserver {
 public:
  explicit KillObserver(int64_t step) : step_(step) {}
  void on_step(TrainState& state, const StepRecord&) override {
    if (state.step == step_) ::raise(SIGKILL);
  }

 private:
  int64_t step_;
};

}  // namespace

std::unique_ptr<TrainObserver> kill_after_step_observer(int64_t step) { return std::make_unique<KillObserver>(step); }
std::unique_ptr<TrainObserver> run_folder_observer(RunFolderPlan plan, std::string config_yaml) {
  return std::make_unique<RunFolderObserver>(std::move(plan), std::move(config_yaml));
}
std::unique_ptr<TrainObserver> metrics_observer(bool append) { return std::make_unique<MetricsObserver>(append); }
std::unique_ptr<TrainObserver> progress_observer(int64_t total_steps) {
  return std::make_unique<ProgressObserver>(total_steps);
}
std::unique_ptr<TrainObserver> stop_observer(int64_t stop_after) { return std::make_unique<StopObserver>(stop_after); }
std::unique_ptr<TrainObserver> checkpoint_observer(int64_t every, int64_t keep, int64_t total_steps,
                                                   RunSummary& summary) {
  return std::make_unique<CheckpointObserver>(every, keep, total_steps, summary);
}
std::unique_ptr<TrainObserver> report_observer(RunSummary& summary, int64_t total_steps) {
  return std::make_unique<ReportObserver>(summary, total_steps);
}

}  // namespace xib::train
