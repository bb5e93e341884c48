// The learning-rate schedule: warm-up, cosine/linear/constant decay per step and per epoch
// (LAVIS LinearWarmupCosineLRScheduler's formulas), options from YAML, bad values.
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "xib/config.h"
#include "xib/train/lr_schedule.h"

using namespace xib;
using train::LrSchedule;
using train::LrScheduleOptions;

TEST_CASE("lr_schedule: linear warm-up from warmup_start_lr, then cosine per step down to min_lr") {
  const LrSchedule s({.lr = 1e-4, .min_lr = 1e-6, .warmup_steps = 10, .warmup_start_lr = 1e-8, .total_steps = 110});
  CHECK(s.lr_at(0) == 1e-8);
  CHECK(s.lr_at(5) == doctest::Approx(1e-8 + (1e-4 - 1e-8) * 0.5).epsilon(1e-14));
  CHECK(s.lr_at(10) == doctest::Approx(1e-4).epsilon(1e-15));                        // end of warm-up: the peak
  CHECK(s.lr_at(60) == doctest::Approx(1e-6 + (1e-4 - 1e-6) * 0.5).epsilon(1e-14));  // half-way
  CHECK(s.lr_at(110) == doctest::Approx(1e-6).epsilon(1e-14));
  CHECK(s.lr_at(1000) == doctest::Approx(1e-6).epsilon(1e-14));  // past the end: stays at min_lr
  for (int64_t i = 11; i <= 110; ++i) CHECK(s.lr_at(i) < s.lr_at(i - 1));
  for (int64_t i = 1; i <= 10; ++i) CHECK(s.lr_at(i) > s.lr_at(i - 1));
  CHECK(train::lr_at(s.options(), 35) == s.lr_at(35));
}

TEST_CASE("lr_schedule: per-epoch cosine is constant within an inner epoch, as LAVIS steps it") {
  // LAVIS: 5 inner epochs of 100 iterations; epoch 0 warms up over 20 steps then holds the peak;
  // epoch e >= 1 uses cos(pi * e / 5).
  const LrSchedule s(
      {.lr = 1e-4, .min_lr = 0, .warmup_steps = 20, .total_steps = 500, .decay = "cosine", .steps_per_epoch = 100});
  CHECK(s.lr_at(0) == 1e-8);
  CHECK(s.lr_at(19) < 1e-4);
  CHECK(s.lr_at(20) == 1e-4);
  CHECK(s.lr_at(99) == 1e-4);
  for (int e = 1; e < 5; ++e) {
    const double want = 1e-4 * 0.5 * (1.0 + std::cos(std::numbers::pi * e / 5));
    CHECK(s.lr_at(100 * e) == doctest::Approx(want).epsilon(1e-15));
    CHECK(s.lr_at(100 * e + 99) == s.lr_at(100 * e));
  }
  CHECK(s.lr_at(499) > 0);  // the last epoch does not reach min_lr (as upstream)
  // total_steps not a multiple of steps_per_epoch: the partial epoch counts.
  const LrSchedule p({.lr = 1.0, .warmup_steps = 0, .total_steps = 250, .steps_per_epoch = 100});
  CHECK(p.lr_at(100) == doctest::Approx(0.5 * (1.0 + std::cos(std::numbers::pi / 3))).epsilon(1e-15));
}

TEST_CASE("lr_schedule: linear and constant decay, and no warm-up") {
  const LrSchedule lin({.lr = 1.0, .min_lr = 0.1, .warmup_steps = 0, .total_steps = 10, .decay = "linear"});
  CHECK(lin.lr_at(0) == 1.0);
  CHECK(lin.lr_at(5) == doctest::Approx(0.55));
  CHECK(lin.lr_at(10) == doctest::Approx(0.1));
  CHECK(lin.lr_at(20) == doctest::Approx(0.1));
  const LrSchedule con({.lr = 0.5, .warmup_steps = 4, .warmup_start_lr = 0, .total_steps = 10, .decay = "constant"});
  CHECK(con.lr_at(0) == 0.0);
  CHECK(con.lr_at(2) == 0.25);
  CHECK(con.lr_at(4) == 0.5);
  CHECK(con.lr_at(100) == 0.5);
  const LrSchedule all_warm({.lr = 1.0, .warmup_steps = 10, .total_steps = 10});
  CHECK(all_warm.lr_at(9) < 1.0);
  CHECK(all_warm.lr_at(10) == 0.0);  // the decay is over
}

TEST_CASE("lr_schedule: options bind from YAML and bad values are listed together") {
  auto src = ConfigSource::from_string(
      "schedule: {lr: 2.0e-5, warmup_steps: 100, total_steps: 5000, decay: linear, steps_per_epoch: 500}", "t.yaml",
      ".");
  const auto o = bind<LrScheduleOptions>(src->section("schedule"));
  CHECK(o.lr == 2e-5);
  CHECK(o.decay == "linear");
  CHECK(o.steps_per_epoch == 500);
  CHECK(o.warmup_start_lr == 1e-8);
  CHECK(yaml_text(to_yaml(o)).find("steps_per_epoch: 500") != std::string::npos);

  auto bad =
      ConfigSource::from_string("schedule: {lr: 0, warmup_steps: 20, total_steps: 10, decay: cosin}", "b.yaml", ".");
  try {
    (void)bind<LrScheduleOptions>(bad->section("schedule"));
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    const std::string r = e.report();
    CHECK(r.find("schedule.lr") != std::string::npos);
    CHECK(r.find("warmup_steps") != std::string::npos);
    CHECK(r.find("one of: cosine, linear, constant, got 'cosin'") != std::string::npos);
  }
  CHECK_THROWS_AS(LrSchedule({.lr = 1.0, .min_lr = 2.0}), ConfigError);
  CHECK_THROWS_AS(LrSchedule({.total_steps = 0}), ConfigError);
  CHECK_THROWS_AS(LrSchedule({.steps_per_epoch = -1}), ConfigError);
  CHECK_THROWS_AS(LrSchedule({}).lr_at(-1), UsageError);
  // A negative lr is one mistake: no second complaint about min_lr or warmup_start_lr.
  try {
    (void)LrSchedule({.lr = -1.0});
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    const std::string r = e.report();
    CHECK(r.find("'lr'") != std::string::npos);
    CHECK_MESSAGE(r.find("min_lr") == std::string::npos, r);
    CHECK_MESSAGE(r.find("warmup_start_lr") == std::string::npos, r);
  }
}

TEST_CASE("lr_schedule: per-epoch cosine equals LAVIS's own LinearWarmupCosineLRScheduler, step for step") {
  // tests/train/data/lr_upstream.json: upstream's scheduler class run as its runner steps it
  // (tools/fixtures/train/make_lr_upstream_fixture.py, imported from a LAVIS checkout).
  const auto doc =
      nlohmann::json::parse(xib::test::read_file(xib::test::source_dir() / "tests/train/data/lr_upstream.json"));
  REQUIRE(doc["cases"].size() >= 5);
  for (const auto& c : doc["cases"]) {
    const LrSchedule s({.lr = c["lr"].get<double>(),
                        .min_lr = c["min_lr"].get<double>(),
                        .warmup_steps = c["warmup_steps"].get<int64_t>(),
                        // null: upstream's default (init_lr), which no warm-up never uses
                        .warmup_start_lr = c["warmup_start_lr"].is_null() ? 1e-8 : c["warmup_start_lr"].get<double>(),
                        .total_steps = c["total_steps"].get<int64_t>(),
                        .decay = "cosine",
                        .steps_per_epoch = c["steps_per_epoch"].get<int64_t>()});
    const auto& rates = c["rates"];
    for (size_t i = 0; i < rates.size(); ++i) {
      CAPTURE(c["total_steps"]);
      CAPTURE(c["steps_per_epoch"]);
      CAPTURE(i);
      CHECK(s.lr_at(static_cast<int64_t>(i)) == doctest::Approx(rates[i].get<double>()).epsilon(1e-12));
    }
  }
}
