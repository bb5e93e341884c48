// Kaldi filterbank features (xib/media/fbank.h), following torchaudio.compliance.kaldi.fbank
// step by step: framing (_get_strided), per-frame DC removal, raw energy and pre-emphasis
// (_get_window), the window functions (_feature_window_function), the FFT, the mel banks
// (get_mel_banks) and the log floor (float32 epsilon). Double precision throughout. Torch-free.
#include "xib/media/fbank.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <exception>
#include <limits>
#include <mutex>
#include <numbers>
#include <thread>

#include "fft.h"
#include "xib/error.h"

namespace xib::media {

namespace {

constexpr double kPi = std::numbers::pi;
/// torch.finfo(torch.float).eps: the floor of every log, as torchaudio takes it in float32.
constexpr double kEpsilon = std::numeric_limits<float>::epsilon();

int64_t next_power_of_two(int64_t x) {
  int64_t p = 1;
  while (p < x) p <<= 1;
  return p;
}

double mel_scale(double f) { return 1127.0 * std::log(1.0 + f / 700.0); }

/// torch.hann_window(n, periodic=False) and friends, as _feature_window_function builds them.
std::vector<double> window_function(const FbankOptions& o, int64_t n) {
  std::vector<double> w(static_cast<size_t>(n));
  const double a = 2.0 * kPi / static_cast<double>(n - 1);
  for (int64_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(i);
    double v = 1.0;
    if (o.window_type == "hanning" || o.window_type == "povey") {
      v = 0.5 - 0.5 * std::cos(a * x);
      if (o.window_type == "povey") v = std::pow(v, 0.85);
    } else if (o.window_type == "hamming") {
      v = 0.54 - 0.46 * std::cos(a * x);
    } else if (o.window_type == "blackman") {
      v = o.blackman_coeff - 0.5 * std::cos(a * x) + (0.5 - o.blackman_coeff) * std::cos(2.0 * a * x);
    }
    w[static_cast<size_t>(i)] = v;
  }
  return w;
}

/// |X_k|^2 (or |X_k|) for k = 0 … n/2 of a real frame of length n.
void spectrum(const std::vector<double>& frame, bool power, std::vector<double>& out) {
  detail::power_spectrum(frame, out);
  if (!power) {
    for (double& x : out) x = std::sqrt(x);
  }
}

/// The triangular filters (get_mel_banks with no VTLN warp): [bins][n/2] (the Nyquist bin has
/// none). In float32, operation for operation as torchaudio computes them (and as Kaldi's
/// MelBanks does, in BaseFloat): the filters' edges are where float32 rounding shows, and a
/// pure tone that falls on an edge makes it visible in the log.
std::vector<std::vector<double>> mel_banks(const FbankOptions& o, int64_t padded) {
  const double nyquist = 0.5 * o.sample_frequency;
  const double high = o.high_freq <= 0.0 ? o.high_freq + nyquist : o.high_freq;
  const auto bin_width = static_cast<float>(o.sample_frequency / static_cast<double>(padded));
  const double mel_low = mel_scale(o.low_freq), mel_high = mel_scale(high);
  const auto delta = static_cast<float>((mel_high - mel_low) / static_cast<double>(o.num_mel_bins + 1));
  const auto low = static_cast<float>(mel_low);
  const int64_t fft_bins = padded / 2;
  std::vector<float> mel(static_cast<size_t>(fft_bins));
  for (int64_t k = 0; k < fft_bins; ++k) {
    const float freq = static_cast<float>(k) * bin_width;
    mel[static_cast<size_t>(k)] = 1127.0f * std::log(1.0f + freq / 700.0f);
  }
  std::vector<std::vector<double>> banks(static_cast<size_t>(o.num_mel_bins),
                                         std::vector<double>(static_cast<size_t>(fft_bins), 0.0));
  for (int64_t b = 0; b < o.num_mel_bins; ++b) {
    const auto fb = static_cast<float>(b);
    const float left = low + fb * delta;
    const float center = low + (fb + 1.0f) * delta;
    const float right = low + (fb + 2.0f) * delta;
    for (int64_t k = 0; k < fft_bins; ++k) {
      const float m = mel[static_cast<size_t>(k)];
      const float up = (m - left) / (center - left), down = (right - m) / (right - center);
      banks[static_cast<size_t>(b)][static_cast<size_t>(k)] = std::max(0.0f, std::min(up, down));
    }
  }
  return banks;
}

double log_energy(const std::vector<double>& frame, size_t n, double energy_floor) {
  double e = 0.0;
  for (size_t i = 0; i < n; ++i) e += frame[i] * frame[i];
  const double l = std::log(std::max(e, kEpsilon));
  return energy_floor == 0.0 ? l : std::max(l, std::log(energy_floor));
}

}  // namespace

int64_t FbankOptions::window_size() const { return static_cast<int64_t>(sample_frequency * frame_length * 0.001); }
int64_t FbankOptions::window_shift() const { return static_cast<int64_t>(sample_frequency * frame_shift * 0.001); }
int64_t FbankOptions::padded_window_size() const {
  return round_to_power_of_two ? next_power_of_two(window_size()) : window_size();
}

void FbankOptions::validate(Validator& v) const {
  v.require(sample_frequency > 0, "sample_frequency", "a positive rate in Hz", sample_frequency);
  v.require(frame_length > 0 && window_size() >= 2, "frame_length", "a frame of 2 samples or more, in ms",
            frame_length);
  v.require(frame_shift > 0 && window_shift() >= 1, "frame_shift", "a shift of 1 sample or more, in ms", frame_shift);
  v.require(padded_window_size() % 2 == 0, "round_to_power_of_two", "an even FFT size (round_to_power_of_two: true)",
            padded_window_size(), "or choose a frame_length giving an even number of samples");
  v.require(num_mel_bins > 3 && num_mel_bins <= 4096, "num_mel_bins", "4 … 4096", num_mel_bins);
  const double nyquist = 0.5 * sample_frequency;
  const double high = high_freq <= 0.0 ? high_freq + nyquist : high_freq;
  v.require(low_freq >= 0 && low_freq < nyquist && high > 0 && high <= nyquist && low_freq < high, "low_freq",
            fmt::format("0 ≤ low_freq < high_freq ≤ {} (the Nyquist frequency)", nyquist),
            fmt::format("low_freq {}, high_freq {}", low_freq, high));
  v.require(preemphasis_coefficient >= 0 && preemphasis_coefficient <= 1, "preemphasis_coefficient", "0 … 1",
            preemphasis_coefficient);
  v.one_of("window_type", window_type, {"povey", "hanning", "hamming", "rectangular", "blackman"});
  v.require(energy_floor >= 0, "energy_floor", "0 or more", energy_floor);
  v.require(dither == 0.0, "dither", "0 (features are deterministic)", dither,
            "xib computes features without dither, as BEATs does");
}

FbankOptions beats_fbank_options() {
  FbankOptions o;
  o.num_mel_bins = 128;
  o.sample_frequency = 16000.0;
  o.frame_length = 25.0;
  o.frame_shift = 10.0;
  return o;
}

Fbank kaldi_fbank(std::span<const float> waveform, const FbankOptions& o) {
  {
    Validator v(ConfigSection{});
    o.validate(v);
    v.finish();
  }
  const int64_t n = static_cast<int64_t>(waveform.size());
  const int64_t size = o.window_size(), shift = o.window_shift(), padded = o.padded_window_size();
  if (n < size) {
    throw UsageError(
        {.what = "the waveform is shorter than one fbank frame",
         .expected = fmt::format("{} samples or more ({} ms at {} Hz)", size, o.frame_length, o.sample_frequency),
         .got = fmt::format("{} samples", n),
         .hint = "pad the clip, or use a shorter frame_length"});
  }
  detail::require_finite(waveform);
  const int64_t frames = o.snip_edges ? 1 + (n - size) / shift : (n + shift / 2) / shift;
  const std::vector<double> window = window_function(o, size);
  const auto banks = mel_banks(o, padded);
  // Each triangular filter's nonzero bins [lo, hi): the sum skips only exact zeros.
  std::vector<std::pair<size_t, size_t>> support(banks.size(), {0, 0});
  for (size_t b = 0; b < banks.size(); ++b) {
    const auto& bank = banks[b];
    size_t lo = 0, hi = bank.size();
    while (lo < hi && bank[lo] == 0.0) ++lo;
    while (hi > lo && bank[hi - 1] == 0.0) --hi;
    support[b] = {lo, hi};
  }
  const int64_t mel = o.num_mel_bins;
  Fbank out{.frames = frames, .bins = mel + (o.use_energy ? 1 : 0), .values = {}};
  out.values.resize(static_cast<size_t>(frames * out.bins));

  // Frames are independent: long clips are split over the cores (each thread its own buffers
  // and FFT plan), with the same arithmetic per frame as on one.
  const auto run_frames = [&](int64_t begin, int64_t end) {
    std::vector<double> frame(static_cast<size_t>(padded)), power;
    for (int64_t f = begin; f < end; ++f) {
      // Framing: snip_edges starts at f·shift; otherwise the frame is centred on f·shift + shift/2,
      // with the signal reflected at both ends (s < 0 → −s − 1, s ≥ n → 2n − 1 − s).
      const int64_t start = o.snip_edges ? f * shift : f * shift + shift / 2 - size / 2;
      for (int64_t i = 0; i < size; ++i) {
        int64_t s = start + i;
        while (s < 0 || s >= n) s = s < 0 ? -s - 1 : 2 * n - 1 - s;
        frame[static_cast<size_t>(i)] = waveform[static_cast<size_t>(s)];
      }
      std::fill(frame.begin() + size, frame.end(), 0.0);
      if (o.remove_dc_offset) {
        double mean = 0.0;
        for (int64_t i = 0; i < size; ++i) mean += frame[static_cast<size_t>(i)];
        mean /= static_cast<double>(size);
        for (int64_t i = 0; i < size; ++i) frame[static_cast<size_t>(i)] -= mean;
      }
      double energy = 0.0;
      if (o.raw_energy) energy = log_energy(frame, static_cast<size_t>(size), o.energy_floor);
      if (o.preemphasis_coefficient != 0.0) {
        for (int64_t i = size - 1; i > 0; --i) {
          frame[static_cast<size_t>(i)] -= o.preemphasis_coefficient * frame[static_cast<size_t>(i - 1)];
        }
        frame[0] -= o.preemphasis_coefficient * frame[0];
      }
      for (int64_t i = 0; i < size; ++i) frame[static_cast<size_t>(i)] *= window[static_cast<size_t>(i)];
      if (!o.raw_energy) energy = log_energy(frame, static_cast<size_t>(padded), o.energy_floor);
      spectrum(frame, o.use_power, power);

      float* row = out.values.data() + f * out.bins;
      const int64_t first = o.use_energy && !o.htk_compat ? 1 : 0;
      for (int64_t b = 0; b < mel; ++b) {
        const auto& bank = banks[static_cast<size_t>(b)];
        const auto [lo, hi] = support[static_cast<size_t>(b)];
        double e = 0.0;
        for (size_t k = lo; k < hi; ++k) e += bank[k] * power[k];
        row[first + b] = static_cast<float>(o.use_log_fbank ? std::log(std::max(e, kEpsilon)) : e);
      }
      if (o.use_energy) row[o.htk_compat ? mel : 0] = static_cast<float>(energy);
    }
  };
  const int64_t threads = std::min<int64_t>(frames / 512, std::max<int64_t>(1, std::thread::hardware_concurrency()));
  if (threads <= 1) {
    run_frames(0, frames);
  } else {
    std::vector<std::thread> pool;
    std::exception_ptr failure;
    std::mutex failure_mu;
    for (int64_t t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        try {
          run_frames(frames * t / threads, frames * (t + 1) / threads);
        } catch (...) {
          const std::lock_guard lock(failure_mu);
          if (!failure) failure = std::current_exception();
        }
      });
    }
    for (auto& th : pool) th.join();
    if (failure) std::rethrow_exception(failure);
  }
  if (o.subtract_mean && frames > 0) {
    for (int64_t b = 0; b < out.bins; ++b) {
      double mean = 0.0;
      for (int64_t f = 0; f < frames; ++f) mean += out.values[static_cast<size_t>(f * out.bins + b)];
      mean /= static_cast<double>(frames);
      for (int64_t f = 0; f < frames; ++f) {
        float& x = out.values[static_cast<size_t>(f * out.bins + b)];
        x = static_cast<float>(x - mean);
      }
    }
  }
  return out;
}

void normalize_beats_fbank(Fbank& f) {
  for (float& x : f.values) x = static_cast<float>((x - kBeatsFbankMean) / (2.0 * kBeatsFbankStd));
}

}  // namespace xib::media
