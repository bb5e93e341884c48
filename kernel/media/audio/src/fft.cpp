// The audio front ends' FFT (fft.h): mixed radix, recursive on the smallest prime factor.
#include "fft.h"

#include <fmt/format.h>

#include <cmath>
#include <numbers>

#include "xib/error.h"

namespace xib::media::detail {

namespace {

constexpr double kPi = std::numbers::pi;

size_t smallest_factor(size_t n) {
  for (size_t p = 2; p * p <= n; ++p) {
    if (n % p == 0) return p;
  }
  return n;
}

void fft_rec(std::vector<std::complex<double>>& x) {
  const size_t n = x.size();
  if (n <= 1) return;
  const size_t p = smallest_factor(n);
  if (p == n) {  // prime: a plain DFT
    std::vector<std::complex<double>> out(n);
    for (size_t k = 0; k < n; ++k) {
      std::complex<double> s = 0.0;
      for (size_t t = 0; t < n; ++t)
        s += x[t] * std::polar(1.0, -2.0 * kPi * static_cast<double>(k * t % n) / static_cast<double>(n));
      out[k] = s;
    }
    x = std::move(out);
    return;
  }
  const size_t m = n / p;
  // p interleaved sub-sequences x[r], x[r + p], … each of length m.
  std::vector<std::vector<std::complex<double>>> sub(p, std::vector<std::complex<double>>(m));
  for (size_t r = 0; r < p; ++r) {
    for (size_t j = 0; j < m; ++j) sub[r][j] = x[j * p + r];
    fft_rec(sub[r]);
  }
  for (size_t k = 0; k < n; ++k) {
    std::complex<double> s = 0.0;
    for (size_t r = 0; r < p; ++r) {
      s += sub[r][k % m] * std::polar(1.0, -2.0 * kPi * static_cast<double>(r * k % n) / static_cast<double>(n));
    }
    x[k] = s;
  }
}

}  // namespace

void fft(std::vector<std::complex<double>>& x) { fft_rec(x); }

void power_spectrum(const std::vector<double>& x, std::vector<double>& out) {
  std::vector<std::complex<double>> a(x.begin(), x.end());
  fft_rec(a);
  out.resize(x.size() / 2 + 1);
  for (size_t k = 0; k < out.size(); ++k) out[k] = std::norm(a[k]);
}

void require_finite(std::span<const float> waveform) {
  for (const float x : waveform) {
    if (!std::isfinite(x)) {
      throw UsageError({.what = "the waveform has a sample that is not a finite number", .got = fmt::format("{}", x)});
    }
  }
}

}  // namespace xib::media::detail
