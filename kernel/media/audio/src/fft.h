// Shared by the audio front ends (internal to xib_media_audio): a small FFT of any length, by
// splitting on its smallest prime factor (radix 2, 3, 5, … recursively; a prime length is a
// plain DFT), double precision — Kaldi's frames are powers of two, Whisper's 400 = 2^4 · 5^2 —
// and the check every front end makes of its input.
#pragma once

#include <complex>
#include <span>
#include <vector>

namespace xib::media::detail {

/// In place: X_k = Σ_t x_t e^{−2πi kt/n}.
void fft(std::vector<std::complex<double>>& x);

/// |X_k|^2 for k = 0 … n/2 of a real sequence of length n.
void power_spectrum(const std::vector<double>& x, std::vector<double>& out);

/// UsageError naming the first sample of `waveform` that is not a finite number.
void require_finite(std::span<const float> waveform);

}  // namespace xib::media::detail
