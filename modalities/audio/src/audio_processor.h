// The audio processor: file → decoded, downmixed, resampled mono (xib/media/audio_file.h, the
// recipe's window and max_seconds) → the encoder's front end → a sequence of segments:
//   beats            Kaldi fbank as BEATs computes it (waveform × 2^15, 128 bins, 25/10 ms,
//                    normalised) cut into L-frame segments → [S, L, 128]
//   whisper_tiny_en  each L·hop-sample window (30 s) through Whisper's log-mel → [S, 80, L]
// Training (and eval_segments: fixed) takes the first S segments, zero-padded; evaluation with
// eval_segments: all keeps every segment (audio_segments.h). No random augmentation (upstream
// has none for audio).
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "audio_options.h"
#include "xib/media/audio_file.h"
#include "xib/modality.h"

namespace xib::audio {

/// The encoder-dependent front-end facts.
struct FrontEnd {
  std::string encoder;         ///< "beats" or "whisper_tiny_en"
  int64_t bins = 0;            ///< mel bins: 128 (beats), 80 (whisper)
  int64_t segment_frames = 0;  ///< L
  int64_t train_segments = 0;  ///< S in training
  int64_t hop = 0;             ///< samples per frame step (160 at 16 kHz for both)
};

class AudioProcessor : public Processor {
 public:
  AudioProcessor(ProcessorOptions options, const EncoderOptions& encoder);

  /** file → [S, L, 128] (beats) or [S, 80, L] (whisper). FormatError naming the file when it
      cannot be decoded, IoError when it cannot be read. */
  Tensor load(const std::filesystem::path& file, bool training) override;
  nlohmann::json config() const override;

  /// The decoded clip as the front end sees it (mono, options.sample_rate).
  media::Audio decode(const std::filesystem::path& file) const;
  /** mono samples at the processor's rate → the segments of load(), flattened, and S. */
  std::vector<float> features(const std::vector<float>& samples, bool training, int64_t& segments,
                              const std::string& name) const;
  /// The shape of one segment: {L, 128} or {80, L}.
  std::vector<int64_t> segment_shape() const;

  const ProcessorOptions& options() const { return options_; }
  const FrontEnd& front_end() const { return front_; }

 private:
  ProcessorOptions options_;
  FrontEnd front_;
};

}  // namespace xib::audio
