// Whisper's log-mel front end, as transformers' WhisperFeatureExtractor computes it: the clip
// padded with zeros (or cut) to 30 s, a centred STFT (n_fft 400, hop 160, periodic Hann, reflect
// padding of n_fft/2 at both ends) with its last frame dropped, the power spectrum through 80
// Slaney-normalised mel filters (Slaney mel scale, 0–8000 Hz), floored at 1e-10, log10, clamped
// at the maximum − 8, then (x + 4) / 4. Torch-free; double precision.
//
//   WhisperMel m = whisper_log_mel(samples_16k);      // [80, 3000] for the 30-s window
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "xib/config.h"

namespace xib::media {

struct WhisperMelOptions {
  int64_t n_mels = 80;
  int64_t n_fft = 400;
  int64_t hop_length = 160;
  int64_t sample_rate = 16000;
  /// Pad with zeros (or cut) to this many seconds first, as Whisper's encoder expects (3000
  /// frames for 30 s); 0: the clip as it is (at least n_fft / 2 + 1 samples).
  double chunk_seconds = 30.0;

  template <class V>
  void fields(V& v) {
    v("n_mels", n_mels, "mel filters");
    v("n_fft", n_fft, "FFT size (= window length)");
    v("hop_length", hop_length, "samples between frames");
    v("sample_rate", sample_rate, "Hz");
    v("chunk_seconds", chunk_seconds, "pad or cut the clip to this length first (0: keep it)");
  }
  void validate(Validator& v) const;
};

struct WhisperMel {
  int64_t n_mels = 0;
  int64_t frames = 0;
  std::vector<float> values;  ///< [n_mels, frames], row-major (Whisper's layout)
  float at(int64_t mel, int64_t frame) const { return values[static_cast<size_t>(mel * frames + frame)]; }
};

/** mono waveform [n] in [-1, 1] at sample_rate → [n_mels, frames]. ConfigError for invalid
    options; UsageError for a clip too short to reflect-pad (chunk_seconds 0) or not finite. */
WhisperMel whisper_log_mel(std::span<const float> waveform, const WhisperMelOptions& options = {});

}  // namespace xib::media
