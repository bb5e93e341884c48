#include <sched.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <set>
#include <vector>

#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/error.h"
#include "xib/runtime.h"

TEST_CASE("runtime: available_cores matches the affinity mask") {
  cpu_set_t set;
  CPU_ZERO(&set);
  REQUIRE(sched_getaffinity(0, sizeof(set), &set) == 0);
  CHECK(xib::available_cores() == CPU_COUNT(&set));
  CHECK(xib::available_cores() >= 1);
}

TEST_CASE("runtime: set_threads changes LibTorch's thread count") {
  const int before = xib::threads();
  xib::set_threads(1);
  CHECK(xib::threads() == 1);
  const int cores = xib::available_cores();
  xib::set_threads(std::min(3, cores));
  CHECK(xib::threads() == std::min(3, cores));
  xib::set_threads(cores + 5);  // more than the cores: clamped, with a warning
  CHECK(xib::threads() == cores);
  // The count is used by parallel kernels; a reduction still gives the right answer.
  CHECK(at::ones({1 << 16}).sum().item<double>() == 65536.0);
  xib::set_threads(0);  // 0 = every core we may run on
  CHECK(xib::threads() == xib::available_cores());
  xib::set_threads(before);
}

TEST_CASE("runtime: seed_everything makes LibTorch and the global Rng reproducible") {
  xib::seed_everything(1234);
  const at::Tensor a = at::rand({64});
  const at::Tensor an = at::randn({8, 8});
  const uint64_t r1 = xib::Rng::global().next();
  xib::seed_everything(1234);
  const at::Tensor b = at::rand({64});
  const at::Tensor bn = at::randn({8, 8});
  const uint64_t r2 = xib::Rng::global().next();
  CHECK(at::equal(a, b));
  CHECK(at::equal(an, bn));
  CHECK(r1 == r2);
  CHECK(r1 == xib::Rng(1234).next());

  xib::seed_everything(1235);
  CHECK_FALSE(at::equal(a, at::rand({64})));
  CHECK(xib::Rng::global().next() != r1);
}

TEST_CASE("runtime: Rng is deterministic per seed") {
  xib::Rng a(7), b(7), c(8);
  std::vector<uint64_t> sa, sb, sc;
  for (int i = 0; i < 100; ++i) {
    sa.push_back(a.next());
    sb.push_back(b.next());
    sc.push_back(c.next());
  }
  CHECK(sa == sb);
  CHECK(sa != sc);
  CHECK(std::set<uint64_t>(sa.begin(), sa.end()).size() == 100);

  // The state can be saved and restored (checkpoints of a data pipeline).
  const auto state = a.state();
  const uint64_t next = a.next();
  a.next();
  a.set_state(state);
  CHECK(a.next() == next);

  // Seed 0 is a valid seed: splitmix64 never yields the all-zero xoshiro state.
  xib::Rng zero(0);
  CHECK(zero.state() != std::array<uint64_t, 4>{0, 0, 0, 0});
  CHECK(zero.next() != zero.next());
}

TEST_CASE("runtime: Rng matches the xoshiro256** reference") {
  // Reference output of Vigna's xoshiro256starstar.c from state {1, 2, 3, 4}.
  xib::Rng r;
  r.set_state({1, 2, 3, 4});
  const std::array<uint64_t, 6> expected = {
      11520ull, 0ull, 1509978240ull, 1215971899390074240ull, 1216172134540287360ull, 607988272756665600ull};
  for (uint64_t e : expected) CHECK(r.next() == e);
}

TEST_CASE("runtime: fork gives independent, reproducible streams") {
  xib::Rng parent(42);
  xib::Rng f1 = parent.fork(1), f1_again = parent.fork(1), f2 = parent.fork(2);
  // Forks depend on the seed and stream only, not on how far the parent has advanced.
  for (int i = 0; i < 10; ++i) parent.next();
  xib::Rng f1_late = parent.fork(1);
  std::vector<uint64_t> s1, s1b, s1c, s2, sp;
  xib::Rng fresh(42);
  for (int i = 0; i < 50; ++i) {
    s1.push_back(f1.next());
    s1b.push_back(f1_again.next());
    s1c.push_back(f1_late.next());
    s2.push_back(f2.next());
    sp.push_back(fresh.next());
  }
  CHECK(s1 == s1b);
  CHECK(s1 == s1c);
  CHECK(s1 != s2);
  CHECK(s1 != sp);
  // Another seed's fork of the same stream differs too.
  CHECK(xib::Rng(43).fork(1).next() != s1[0]);
  // No shared values between the streams (64-bit collisions would mean correlated streams).
  std::set<uint64_t> all(s1.begin(), s1.end());
  all.insert(s2.begin(), s2.end());
  all.insert(sp.begin(), sp.end());
  CHECK(all.size() == 150);
}

TEST_CASE("runtime: Rng::below stays in range and is roughly uniform") {
  xib::Rng r(99);
  CHECK_THROWS_AS(r.below(0), xib::Error);
  for (int i = 0; i < 100; ++i) CHECK(r.below(1) == 0);

  constexpr int kBins = 10, kDraws = 100000;
  std::array<int, kBins> counts{};
  uint64_t max_seen = 0;
  for (int i = 0; i < kDraws; ++i) {
    const uint64_t v = r.below(kBins);
    max_seen = std::max(max_seen, v);
    if (v < kBins) ++counts[v];
  }
  REQUIRE(max_seen < kBins);
  // Chi-square with 9 degrees of freedom: 27.9 is the 0.1% critical value.
  double chi2 = 0;
  for (int c : counts) chi2 += std::pow(c - kDraws / kBins, 2) / (kDraws / kBins);
  CHECK(chi2 < 27.9);

  // A huge bound near 2^64 exercises the rejection path; results must still be in range.
  const uint64_t big = (uint64_t{1} << 63) + 12345;
  bool high = false, in_range = true;
  for (int i = 0; i < 1000; ++i) {
    const uint64_t v = r.below(big);
    in_range = in_range && v < big;
    high = high || v >= (uint64_t{1} << 62);
  }
  CHECK(in_range);
  CHECK(high);

  double sum = 0, lo = 1, hi = 0;
  for (int i = 0; i < kDraws; ++i) {
    const double u = r.uniform();
    lo = std::min(lo, u);
    hi = std::max(hi, u);
    sum += u;
  }
  CHECK(lo >= 0.0);
  CHECK(hi < 1.0);
  CHECK(sum / kDraws == doctest::Approx(0.5).epsilon(0.01));
}
