// Kaldi filterbank features (compute-fbank-feats), as torchaudio.compliance.kaldi.fbank computes
// them and as BEATs feeds them to its encoder (SPEC §Encoders). Torch-free.
//
//   FbankOptions o = beats_fbank_options();              // 128 bins, 25 ms / 10 ms, dither 0
//   Fbank f = kaldi_fbank(samples_times_32768, o);       // [frames, 128] log mel energies
//   normalize_beats_fbank(f);                            // (x − 15.41663) / (2 × 6.55582)
//
// Per frame (Kaldi's FeatureWindowFunction + MelBanks): frames of frame_length ms every
// frame_shift ms (snip_edges: only whole frames; otherwise the signal is reflected at both ends
// and there are round(n / shift) frames), the frame's mean removed, its raw log energy taken,
// pre-emphasis, the window (povey = Hann^0.85, hanning, hamming, rectangular, blackman),
// zero-padding to a power of two, the power (or magnitude) spectrum, triangular mel filters
// between low_freq and high_freq on the 1127 ln(1 + f/700) scale (the Nyquist bin unused), and
// the log floored at float32's epsilon. Computed in double, returned as float.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "xib/config.h"

namespace xib::media {

/// torchaudio.compliance.kaldi.fbank's options, with its defaults. Dither must be 0 (the
/// features are then deterministic, as BEATs computes them); VTLN warping is not supported.
struct FbankOptions {
  double sample_frequency = 16000.0;  ///< Hz
  double frame_length = 25.0;         ///< ms
  double frame_shift = 10.0;          ///< ms
  int64_t num_mel_bins = 23;
  double low_freq = 20.0;  ///< Hz
  double high_freq = 0.0;  ///< Hz; ≤ 0: that much below the Nyquist frequency
  double preemphasis_coefficient = 0.97;
  bool remove_dc_offset = true;
  std::string window_type = "povey";  ///< povey, hanning, hamming, rectangular, blackman
  double blackman_coeff = 0.42;
  bool round_to_power_of_two = true;
  bool snip_edges = true;
  bool use_power = true;      ///< power spectrum (false: magnitude)
  bool use_log_fbank = true;  ///< log of the mel energies
  bool use_energy = false;    ///< add the frame's log energy as a column (first; last with htk_compat)
  bool raw_energy = true;     ///< that energy before pre-emphasis and window
  double energy_floor = 1.0;  ///< floor of the log energy (as exp): 0 for none
  bool htk_compat = false;
  bool subtract_mean = false;  ///< subtract each column's mean over the frames
  double dither = 0.0;

  template <class V>
  void fields(V& v) {
    v("sample_frequency", sample_frequency, "sample rate of the waveform, Hz");
    v("frame_length", frame_length, "frame length, ms");
    v("frame_shift", frame_shift, "frame shift, ms");
    v("num_mel_bins", num_mel_bins, "number of triangular mel filters");
    v("low_freq", low_freq, "low cut-off of the filters, Hz");
    v("high_freq", high_freq, "high cut-off, Hz (≤ 0: offset from the Nyquist frequency)");
    v("preemphasis_coefficient", preemphasis_coefficient, "pre-emphasis");
    v("remove_dc_offset", remove_dc_offset, "subtract each frame's mean");
    v("window_type", window_type, "povey, hanning, hamming, rectangular or blackman");
    v("blackman_coeff", blackman_coeff, "the Blackman window's coefficient");
    v("round_to_power_of_two", round_to_power_of_two, "zero-pad each frame to a power of two for the FFT");
    v("snip_edges", snip_edges, "only frames that fit wholly (false: reflect at the ends)");
    v("use_power", use_power, "power spectrum (false: magnitude)");
    v("use_log_fbank", use_log_fbank, "log of the filterbank energies");
    v("use_energy", use_energy, "add the frame's log energy as a column");
    v("raw_energy", raw_energy, "energy before pre-emphasis and windowing");
    v("energy_floor", energy_floor, "floor of the energy (0: none)");
    v("htk_compat", htk_compat, "energy column last, as HTK");
    v("subtract_mean", subtract_mean, "subtract the mean of each column");
    v("dither", dither, "must be 0: features are deterministic");
  }
  void validate(Validator& v) const;
  /// Samples per frame, per shift, and the FFT size.
  int64_t window_size() const;
  int64_t window_shift() const;
  int64_t padded_window_size() const;
};

/// BEATs' settings (SPEC): 128 mel bins, 25 ms frames every 10 ms at 16 kHz, dither 0, the rest
/// at torchaudio's defaults.
FbankOptions beats_fbank_options();
inline constexpr double kBeatsFbankMean = 15.41663;
inline constexpr double kBeatsFbankStd = 6.55582;

struct Fbank {
  int64_t frames = 0;
  int64_t bins = 0;           ///< num_mel_bins (+1 with use_energy)
  std::vector<float> values;  ///< [frames, bins], row-major
  float at(int64_t frame, int64_t bin) const { return values[static_cast<size_t>(frame * bins + bin)]; }
};

/** waveform [n] (mono, in the scale Kaldi expects: BEATs multiplies [-1, 1] audio by 2^15) →
    [frames, bins]. ConfigError for invalid options; UsageError when the waveform is shorter
    than one frame (torchaudio refuses it too) or not finite. */
Fbank kaldi_fbank(std::span<const float> waveform, const FbankOptions& options);

/// In place: (x − kBeatsFbankMean) / (2 kBeatsFbankStd), as BEATs' preprocess does.
void normalize_beats_fbank(Fbank& f);

}  // namespace xib::media
