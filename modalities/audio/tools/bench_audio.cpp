// Audio benchmark helper (scripts/bench_audio.sh; not a test). Its Python counterpart is
// tools/bench_audio.py, on the same deterministic inputs.
//
//   bench_audio fbank BINS SECONDS REPS   Kaldi fbank as BEATs computes it (BINS mel bins (BEATs: 128),
//                                         25/10 ms, ×2^15, normalised) on SECONDS of a 16-kHz chirp
//                                         with noise
//   bench_audio whisper REPS           the Whisper tiny.en encoder (model cache model.bin) on one
//                                      30-s log-mel window [1, 80, 3000]
//
// Prints "seconds=<median of REPS calls, after one warm-up> out=<checksum>". $AUDIO_THREADS sets
// LibTorch's thread count (the encoder); the fbank is single-threaded.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "encoders.h"
#include "xib/error.h"
#include "xib/media/fbank.h"

namespace {

/// The benchmark signal: a 200 → 3200 Hz chirp plus a little deterministic noise, in [-1, 1].
std::vector<float> chirp(int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / 16000.0, span = static_cast<double>(n) / 16000.0;
    const double phase = 2 * M_PI * (200.0 * t + 1500.0 * t * t / span);
    x[static_cast<size_t>(i)] = static_cast<float>(0.5 * std::sin(phase) + 0.01 * ((i * 7919 % 1000) / 1000.0 - 0.5));
  }
  return x;
}

template <class F>
double median_seconds(int reps, F&& f) {
  f();  // warm-up
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto a = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) try {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (const char* t = std::getenv("AUDIO_THREADS"); t && *t) at::set_num_threads(std::atoi(t));
  if (mode == "fbank" && argc == 5) {
    auto options = xib::media::beats_fbank_options();
    options.num_mel_bins = std::atoi(argv[2]);
    const int64_t n = static_cast<int64_t>(std::atof(argv[3]) * 16000);
    std::vector<float> x = chirp(n);
    for (auto& v : x) v *= 32768.0f;
    double sum = 0;
    const double s = median_seconds(std::atoi(argv[4]), [&] {
      auto f = xib::media::kaldi_fbank(x, options);
      xib::media::normalize_beats_fbank(f);
      sum = f.values[0] + f.values.back();
    });
    std::printf("seconds=%.6f out=%.6f\n", s, sum);
    return 0;
  }
  if (mode == "whisper" && argc == 3) {
    xib::audio::EncoderOptions o;
    const auto enc = xib::audio::make_encoder(o);
    const at::Tensor mel = at::sin(at::arange(80 * 3000, at::kFloat) * 0.001).reshape({1, 80, 3000});
    double sum = 0;
    const double s = median_seconds(std::atoi(argv[2]), [&] { sum = enc->encode(mel).sum().item<double>(); });
    std::printf("seconds=%.6f out=%.6f threads=%d\n", s, sum, at::get_num_threads());
    return 0;
  }
  std::fprintf(stderr, "usage: bench_audio fbank BINS SECONDS REPS | bench_audio whisper REPS\n");
  return 2;
} catch (const xib::Error& e) {
  std::fprintf(stderr, "%s\n", e.report().c_str());
  return 1;
}
