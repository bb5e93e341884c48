// The audio front ends' FFT (fft.h): mixed radix, decimation in time, recursive on the smallest
// prime factor, out of place into a scratch buffer; twiddles e^{−2πij/n} precomputed once per
// length (per thread) and indexed, never recomputed per butterfly.
#include "fft.h"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <numbers>

#include "xib/error.h"

namespace xib::media::detail {

namespace {

using cd = std::complex<double>;

/// A length's plan: its prime factors (smallest first) and twiddles w[j] = e^{−2πij/n}.
struct FftPlan {
  size_t n = 0;
  std::vector<size_t> factors;
  std::vector<cd> twiddles;
  std::vector<cd> scratch;  ///< the output of one transform
  std::vector<cd> sums;     ///< per-butterfly temporaries (largest factor)
};

FftPlan make_plan(size_t n) {
  FftPlan plan{.n = n};
  for (size_t rest = n, p = 2; rest > 1;) {
    if (p * p > rest) p = rest;
    if (rest % p == 0) {
      plan.factors.push_back(p);
      rest /= p;
    } else {
      ++p;
    }
  }
  plan.twiddles.resize(n);
  for (size_t j = 0; j < n; ++j)
    plan.twiddles[j] = std::polar(1.0, -2.0 * std::numbers::pi * static_cast<double>(j) / static_cast<double>(n));
  plan.scratch.resize(n);
  size_t largest = 1;
  for (size_t p : plan.factors) largest = std::max(largest, p);
  plan.sums.resize(largest);
  return plan;
}

FftPlan& plan_for(size_t n) {
  thread_local std::map<size_t, FftPlan> plans;
  auto it = plans.find(n);
  if (it == plans.end()) it = plans.emplace(n, make_plan(n)).first;
  return it->second;
}

/// out[0 … m·p) = DFT of in[0], in[stride], … (m·p values), for the factors from `level` on;
/// `step` = n / (this transform's length), the twiddle stride.
void transform(FftPlan& plan, const cd* in, size_t stride, cd* out, size_t level, size_t step) {
  if (level == plan.factors.size()) {
    out[0] = in[0];
    return;
  }
  const size_t p = plan.factors[level];
  size_t len = 1;
  for (size_t i = level; i < plan.factors.size(); ++i) len *= plan.factors[i];
  const size_t m = len / p;
  for (size_t r = 0; r < p; ++r) transform(plan, in + r * stride, stride * p, out + r * m, level + 1, step * p);
  const cd* w = plan.twiddles.data();
  const size_t n = plan.n;
  if (p == 2) {
    for (size_t k = 0; k < m; ++k) {
      const cd t = out[m + k] * w[k * step];
      out[m + k] = out[k] - t;
      out[k] += t;
    }
    return;
  }
  cd* sums = plan.sums.data();
  for (size_t k = 0; k < m; ++k) {
    for (size_t q = 0; q < p; ++q) {
      const size_t kk = k + q * m;  // output index in this transform
      cd s = out[k];
      for (size_t r = 1; r < p; ++r) s += out[r * m + k] * w[(r * kk * step) % n];
      sums[q] = s;
    }
    for (size_t q = 0; q < p; ++q) out[k + q * m] = sums[q];
  }
}

}  // namespace

void fft(std::vector<std::complex<double>>& x) {
  if (x.size() <= 1) return;
  FftPlan& plan = plan_for(x.size());
  transform(plan, x.data(), 1, plan.scratch.data(), 0, 1);
  std::copy(plan.scratch.begin(), plan.scratch.end(), x.begin());
}

void power_spectrum(const std::vector<double>& x, std::vector<double>& out) {
  const size_t n = x.size();
  out.resize(n / 2 + 1);
  if (n == 0) return;
  thread_local std::vector<cd> a;
  if (n % 2 != 0 || n < 4) {
    a.assign(x.begin(), x.end());
    fft(a);
    for (size_t k = 0; k < out.size(); ++k) out[k] = std::norm(a[k]);
    return;
  }
  // A real sequence of even length n through one complex FFT of length h = n/2:
  // z_t = x_2t + i x_2t+1, Z = FFT(z); E_k = (Z_k + conj(Z_{h−k})) / 2 and
  // O_k = (Z_k − conj(Z_{h−k})) / 2i are the even and odd samples' spectra, X_k = E_k + w^k O_k.
  const size_t h = n / 2;
  a.resize(h);
  for (size_t t = 0; t < h; ++t) a[t] = cd(x[2 * t], x[2 * t + 1]);
  FftPlan& half = plan_for(h);
  transform(half, a.data(), 1, half.scratch.data(), 0, 1);
  const cd* z = half.scratch.data();
  const cd* w = plan_for(n).twiddles.data();
  for (size_t k = 0; k <= h; ++k) {
    const cd zk = z[k % h], zc = std::conj(z[(h - k) % h]);
    const cd e = 0.5 * (zk + zc), o = cd(0.0, -0.5) * (zk - zc);
    out[k] = std::norm(e + w[k] * o);
  }
}

void require_finite(std::span<const float> waveform) {
  for (const float x : waveform) {
    if (!std::isfinite(x)) {
      throw UsageError({.what = "the waveform has a sample that is not a finite number", .got = fmt::format("{}", x)});
    }
  }
}

}  // namespace xib::media::detail
