// Learning-rate schedule: linear warm-up from `warmup_start_lr` to `lr`, then cosine, linear or
// constant decay to `min_lr`. Torch-free and pure: lr_at(step) depends on the options only, so a
// resumed run continues the same curve.
//
//   warm-up  (step < warmup_steps): min(lr, warmup_start_lr + (lr - warmup_start_lr) * step / warmup_steps)
//   per step (steps_per_epoch = 0): p = (step - warmup_steps) / (total_steps - warmup_steps)
//   per epoch (steps_per_epoch > 0, LAVIS LinearWarmupCosineLRScheduler's "inner epochs"):
//            p = floor(step / steps_per_epoch) / ceil(total_steps / steps_per_epoch)
//   cosine: min_lr + (lr - min_lr) * 0.5 * (1 + cos(pi * p));  linear: lr - (lr - min_lr) * p
//   p is clamped to [0, 1]; steps are 0-based (lr_at(0) is the rate of the first update).
#pragma once

#include <cstdint>
#include <string>

#include "xib/config.h"

namespace xib::train {

struct LrScheduleOptions {
  double lr = 1e-5;     ///< peak
  double min_lr = 0.0;  ///< end of the decay
  int64_t warmup_steps = 1000;
  double warmup_start_lr = 1e-8;
  int64_t total_steps = 65000;   ///< optimizer steps of the whole run
  std::string decay = "cosine";  ///< cosine | linear | constant
  int64_t steps_per_epoch = 0;   ///< 0: decay every step; > 0: once per epoch of this many steps

  /// The keys that shape the curve: all but total_steps (a training recipe's run.steps).
  template <class V>
  void curve_fields(V& v) {
    v("lr", lr, "peak learning rate");
    v("min_lr", min_lr, "learning rate at the end of the decay");
    v("warmup_steps", warmup_steps, "steps of linear warm-up from warmup_start_lr");
    v("warmup_start_lr", warmup_start_lr, "learning rate of the first warm-up step");
    v("decay", decay, "after warm-up: cosine | linear | constant");
    v("steps_per_epoch", steps_per_epoch, "0: decay every step; > 0: once per epoch of this many steps (LAVIS)");
  }
  template <class V>
  void fields(V& v) {
    curve_fields(v);
    v("total_steps", total_steps, "optimizer steps of the whole run");
  }
  void validate(Validator& v) const;
};

class LrSchedule {
 public:
  /// Validates `options` (ConfigError listing every problem).
  explicit LrSchedule(LrScheduleOptions options);
  /// The learning rate of optimizer step `step` (0-based; negative steps are a UsageError).
  double lr_at(int64_t step) const;
  const LrScheduleOptions& options() const { return o_; }

 private:
  LrScheduleOptions o_;
};

/// LrSchedule(options).lr_at(step).
double lr_at(const LrScheduleOptions& options, int64_t step);

}  // namespace xib::train
