// The learning-rate schedule: warm-up, then cosine/linear/constant decay per step or per epoch.
#include "xib/train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "xib/error.h"

namespace xib::train {

void LrScheduleOptions::validate(Validator& v) const {
  const bool lr_ok = lr > 0 && std::isfinite(lr);
  v.require(lr_ok, "lr", "a positive number", lr);
  // Compared with lr only when lr itself is valid: one mistake, one message.
  v.require(min_lr >= 0 && (!lr_ok || min_lr <= lr), "min_lr",
            lr_ok ? fmt::format("a number in [0, lr = {}]", lr) : "a number ≥ 0", min_lr);
  v.require(warmup_start_lr >= 0 && (!lr_ok || warmup_start_lr <= lr), "warmup_start_lr",
            lr_ok ? fmt::format("a number in [0, lr = {}]", lr) : "a number ≥ 0", warmup_start_lr);
  v.require(total_steps > 0, "total_steps", "a positive number of optimizer steps", total_steps);
  v.require(warmup_steps >= 0 && warmup_steps <= total_steps, "warmup_steps",
            fmt::format("a number in [0, total_steps = {}]", total_steps), warmup_steps);
  v.one_of("decay", decay, {"cosine", "linear", "constant"});
  v.require(steps_per_epoch >= 0, "steps_per_epoch", "0 (decay per step) or a positive number of steps",
            steps_per_epoch);
}

LrSchedule::LrSchedule(LrScheduleOptions options) : o_(std::move(options)) {
  Validator v(ConfigSection{});
  o_.validate(v);
  v.finish();
}

double LrSchedule::lr_at(int64_t step) const {
  if (step < 0)
    throw UsageError(
        {.what = "learning-rate schedule: negative step", .expected = "a step >= 0", .got = std::to_string(step)});
  if (step < o_.warmup_steps) {
    // LAVIS warmup_lr_schedule(): min(max_lr, init_lr + (max_lr - init_lr) * step / max(max_step, 1)).
    return std::min(o_.lr, o_.warmup_start_lr + (o_.lr - o_.warmup_start_lr) * static_cast<double>(step) /
                                                    static_cast<double>(std::max<int64_t>(o_.warmup_steps, 1)));
  }
  if (o_.decay == "constant") return o_.lr;
  // Progress through the decay as num / den (kept apart so cos(pi * num / den) rounds as upstream's).
  double num = 0, den = 1;
  if (o_.steps_per_epoch > 0) {
    num = static_cast<double>(step / o_.steps_per_epoch);
    den = static_cast<double>((o_.total_steps + o_.steps_per_epoch - 1) / o_.steps_per_epoch);
  } else if (o_.total_steps > o_.warmup_steps) {
    num = static_cast<double>(step - o_.warmup_steps);
    den = static_cast<double>(o_.total_steps - o_.warmup_steps);
  } else {
    num = 1;  // all steps were warm-up: past them the decay is over
  }
  num = std::min(num, den);
  if (o_.decay == "linear") return o_.lr - (o_.lr - o_.min_lr) * num / den;
  // LAVIS cosine_lr_schedule(): (init_lr - min_lr) * 0.5 * (1 + cos(pi * epoch / max_epoch)) + min_lr.
  return (o_.lr - o_.min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * num / den)) + o_.min_lr;
}

double lr_at(const LrScheduleOptions& options, int64_t step) { return LrSchedule(options).lr_at(step); }

}  // namespace xib::train
