// The training loop (run_training_loop) and the single-process update strategy
// (xib/train/trainer.h).
#include "xib/train/trainer.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <limits>

#include "xib/dataset.h"
#include "xib/device.h"
#include "xib/error.h"
#include "xib/train/adamw.h"
#include "xib/train/grad_clip.h"
#include "xib/train/lr_schedule.h"

namespace xib::train {

nlohmann::json StepRecord::to_json() const {
  nlohmann::json j = {
      {"step", step},       {"loss", loss},
      {"lr", lr},           {"grad_norm", grad_norm},
      {"samples", samples}, {"samples_per_s", seconds > 0 ? static_cast<double>(samples) / seconds : 0.0},
      {"step_s", seconds},  {"epoch", epoch},
      {"skipped", skipped}};
  if (skipped_batches > 0) j["skipped_batches"] = skipped_batches;
  return j;
}

namespace {

/// Micro-batches in a row with no sample left before a run gives up.
constexpr int64_t kMaxEmptyBatches = 100;

class SingleProcessUpdate final : public UpdateStrategy {
 public:
  int64_t rank() const override { return 0; }
  int64_t world_size() const override { return 1; }

  StepRecord update(TrainState& state, BatchSource& batches, int64_t accumulate, double max_grad_norm,
                    double lr) override {
    const auto t0 = std::chrono::steady_clock::now();
    StepRecord r{.step = state.step + 1, .lr = lr};
    state.optimizer.zero_grad();
    double loss_sum = 0;
    int64_t empty_in_a_row = 0;
    for (int64_t micro = 0; micro < accumulate;) {
      const EncodedBatch b = batches.next();
      r.skipped_ids.insert(r.skipped_ids.end(), b.features.skipped_ids.begin(), b.features.skipped_ids.end());
      r.skipped_reasons.insert(r.skipped_reasons.end(), b.features.skipped_reasons.begin(),
                               b.features.skipped_reasons.end());
      if (b.features.kept.empty()) {
        // Every sample was skipped: nothing to learn from, and no step to count or log as loss 0.
        ++r.skipped_batches;
        if (++empty_in_a_row >= kMaxEmptyBatches) {
          throw Error(
              {.what = fmt::format("{} micro-batches in a row had every sample skipped as undecodable", empty_in_a_row),
               .where = fmt::format("step {}", r.step),
               .got = fmt::format("e.g. '{}'", r.skipped_ids.empty() ? "?" : r.skipped_ids.back()),
               .hint = "the data's files cannot be decoded: check them, or set model.skip_undecodable: "
                       "false to see the first error"});
        }
        continue;
      }
      empty_in_a_row = 0;
      ++micro;
      Tensor loss;
      {
        AutocastScope autocast(state.device.type(), at::kBFloat16, state.bf16);
        loss = state.model.loss(b.samples, b.features);
      }
      if (loss.requires_grad()) (loss / static_cast<double>(accumulate)).backward();
      loss_sum += loss.item<double>();
      r.samples += static_cast<int64_t>(b.features.kept.size());
    }
    r.skipped = static_cast<int64_t>(r.skipped_ids.size());
    // Without clipping the norm is still measured (a coefficient clamped to 1 changes nothing).
    r.grad_norm = clip_grad_norm(state.params, max_grad_norm > 0 ? max_grad_norm : std::numeric_limits<double>::max());
    state.optimizer.step(lr);
    r.loss = loss_sum / static_cast<double>(accumulate);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
  }
};

}  // namespace

std::unique_ptr<UpdateStrategy> single_process_update() { return std::make_unique<SingleProcessUpdate>(); }

void run_training_loop(TrainState& state, UpdateStrategy& update, BatchSource& batches,
                       const std::vector<TrainObserver*>& observers, int64_t total_steps, int64_t accumulate,
                       double max_grad_norm) {
  state.batches = &batches;
  state.model.set_training(true);
  for (TrainObserver* o : observers) o->on_start(state);
  while (state.step < total_steps && state.stop_reason.empty()) {
    StepRecord r = update.update(state, batches, accumulate, max_grad_norm, state.schedule.lr_at(state.step));
    state.step = r.step;
    ++state.steps_this_process;
    // Completed epochs of the first dataset, as of the batches taken (not the ones prefetched).
    // resume_point() returns a copy: keep it alive while its datasets are read.
    const ResumePoint at = batches.resume_point();
    const nlohmann::json& datasets = at.stream.at("datasets");
    r.epoch = datasets.empty() ? 0 : datasets.front().at("epoch").get<int64_t>();
    state.skipped_ids.insert(state.skipped_ids.end(), r.skipped_ids.begin(), r.skipped_ids.end());
    for (const auto& why : r.skipped_reasons) ++state.skipped_by_reason[why];
    state.skipped_batches += r.skipped_batches;
    if (!std::isfinite(r.loss)) {
      for (TrainObserver* o : observers) o->on_failure(state, r);
      throw Error({.what = fmt::format("the loss is not finite at step {} ({})", r.step, r.loss),
                   .where = state.run_dir.string(),
                   .hint = "lower run.lr, set run.max_grad_norm, or check the data; a checkpoint of this step "
                           "was written for inspection"});
    }
    for (TrainObserver* o : observers) o->on_step(state, r);
  }
  for (TrainObserver* o : observers) o->on_end(state);
}

}  // namespace xib::train
