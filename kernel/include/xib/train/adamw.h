// AdamW as torch.optim.AdamW computes it (decoupled weight decay, bias correction, no amsgrad),
// with upstream's two parameter groups: weight decay for matrices, none for parameters with
// ndim < 2 or "bias"/"ln"/"bn" anywhere in the name (LAVIS's substring rule, taken literally:
// "kiln.weight" does not decay). Deterministic: the same inputs give the same bits.
// `lr_scale` multiplies the learning rate of the parameters whose name matches a glob
// ("image.qformer.layer.*.cross_attn.*": 3): torch's per-group lr, keyed by name.
//
//   train::AdamW opt(trainable_params, {.weight_decay = 0.05});
//   for (…) { loss.backward(); train::clip_grad_norm(trainable_params, 1.0); opt.step(lr); opt.zero_grad(); }
//   auto state = opt.state_tensors();          // → write_checkpoint(…)
//   fresh.load_state(state);                    // every name and shape checked
//
// The optimizer only ever sees what it is given: frozen parameters get no state.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "xib/config.h"
#include "xib/tensor.h"
#include "xib/train/named_tensors.h"

namespace xib::train {

/// True when `p` gets weight decay: p.dim() >= 2 and `name` contains none of "bias", "ln",
/// "bn" (substrings, case-sensitive, as upstream).
bool decays(std::string_view name, const Tensor& p);

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.05;  ///< for the decaying group; the other group always gets 0
  /// Parameter-name glob (`*` and `?` match any characters, dots included) → learning-rate
  /// multiplier. A parameter matched by no pattern gets 1; one matched by several is a
  /// UsageError; a pattern that matches nothing is logged (one recipe may serve several aligners).
  std::map<std::string, double> lr_scale = {};

  template <class V>
  void fields(V& v) {
    v("beta1", beta1, "first-moment decay (torch betas[0])");
    v("beta2", beta2, "second-moment decay (torch betas[1])");
    v("eps", eps, "added to the denominator");
    v("weight_decay", weight_decay, "decoupled weight decay of matrices (not biases/norms)");
    v("lr_scale", lr_scale, "parameter-name glob → learning-rate multiplier (e.g. fresh layers faster)");
  }
  void validate(Validator& v) const;
};

/// Which parameters decay, for logs and tests.
struct AdamWGroups {
  std::vector<std::string> decay = {};
  std::vector<std::string> no_decay = {};
  int64_t decay_numel = 0;
  int64_t no_decay_numel = 0;
  /// Parameters whose learning rate is scaled (lr_scale), and their factor.
  std::vector<std::pair<std::string, double>> scaled = {};
  /// "AdamW: 12 tensors (1.2M values) with weight decay 0.05, 30 (40.1K) without".
  std::string describe(double weight_decay) const;
};

class AdamW {
 public:
  /// `params`: trainable leaf tensors (floating point, requires_grad, unique names). Options
  /// are validated (ConfigError); a bad parameter list is a UsageError naming the parameter.
  /// State (zeros like each parameter) lives on the parameter's device.
  explicit AdamW(NamedTensors params, AdamWOptions options = {});
  ~AdamW();
  AdamW(AdamW&&) noexcept;
  AdamW& operator=(AdamW&&) noexcept;

  /// One update with learning rate `lr` (times each parameter's lr_scale) for both groups. Parameters whose grad is
  /// undefined are left alone (as torch does); bias correction uses the optimizer's step count, which equals torch's
  /// per-parameter count when every parameter has a gradient at every step.
  void step(double lr);
  /// Sets every gradient to undefined (torch's zero_grad(set_to_none=True)).
  void zero_grad();
  /// Steps taken so far (including those restored by load_state()).
  int64_t steps() const;
  const AdamWGroups& groups() const;
  const AdamWOptions& options() const;
  const NamedTensors& params() const;

  /// The state, aliasing the live tensors (write them before the next step()):
  /// "exp_avg/<name>", "exp_avg_sq/<name>" (each the shape of its parameter) for every
  /// parameter in order, then "step" (int64 scalar, steps()).
  NamedTensors state_tensors() const;
  /// Restores state_tensors() output (values copied onto each parameter's device and dtype).
  /// Every missing, unexpected or mis-shaped entry is reported at once (ShapeError); nothing is
  /// changed unless all fit.
  void load_state(const NamedTensors& state);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace xib::train
