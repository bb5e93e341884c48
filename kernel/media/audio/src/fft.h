// A small FFT for the audio front ends (internal to xib_media_audio): any length, by splitting
// on its smallest prime factor (radix 2, 3, 5, … recursively; a prime length is a plain DFT).
// Double precision. Kaldi's frames are powers of two; Whisper's are 400 = 2^4 · 5^2.
#pragma once

#include <complex>
#include <vector>

namespace xib::media::detail {

/// In place: X_k = Σ_t x_t e^{−2πi kt/n}.
void fft(std::vector<std::complex<double>>& x);

/// |X_k|^2 for k = 0 … n/2 of a real sequence of length n.
void power_spectrum(const std::vector<double>& x, std::vector<double>& out);

}  // namespace xib::media::detail
