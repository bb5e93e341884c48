// AdamW and gradient clipping with LibTorch, op for op as torch.optim.AdamW's single-tensor
// path and torch.nn.utils.clip_grad_norm_(foreach=False), so results match PyTorch's.
#include "xib/train/adamw.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join

#include <cmath>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>

#include "xib/error.h"
#include "xib/log.h"
#include "xib/train/grad_clip.h"
#include "xib/weights/weight_map.h"

namespace xib::train {

namespace {

std::string shape_str(at::IntArrayRef s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

std::string count_str(int64_t n) {
  if (n >= 1'000'000) return fmt::format("{:.1f}M", static_cast<double>(n) / 1e6);
  if (n >= 1'000) return fmt::format("{:.1f}K", static_cast<double>(n) / 1e3);
  return std::to_string(n);
}

}  // namespace

bool decays(std::string_view name, const Tensor& p) {
  if (p.dim() < 2) return false;
  for (std::string_view s : {"bias", "ln", "bn"})
    if (name.find(s) != std::string_view::npos) return false;
  return true;
}

void AdamWOptions::validate(Validator& v) const {
  v.require(beta1 >= 0 && beta1 < 1, "beta1", "a number in [0, 1)", beta1);
  v.require(beta2 >= 0 && beta2 < 1, "beta2", "a number in [0, 1)", beta2);
  v.require(eps > 0 && std::isfinite(eps), "eps", "a positive number", eps);
  v.require(weight_decay >= 0 && std::isfinite(weight_decay), "weight_decay", "a number >= 0", weight_decay);
  for (const auto& [pattern, factor] : lr_scale) {
    v.require(!pattern.empty(), "lr_scale", "non-empty parameter-name globs", "an empty pattern");
    v.require(factor >= 0 && std::isfinite(factor), "lr_scale." + pattern, "a multiplier >= 0", factor);
  }
}

std::string AdamWGroups::describe(double weight_decay) const {
  std::string out = fmt::format("AdamW: {} tensors ({} values) with weight decay {}, {} ({}) without", decay.size(),
                                count_str(decay_numel), weight_decay, no_decay.size(), count_str(no_decay_numel));
  std::map<double, int64_t> by_factor;
  for (const auto& [_, f] : scaled) ++by_factor[f];
  for (const auto& [f, n] : by_factor) out += fmt::format("; {} at {}× the learning rate", n, f);
  return out;
}

namespace {

/// Each parameter's lr multiplier from the globs; every ambiguity and unused glob at once.
std::vector<double> lr_factors(const NamedTensors& params, const std::map<std::string, double>& globs) {
  std::vector<double> factors(params.size(), 1.0);
  if (globs.empty()) return factors;
  std::map<std::string, int64_t> used;
  std::vector<std::string> problems;
  for (size_t i = 0; i < params.size(); ++i) {
    std::vector<std::string> hits;
    for (const auto& [g, f] : globs) {
      if (weights::glob_match(g, params[i].first)) {
        hits.push_back(g);
        factors[i] = f;
        ++used[g];
      }
    }
    if (hits.size() > 1) {
      problems.push_back(
          fmt::format("'{}' matches {} patterns ({})", params[i].first, hits.size(), fmt::join(hits, ", ")));
    }
  }
  for (const auto& [g, _] : globs) {
    // Not an error: one recipe may serve several aligners (a Q-Former's layers, a linear's none).
    if (!used.count(g)) log::warn("optimizer.lr_scale: '{}' matches no trainable parameter", g);
  }
  if (!problems.empty()) {
    std::vector<std::string> names;
    for (size_t i = 0; i < params.size() && i < 6; ++i) names.push_back(params[i].first);
    throw UsageError({.what = "AdamW: optimizer.lr_scale does not fit the parameters",
                      .where = "optimizer.lr_scale",
                      .expected = "each parameter matched by at most one glob",
                      .got = fmt::format("{}", fmt::join(problems, "; ")),
                      .hint = fmt::format("parameter names look like {}{}", fmt::join(names, ", "),
                                          params.size() > names.size() ? ", …" : "")});
  }
  return factors;
}

}  // namespace

struct AdamW::Impl {
  NamedTensors params;
  std::vector<bool> decay;
  std::vector<double> lr_factor;  ///< lr_scale of each parameter (1 when unmatched)
  std::vector<at::Tensor> exp_avg, exp_avg_sq;
  AdamWOptions o;
  AdamWGroups groups;
  int64_t step = 0;
};

AdamW::AdamW(NamedTensors params, AdamWOptions options) : impl_(std::make_unique<Impl>()) {
  Validator v(ConfigSection{});
  options.validate(v);
  v.finish();
  std::set<std::string> seen;
  for (const auto& [name, p] : params) {
    auto bad = [&](std::string what, std::string expected, std::string got, std::string hint = {}) {
      throw UsageError({.what = "AdamW: " + what,
                        .where = "parameter '" + name + "'",
                        .expected = std::move(expected),
                        .got = std::move(got),
                        .hint = std::move(hint)});
    };
    if (!seen.insert(name).second) bad("duplicate parameter name", "each name once", "'" + name + "' twice");
    if (!p.defined()) bad("undefined tensor", "a parameter tensor", "an undefined tensor");
    if (!at::isFloatingType(p.scalar_type()))
      bad("parameter is not floating point", "f16, bf16, f32 or f64", std::string(c10::toString(p.scalar_type())));
    if (!p.requires_grad())
      bad("parameter does not require grad", "a trainable parameter", "requires_grad = false",
          "pass only trainable parameters: frozen ones get no optimizer state");
  }
  impl_->lr_factor = lr_factors(params, options.lr_scale);
  for (size_t i = 0; i < params.size(); ++i) {
    if (impl_->lr_factor[i] != 1.0) impl_->groups.scaled.emplace_back(params[i].first, impl_->lr_factor[i]);
  }
  impl_->params = std::move(params);
  impl_->o = options;
  for (const auto& [name, p] : impl_->params) {
    const bool d = decays(name, p);
    impl_->decay.push_back(d);
    (d ? impl_->groups.decay : impl_->groups.no_decay).push_back(name);
    (d ? impl_->groups.decay_numel : impl_->groups.no_decay_numel) += p.numel();
    impl_->exp_avg.push_back(at::zeros_like(p, at::MemoryFormat::Preserve).detach());
    impl_->exp_avg_sq.push_back(at::zeros_like(p, at::MemoryFormat::Preserve).detach());
  }
}

AdamW::~AdamW() = default;
AdamW::AdamW(AdamW&&) noexcept = default;
AdamW& AdamW::operator=(AdamW&&) noexcept = default;

void AdamW::step(double lr) {
  if (!std::isfinite(lr) || lr < 0)
    throw UsageError(
        {.what = "AdamW: bad learning rate", .expected = "a finite number >= 0", .got = fmt::format("{}", lr)});
  at::NoGradGuard no_grad;
  Impl& s = *impl_;
  ++s.step;
  // torch keeps the step as a float tensor and reads it back as a Python float.
  const double step = static_cast<double>(static_cast<float>(s.step));
  const double bias_correction1 = 1 - std::pow(s.o.beta1, step);
  const double bias_correction2 = 1 - std::pow(s.o.beta2, step);
  const double step_size = lr / bias_correction1;
  const double bias_correction2_sqrt = std::pow(bias_correction2, 0.5);
  for (size_t i = 0; i < s.params.size(); ++i) {
    at::Tensor param = s.params[i].second;
    const at::Tensor& grad = param.grad();
    if (!grad.defined()) continue;
    const double lr_i = lr * s.lr_factor[i];
    const double wd = s.decay[i] ? s.o.weight_decay : 0.0;
    if (wd != 0) param.mul_(1 - lr_i * wd);
    s.exp_avg[i].lerp_(grad, 1 - s.o.beta1);
    s.exp_avg_sq[i].mul_(s.o.beta2).addcmul_(grad, grad, 1 - s.o.beta2);
    const at::Tensor denom = (s.exp_avg_sq[i].sqrt() / bias_correction2_sqrt).add_(s.o.eps);
    param.addcdiv_(s.exp_avg[i], denom, -step_size * s.lr_factor[i]);
  }
}

void AdamW::zero_grad() {
  for (auto& [name, p] : impl_->params) p.mutable_grad().reset();
}

int64_t AdamW::steps() const { return impl_->step; }
const AdamWGroups& AdamW::groups() const { return impl_->groups; }
const AdamWOptions& AdamW::options() const { return impl_->o; }
const NamedTensors& AdamW::params() const { return impl_->params; }

NamedTensors AdamW::state_tensors() const {
  NamedTensors out;
  out.reserve(2 * impl_->params.size() + 1);
  for (size_t i = 0; i < impl_->params.size(); ++i)
    out.emplace_back("exp_avg/" + impl_->params[i].first, impl_->exp_avg[i]);
  for (size_t i = 0; i < impl_->params.size(); ++i)
    out.emplace_back("exp_avg_sq/" + impl_->params[i].first, impl_->exp_avg_sq[i]);
  out.emplace_back("step", at::scalar_tensor(impl_->step, at::kLong));
  return out;
}

void AdamW::load_state(const NamedTensors& state) {
  std::unordered_map<std::string, const at::Tensor*> by_name;
  for (const auto& [name, t] : state) by_name.emplace(name, &t);
  std::vector<std::pair<std::string, std::string>> problems;
  // Expected entries: both moments of every parameter, then the step count.
  NamedTensors dest;
  for (size_t i = 0; i < impl_->params.size(); ++i)
    dest.emplace_back("exp_avg/" + impl_->params[i].first, impl_->exp_avg[i]);
  for (size_t i = 0; i < impl_->params.size(); ++i)
    dest.emplace_back("exp_avg_sq/" + impl_->params[i].first, impl_->exp_avg_sq[i]);
  std::set<std::string> expected;
  for (const auto& [name, t] : dest) {
    expected.insert(name);
    const auto it = by_name.find(name);
    if (it == by_name.end()) {
      problems.emplace_back("missing", name + " " + shape_str(t.sizes()));
    } else if (!it->second->defined() || it->second->sizes() != t.sizes()) {
      problems.emplace_back("wrong shape",
                            fmt::format("{}: expected {}, got {}", name, shape_str(t.sizes()),
                                        it->second->defined() ? shape_str(it->second->sizes()) : "undefined"));
    }
  }
  int64_t step = -1;
  if (const auto it = by_name.find("step"); it == by_name.end()) {
    problems.emplace_back("missing", "step (int64 scalar)");
  } else if (!it->second->defined() || it->second->numel() != 1 || at::isFloatingType(it->second->scalar_type()) ||
             (step = it->second->item<int64_t>()) < 0) {
    problems.emplace_back("wrong value", "step: expected one integer >= 0");
  }
  expected.insert("step");
  for (const auto& [name, t] : state)
    if (!expected.count(name)) problems.emplace_back("unexpected", name);
  if (!problems.empty()) {
    throw ShapeError(
        {.what = fmt::format("AdamW: optimizer state does not fit the parameters ({} problem{})", problems.size(),
                             problems.size() == 1 ? "" : "s"),
         .where = "optimizer state",
         .expected = fmt::format("exp_avg/… and exp_avg_sq/… for {} parameters, and step", impl_->params.size()),
         .got = fmt::format("{} tensors", state.size()),
         .hint = "resume with the same trainable parameters (recipe, frozen/trainable split) as the run that saved it",
         .details = std::move(problems)});
  }
  at::NoGradGuard no_grad;
  for (auto& [name, t] : dest) t.copy_(*by_name.at(name));
  impl_->step = step;
}

double clip_grad_norm(const NamedTensors& params, double max_norm) {
  if (!(max_norm > 0) || !std::isfinite(max_norm))
    throw UsageError({.what = "clip_grad_norm: bad max_norm",
                      .expected = "a finite number > 0",
                      .got = fmt::format("{}", max_norm)});
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  for (const auto& [name, p] : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return 0.0;
  std::vector<at::Tensor> norms;
  norms.reserve(grads.size());
  for (const auto& g : grads) norms.push_back(at::linalg_vector_norm(g, 2).to(grads.front().device()));
  const at::Tensor total = at::linalg_vector_norm(at::stack(norms), 2);
  // Python's `max_norm / (total + 1e-6)` is Tensor.__rtruediv__: reciprocal, then multiply.
  const at::Tensor coef = at::clamp_max((total + 1e-6).reciprocal() * max_norm, 1.0);
  for (auto& g : grads) g.mul_(coef.to(g.device()));
  return total.item<double>();
}

}  // namespace xib::train
