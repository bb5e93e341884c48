// Whisper's log-mel front end (xib/media/whisper_mel.h), step for step as transformers'
// audio_utils.spectrogram and mel_filter_bank (norm and scale "slaney") compute it.
#include "xib/media/whisper_mel.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "fft.h"
#include "xib/error.h"

namespace xib::media {

namespace {

double hertz_to_mel(double f) {  // Slaney: linear below 1 kHz, logarithmic above
  return f < 1000.0 ? 3.0 * f / 200.0 : 15.0 + std::log(f / 1000.0) * (27.0 / std::log(6.4));
}

double mel_to_hertz(double m) {
  return m < 15.0 ? 200.0 * m / 3.0 : 1000.0 * std::exp((std::log(6.4) / 27.0) * (m - 15.0));
}

/// [n_mels][n_fft/2 + 1] triangular filters between 0 and min(8 kHz, Nyquist), area-normalised.
std::vector<std::vector<double>> slaney_filters(const WhisperMelOptions& o) {
  const int64_t bins = o.n_fft / 2 + 1;
  const double max_freq = std::min(8000.0, static_cast<double>(o.sample_rate) / 2.0);
  std::vector<double> fft_freqs(static_cast<size_t>(bins));
  const double top = static_cast<double>(o.sample_rate / 2);  // np.linspace(0, sr // 2, bins)
  for (int64_t k = 0; k < bins; ++k)
    fft_freqs[static_cast<size_t>(k)] = top * static_cast<double>(k) / static_cast<double>(bins - 1);
  const double mel_min = hertz_to_mel(0.0), mel_max = hertz_to_mel(max_freq);
  std::vector<double> f(static_cast<size_t>(o.n_mels + 2));
  for (int64_t i = 0; i < o.n_mels + 2; ++i) {
    f[static_cast<size_t>(i)] =
        mel_to_hertz(mel_min + (mel_max - mel_min) * static_cast<double>(i) / static_cast<double>(o.n_mels + 1));
  }
  std::vector<std::vector<double>> w(static_cast<size_t>(o.n_mels), std::vector<double>(static_cast<size_t>(bins)));
  for (int64_t m = 0; m < o.n_mels; ++m) {
    const auto i = static_cast<size_t>(m);
    const double enorm = 2.0 / (f[i + 2] - f[i]);
    for (int64_t k = 0; k < bins; ++k) {
      const double x = fft_freqs[static_cast<size_t>(k)];
      const double down = (x - f[i]) / (f[i + 1] - f[i]);  // -slopes[:, m] / diff[m]
      const double up = (f[i + 2] - x) / (f[i + 2] - f[i + 1]);
      w[i][static_cast<size_t>(k)] = std::max(0.0, std::min(down, up)) * enorm;
    }
  }
  return w;
}

}  // namespace

void WhisperMelOptions::validate(Validator& v) const {
  v.require(n_mels > 0 && n_mels <= 512, "n_mels", "1 … 512", n_mels);
  v.require(n_fft >= 4 && n_fft <= 65536, "n_fft", "4 … 65536", n_fft);
  v.require(hop_length > 0, "hop_length", "a positive number of samples", hop_length);
  v.require(sample_rate > 0, "sample_rate", "a positive rate in Hz", sample_rate);
  v.require(chunk_seconds >= 0 && chunk_seconds <= 3600, "chunk_seconds", "0 … 3600 (0: no padding)", chunk_seconds);
}

WhisperMel whisper_log_mel(std::span<const float> waveform, const WhisperMelOptions& o) {
  {
    Validator v(ConfigSection{});
    o.validate(v);
    v.finish();
  }
  detail::require_finite(waveform);
  // Pad with zeros or cut to the chunk (WhisperFeatureExtractor's padding="max_length").
  std::vector<double> x(waveform.begin(), waveform.end());
  if (o.chunk_seconds > 0)
    x.resize(static_cast<size_t>(std::llround(o.chunk_seconds * static_cast<double>(o.sample_rate))), 0.0);
  const auto half = static_cast<size_t>(o.n_fft / 2);
  if (x.size() < half + 1) {
    throw UsageError({.what = "the clip is too short for Whisper's centred frames",
                      .expected = fmt::format("{} samples or more", half + 1),
                      .got = fmt::format("{} samples", x.size()),
                      .hint = "pad it to the 30-s window (chunk_seconds: 30)"});
  }
  // numpy's reflect padding (the edge sample not repeated).
  const size_t n = x.size();
  std::vector<double> padded(n + 2 * half);
  for (size_t i = 0; i < padded.size(); ++i) {
    const auto s = static_cast<int64_t>(i) - static_cast<int64_t>(half);
    const int64_t j = s < 0 ? -s : (s >= static_cast<int64_t>(n) ? 2 * static_cast<int64_t>(n) - 2 - s : s);
    padded[i] = x[static_cast<size_t>(j)];
  }
  const auto nfft = static_cast<size_t>(o.n_fft), hop = static_cast<size_t>(o.hop_length);
  const size_t all_frames = 1 + (padded.size() - nfft) / hop;
  const size_t frames = all_frames - 1;  // Whisper drops the last frame
  std::vector<double> window(nfft);
  for (size_t i = 0; i < nfft; ++i) {
    window[i] = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * static_cast<double>(i) / static_cast<double>(nfft));
  }
  const auto filters = slaney_filters(o);
  WhisperMel out{.n_mels = o.n_mels, .frames = static_cast<int64_t>(frames)};
  out.values.resize(static_cast<size_t>(o.n_mels) * frames);
  std::vector<double> frame(nfft), power, logs(static_cast<size_t>(o.n_mels) * frames);
  double top = -1e300;
  for (size_t t = 0; t < frames; ++t) {
    for (size_t i = 0; i < nfft; ++i) frame[i] = padded[t * hop + i] * window[i];
    detail::power_spectrum(frame, power);
    for (int64_t m = 0; m < o.n_mels; ++m) {
      const auto& w = filters[static_cast<size_t>(m)];
      double e = 0.0;
      for (size_t k = 0; k < w.size(); ++k) e += w[k] * power[k];
      const double l = std::log10(std::max(1e-10, e));
      logs[static_cast<size_t>(m) * frames + t] = l;
      top = std::max(top, l);
    }
  }
  for (size_t i = 0; i < logs.size(); ++i)
    out.values[i] = static_cast<float>((std::max(logs[i], top - 8.0) + 4.0) / 4.0);
  return out;
}

}  // namespace xib::media
