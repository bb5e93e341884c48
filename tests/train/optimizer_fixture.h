// Shared by the train tests: the fixture of tools/fixtures/train/make_optimizer_fixture.py
// (tests/train/data/) and the same training loop in C++ (synthetic loss, gradient accumulation,
// clipping, AdamW, learning-rate schedule).
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "xib/io/safetensors.h"
#include "xib/train/adamw.h"
#include "xib/train/grad_clip.h"
#include "xib/train/lr_schedule.h"
#include "xib/weights/weight_loader.h"

namespace xib::test {

struct OptimizerFixture {
  std::map<std::string, at::Tensor> t;  ///< every tensor of optimizer_fixture.safetensors
  nlohmann::json meta;                  ///< optimizer_fixture.json
  std::vector<std::string> names;       ///< parameter names in order
  int64_t steps = 0, accum = 0;
  double max_norm = 0;

  static const OptimizerFixture& get() {
    static const OptimizerFixture f = [] {
      OptimizerFixture f;
      const auto dir = source_dir() / "tests" / "train" / "data";
      io::SafetensorsFile file(dir / "optimizer_fixture.safetensors");
      for (const auto& r : file.records()) f.t[r.name] = weights::record_to_tensor(r);
      f.meta = nlohmann::json::parse(read_file(dir / "optimizer_fixture.json"));
      f.names = f.meta["names"].get<std::vector<std::string>>();
      f.steps = f.meta["steps"].get<int64_t>();
      f.accum = f.meta["accum"].get<int64_t>();
      f.max_norm = f.meta["max_norm"].get<double>();
      return f;
    }();
    return f;
  }

  const at::Tensor& at(const std::string& name) const { return t.at(name); }

  train::AdamWOptions adamw() const {
    const auto& a = meta["adamw"];
    return {.beta1 = a["beta1"], .beta2 = a["beta2"], .eps = a["eps"], .weight_decay = a["weight_decay"]};
  }
  train::LrScheduleOptions schedule(const std::string& run) const {
    const auto& s = meta["schedules"][run];
    return {.lr = s["lr"],
            .min_lr = s["min_lr"],
            .warmup_steps = s["warmup_steps"],
            .warmup_start_lr = s["warmup_start_lr"],
            .total_steps = s["total_steps"],
            .decay = s["decay"],
            .steps_per_epoch = s["steps_per_epoch"]};
  }
  /// Fresh trainable parameters from `source` ("init" or a checkpoint's values).
  train::NamedTensors params(const std::map<std::string, at::Tensor>& source) const {
    train::NamedTensors p;
    for (const auto& n : names) p.emplace_back(n, source.at(n).clone().set_requires_grad(true));
    return p;
  }
  train::NamedTensors initial_params() const {
    std::map<std::string, at::Tensor> init;
    for (const auto& n : names) init[n] = t.at("init/" + n);
    return params(init);
  }
};

/// What the loop records per step.
struct StepRecord {
  double lr = 0;
  double norm = 0;
};

/// Optimizer steps [from, to) of the fixture's loop, as the Python script runs them.
inline std::vector<StepRecord> run_fixture_steps(const OptimizerFixture& f, const train::NamedTensors& params,
                                                 train::AdamW& opt, const train::LrSchedule& schedule, int64_t from,
                                                 int64_t to) {
  std::vector<StepRecord> out;
  const auto& scale = f.at("data/scale");
  for (int64_t s = from; s < to; ++s) {
    const double lr = schedule.lr_at(s);
    for (int64_t k = 0; k < f.accum; ++k) {
      at::Tensor loss = at::zeros({});
      for (const auto& [n, p] : params) {
        const at::Tensor a = f.at("data/a/" + n)[s][k];
        const at::Tensor& b = f.at("data/b/" + n);
        loss = loss + scale[s].item<double>() * (a * p).sum() + 0.5 * (b * p * p).sum();
      }
      (loss / f.accum).backward();
    }
    const double norm = train::clip_grad_norm(params, f.max_norm);
    opt.step(lr);
    opt.zero_grad();
    out.push_back({lr, norm});
  }
  return out;
}

}  // namespace xib::test
