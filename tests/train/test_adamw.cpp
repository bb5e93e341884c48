// AdamW, clip_grad_norm and the learning-rate schedule against PyTorch (fixture from
// tools/fixtures/train/make_optimizer_fixture.py), optimizer-state round trips, bad input.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "optimizer_fixture.h"  // ATen first
#include "torch_doctest.h"
#include "xib/train/checkpoint.h"

using namespace xib;
using test::OptimizerFixture;

namespace {

/// Largest |a - b| / (|b| + 1e-6) over all elements (float64).
double max_rel_diff(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor x = a.to(at::kDouble), y = b.to(at::kDouble);
  return ((x - y).abs() / (y.abs() + 1e-6)).max().item<double>();
}

/// Runs the fixture's loop for `run` and compares every step with PyTorch's.
void check_parity(const std::string& run) {
  const auto& f = OptimizerFixture::get();
  const auto params = f.initial_params();
  train::AdamW opt(params, f.adamw());
  const train::LrSchedule schedule(f.schedule(run));
  const auto rec = test::run_fixture_steps(f, params, opt, schedule, 0, f.steps);
  // Learning rate and gradient norm at every step; parameters and optimizer state after the last.
  double worst = 0, worst_state = 0;
  int64_t bit_equal = 0, total = 0;
  for (int64_t s = 0; s < f.steps; ++s) {
    const double want_lr = f.at(run + "/lr")[s].item<double>();
    CHECK_MESSAGE(rec[s].lr == doctest::Approx(want_lr).epsilon(1e-15), "step ", s);
    const double want_norm = f.at(run + "/norm")[s].item<double>();
    CHECK_MESSAGE(rec[s].norm == doctest::Approx(want_norm).epsilon(1e-6), "step ", s);
  }
  for (const auto& [n, p] : params) {
    const at::Tensor want = f.at(run + "/params/" + n)[f.steps - 1];
    const double d = max_rel_diff(p.detach(), want);
    worst = std::max(worst, d);
    bit_equal += at::equal(p.detach(), want) ? 1 : 0;
    ++total;
    CHECK_MESSAGE(d < 1e-6, n, ": max relative difference ", d);
  }
  const auto state = opt.state_tensors();
  for (const auto& [n, t] : state) {
    if (n == "step") {
      CHECK(t.item<int64_t>() == f.steps);
      continue;
    }
    // The moments pass through zero (m = 0.9 m + 0.1 g with g changing sign), where an ulp-level
    // difference is a large relative one: compare them relative to the tensor's largest value.
    const at::Tensor want = f.at(run + "/" + n).to(at::kDouble);
    const double d = (t.to(at::kDouble) - want).abs().max().item<double>() / want.abs().max().item<double>();
    worst_state = std::max(worst_state, d);
    CHECK_MESSAGE(d < 1e-6, n, ": max difference relative to the largest value ", d);
  }
  MESSAGE(
      fmt::format("run '{}': parameters: worst relative difference {:.3g}, {} of {} bit-identical to PyTorch; "
                  "optimizer state: worst difference {:.3g} of the largest value",
                  run, worst, bit_equal, total, worst_state));
}

}  // namespace

TEST_CASE("adamw: weight-decay groups follow upstream's rule literally") {
  const auto& f = OptimizerFixture::get();
  train::AdamW opt(f.initial_params(), f.adamw());
  auto want = f.meta["no_decay"].get<std::vector<std::string>>();
  auto got = opt.groups().no_decay;
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  CHECK(got == want);
  CHECK(opt.groups().decay.size() + opt.groups().no_decay.size() == f.names.size());
  CHECK(opt.groups().describe(0.05).find("3 tensors") != std::string::npos);

  const at::Tensor m = at::zeros({2, 2}), v = at::zeros({2}), s = at::zeros({});
  CHECK(train::decays("proj.weight", m));
  CHECK_FALSE(train::decays("proj.weight", v));     // ndim 1
  CHECK_FALSE(train::decays("gain", s));            // ndim 0
  CHECK_FALSE(train::decays("proj.bias", m));       // "bias"
  CHECK_FALSE(train::decays("kiln.weight", m));     // "ln" inside a word
  CHECK_FALSE(train::decays("layer.bn_scale", m));  // "bn"
  CHECK_FALSE(train::decays("Qformer.bert.encoder.layer.0.attention.output.LayerNorm.weight", v));
  CHECK(train::decays("Qformer.bert.encoder.layer.0.attention.output.dense.weight", m));
  CHECK(train::decays("LN.weight", m));  // case-sensitive, as upstream
}

TEST_CASE("adamw: per-step cosine run matches torch.optim.AdamW + LambdaLR + clip_grad_norm_") { check_parity("step"); }

TEST_CASE("adamw: per-epoch cosine run (LAVIS inner epochs) matches PyTorch") { check_parity("epoch"); }

TEST_CASE("adamw: save, load into a fresh optimizer, continue = uninterrupted, bit for bit") {
  const auto& f = OptimizerFixture::get();
  const train::LrSchedule schedule(f.schedule("step"));
  constexpr int64_t N = 4;
  const int64_t total = f.steps;

  const auto straight = f.initial_params();
  train::AdamW opt_a(straight, f.adamw());
  test::run_fixture_steps(f, straight, opt_a, schedule, 0, total);

  test::TempDir run;
  {
    const auto params = f.initial_params();
    train::AdamW opt(params, f.adamw());
    test::run_fixture_steps(f, params, opt, schedule, 0, N);
    auto tensors = train::with_prefix(params, "model/");
    train::append(tensors, train::with_prefix(opt.state_tensors(), "optim/"));
    train::write_checkpoint(run.path(), N, tensors, {{"note", "round trip"}});
  }
  const auto dir = train::find_latest_checkpoint(run.path());
  REQUIRE(dir);
  const auto c = train::read_checkpoint(*dir);
  CHECK(c.step == N);
  CHECK(c.meta["note"] == "round trip");
  std::map<std::string, at::Tensor> saved;
  for (const auto& [n, t] : train::take_prefix(c.tensors, "model/")) saved[n] = t;
  const auto resumed = f.params(saved);
  train::AdamW opt_b(resumed, f.adamw());
  opt_b.load_state(train::take_prefix(c.tensors, "optim/"));
  CHECK(opt_b.steps() == N);
  test::run_fixture_steps(f, resumed, opt_b, schedule, N, total);

  CHECK(opt_b.steps() == opt_a.steps());
  for (size_t i = 0; i < straight.size(); ++i)
    CHECK_MESSAGE(at::equal(straight[i].second, resumed[i].second), straight[i].first);
  const auto sa = opt_a.state_tensors(), sb = opt_b.state_tensors();
  REQUIRE(sa.size() == sb.size());
  for (size_t i = 0; i < sa.size(); ++i) CHECK_MESSAGE(at::equal(sa[i].second, sb[i].second), sa[i].first);
}

TEST_CASE("adamw: load_state reports every missing, unexpected and mis-shaped entry at once") {
  const auto& f = OptimizerFixture::get();
  train::AdamW opt(f.initial_params(), f.adamw());
  auto state = opt.state_tensors();
  const auto before = opt.state_tensors();
  // Drop one, reshape one, add one.
  state.erase(std::find_if(state.begin(), state.end(), [](const auto& e) { return e.first == "exp_avg/proj.bias"; }));
  for (auto& [n, t] : state)
    if (n == "exp_avg_sq/proj.weight") t = at::ones({5, 6});
  state.emplace_back("exp_avg/frozen.weight", at::zeros({2}));
  try {
    opt.load_state(state);
    FAIL("expected a ShapeError");
  } catch (const ShapeError& e) {
    const std::string r = e.report();
    CHECK(e.info().details.size() == 3);
    CHECK(r.find("exp_avg/proj.bias") != std::string::npos);
    CHECK(r.find("exp_avg_sq/proj.weight: expected [6, 5], got [5, 6]") != std::string::npos);
    CHECK(r.find("exp_avg/frozen.weight") != std::string::npos);
    CHECK(r.find("(3 problems)") != std::string::npos);
  }
  CHECK(opt.steps() == 0);  // nothing changed
  auto no_step = before;
  no_step.pop_back();
  try {
    opt.load_state(no_step);
    FAIL("expected a ShapeError");
  } catch (const ShapeError& e) {
    CHECK(e.report().find("step (int64 scalar)") != std::string::npos);
    CHECK(e.info().details.size() == 1);
  }
  auto bad_step = before;
  bad_step.back().second = at::scalar_tensor(-1, at::kLong);
  CHECK_THROWS_AS(opt.load_state(bad_step), ShapeError);
}

TEST_CASE("adamw: bad parameters and options are clear errors") {
  const at::Tensor w = at::zeros({2, 2}).set_requires_grad(true);
  CHECK_THROWS_WITH_AS(train::AdamW({{"a", w}, {"a", w}}), doctest::Contains("duplicate"), UsageError);
  CHECK_THROWS_WITH_AS(train::AdamW({{"frozen", at::zeros({2})}}), doctest::Contains("does not require grad"),
                       UsageError);
  CHECK_THROWS_WITH_AS(train::AdamW({{"ids", at::zeros({2}, at::kLong)}}), doctest::Contains("floating point"),
                       UsageError);
  CHECK_THROWS_AS(train::AdamW({{"u", at::Tensor()}}), UsageError);
  CHECK_THROWS_AS(train::AdamW({{"a", w}}, {.beta1 = 1.0}), ConfigError);
  CHECK_THROWS_AS(train::AdamW({{"a", w}}, {.eps = 0}), ConfigError);
  CHECK_THROWS_AS(train::AdamW({{"a", w}}, {.weight_decay = -1}), ConfigError);
  train::AdamW opt({{"a", w}});
  CHECK_THROWS_AS(opt.step(-1), UsageError);
  CHECK_THROWS_AS(opt.step(NAN), UsageError);
  opt.step(0.1);  // no gradient: nothing moves
  CHECK(at::equal(w, at::zeros({2, 2})));
  CHECK(opt.steps() == 1);
}

TEST_CASE("adamw: decoupled weight decay and bias correction by hand, one step") {
  // One element, grad g: m = 0.1 g, v = 0.001 g², update = lr * (m / 0.1) / (sqrt(v / 0.001) + eps).
  const at::Tensor w = at::full({1, 1}, 2.0, at::kDouble).set_requires_grad(true);
  const at::Tensor b = at::full({1}, 2.0, at::kDouble).set_requires_grad(true);
  train::AdamW opt({{"w", w}, {"b", b}}, {.weight_decay = 0.5});
  w.mutable_grad() = at::full({1, 1}, 3.0, at::kDouble);
  b.mutable_grad() = at::full({1}, 3.0, at::kDouble);
  opt.step(0.1);
  const double upd = 0.1 * 3.0 / (3.0 + 1e-8);
  CHECK(w.item<double>() == doctest::Approx(2.0 * (1 - 0.1 * 0.5) - upd).epsilon(1e-12));
  CHECK(b.item<double>() == doctest::Approx(2.0 - upd).epsilon(1e-12));  // 1-D: no decay
  opt.zero_grad();
  CHECK_FALSE(w.grad().defined());
}

TEST_CASE("adamw: lr_scale multiplies the learning rate of the parameters its globs match") {
  // The scaled optimizer against two plain ones, one at lr and one at lr × 0.25.
  auto params = [] {
    at::manual_seed(3);
    return train::NamedTensors{{"q.layer.0.cross_attn.w", at::randn({3, 4}).set_requires_grad(true)},
                               {"q.layer.1.cross_attn.b", at::randn({4}).set_requires_grad(true)},
                               {"q.llm_proj.w", at::randn({2, 3}).set_requires_grad(true)}};
  };
  const auto scaled = params(), plain = params();
  train::AdamW opt(scaled, {.lr_scale = {{"*.cross_attn.*", 0.25}}});
  CHECK(opt.groups().scaled.size() == 2);
  CHECK(opt.groups().describe(0.05).find("2 at 0.25× the learning rate") != std::string::npos);
  train::AdamW fast({plain[2]}), slow({plain[0], plain[1]});
  for (int step = 0; step < 3; ++step) {
    for (size_t i = 0; i < 3; ++i) {
      const at::Tensor g = at::full_like(scaled[i].second, 0.1 * (step + 1) * (static_cast<double>(i) + 1));
      scaled[i].second.mutable_grad() = g.clone();
      plain[i].second.mutable_grad() = g.clone();
    }
    opt.step(0.01);
    fast.step(0.01);
    slow.step(0.0025);
  }
  for (size_t i = 0; i < 3; ++i) {
    INFO(scaled[i].first);
    CHECK(at::allclose(scaled[i].second, plain[i].second, 1e-6, 1e-7));
  }
  CHECK_FALSE(at::allclose(scaled[0].second, params()[0].second));  // it did move

  SUBCASE("a parameter matched by two globs is refused, naming both") {
    std::string what;
    try {
      train::AdamW(params(), {.lr_scale = {{"q.layer.*", 2.0}, {"*.cross_attn.*", 0.5}}});
    } catch (const UsageError& e) {
      what = e.report();
    }
    CHECK(what.find("q.layer.0.cross_attn.w") != std::string::npos);
    CHECK(what.find("*.cross_attn.*") != std::string::npos);
  }
  SUBCASE("a glob that matches nothing is allowed (one recipe serves several aligners)") {
    train::AdamW ok(params(), {.lr_scale = {{"*.no_such_layer.*", 3.0}}});
    CHECK(ok.groups().scaled.empty());
  }
  SUBCASE("a negative or non-finite factor is a ConfigError") {
    CHECK_THROWS_AS(train::AdamW(params(), {.lr_scale = {{"*", -1.0}}}), ConfigError);
    CHECK_THROWS_AS(train::AdamW(params(), {.lr_scale = {{"*", NAN}}}), ConfigError);
  }
}

TEST_CASE("clip_grad_norm: torch semantics (norm before clipping, 1e-6, no amplification)") {
  const at::Tensor a = at::zeros({2}).set_requires_grad(true);
  const at::Tensor b = at::zeros({1}).set_requires_grad(true);
  const at::Tensor c = at::zeros({3}).set_requires_grad(true);  // no gradient: left out
  const train::NamedTensors p{{"a", a}, {"b", b}, {"c", c}};
  CHECK(train::clip_grad_norm(p, 1.0) == 0.0);  // no gradients at all
  a.mutable_grad() = at::tensor({3.0f, 0.0f});
  b.mutable_grad() = at::tensor({4.0f});
  CHECK(train::clip_grad_norm(p, 10.0) == doctest::Approx(5.0));
  CHECK(a.grad()[0].item<float>() == 3.0f);  // below max_norm: unchanged
  CHECK(train::clip_grad_norm(p, 1.0) == doctest::Approx(5.0));
  const float coef = 1.0f / (5.0f + 1e-6f);
  CHECK(a.grad()[0].item<float>() == doctest::Approx(3.0f * coef).epsilon(1e-7));
  CHECK(b.grad()[0].item<float>() == doctest::Approx(4.0f * coef).epsilon(1e-7));
  CHECK(train::clip_grad_norm(p, 1.0) == doctest::Approx(1.0).epsilon(1e-6));
  CHECK_THROWS_AS(train::clip_grad_norm(p, 0.0), UsageError);
  CHECK_THROWS_AS(train::clip_grad_norm(p, -1.0), UsageError);
  a.mutable_grad() = at::tensor({INFINITY, 0.0f});
  CHECK(std::isinf(train::clip_grad_norm(p, 1.0)));  // returned, not thrown (like torch)
}
