// Internals of the audio file decoder (xib/media/audio_file.h): the byte source both decoders
// read through, the sink they hand frames to (window, mean of the channels, resampling), the
// streaming resampler, and the two decoders.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "xib/media/audio_file.h"

struct soxr;

namespace xib::media::audio_detail {

/// Random-access bytes: a file read in place (pread) or a buffer in memory. Reads past the end
/// return fewer bytes; a failed read returns -1 and keeps the reason (io_error()).
class ByteSource {
 public:
  /// Opens `file` (IoError naming it when it cannot be opened).
  explicit ByteSource(const std::filesystem::path& file);
  /// Reads `bytes` (not copied: they must outlive the source).
  explicit ByteSource(std::span<const uint8_t> bytes);
  ~ByteSource();
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  int64_t size() const { return size_; }
  int64_t tell() const { return pos_; }
  /// Moves to `pos`; false (and no move) outside [0, size].
  bool seek(int64_t pos);
  /// Up to `n` bytes from the position into `out`: the count (0 at the end), or -1 on a failed read.
  int64_t read(void* out, int64_t n);
  /// Why a read failed ("" when none did).
  const std::string& io_error() const { return io_error_; }
  /// The first up to `n` bytes (the position is kept).
  std::vector<uint8_t> head(int64_t n);

 private:
  int fd_ = -1;
  const uint8_t* data_ = nullptr;
  int64_t size_ = 0;
  int64_t pos_ = 0;
  std::string io_error_;
};

/// Streaming libsoxr resampler of one channel, float in and out: round(n × to / from) samples
/// out for n in once finish()ed. A plain copy when the rates are equal.
class Resampler {
 public:
  Resampler(int64_t from, int64_t to);
  ~Resampler();
  Resampler(const Resampler&) = delete;
  Resampler& operator=(const Resampler&) = delete;
  /// Resamples `in`, appending what is ready to `out`.
  void push(std::span<const float> in, std::vector<float>& out);
  /// Flushes the rest into `out`.
  void finish(std::vector<float>& out);

 private:
  int64_t from_, to_;
  soxr* soxr_ = nullptr;
  int64_t in_total_ = 0, out_total_ = 0;
  std::vector<float> buffer_;
};

/// Where a decoder's frames go. begin() states the stream's rate and channels (checked against
/// the limits before any frame); push() takes interleaved frames in order, keeps those in the
/// window, averages their channels, checks they are finite, and resamples them.
class AudioSink {
 public:
  AudioSink(const AudioReadOptions& options, std::string_view name);

  /// A (new) stream: resets everything. FormatError for a rate outside 1 … 768 kHz or channels
  /// outside 1 … max_channels; `decoder` names the decoder and format in Audio::decoder.
  void begin(int64_t rate, int64_t channels, std::string decoder);
  /// The first frame of the window, at the stream's rate.
  int64_t window_first() const { return first_; }
  /// The decoder sought to frame `pos` (≤ window_first()) instead of decoding up to it;
  /// `claimed_frames` (≥ 0) is the stream's length by its header, for the message when nothing
  /// comes after that point.
  void sought(int64_t pos, int64_t claimed_frames = -1) {
    position_ = pos;
    claimed_ = claimed_frames;
  }
  /// Frames seen so far (the position in the stream).
  int64_t position() const { return position_; }
  /// `frames` frames of `channels` interleaved floats. False once decoding can stop: the window
  /// is full and a frame past it was seen (so `truncated` is known).
  bool push(const float* interleaved, int64_t frames, int64_t channels);
  bool done() const { return position_ > last_; }
  /// Frames kept so far (at the stream's rate).
  int64_t kept() const { return kept_; }

  /// The decoded audio. UsageError when the window starts after the end of the stream;
  /// FormatError when nothing was decoded.
  Audio finish();

  const AudioReadOptions& options() const { return options_; }
  const std::string& name() const { return name_; }

 private:
  AudioReadOptions options_;
  std::string name_;
  std::string decoder_;
  int64_t rate_ = 0, channels_ = 0;
  int64_t first_ = 0, last_ = std::numeric_limits<int64_t>::max(), cap_ = 0;
  int64_t position_ = 0, kept_ = 0, claimed_ = -1;
  std::vector<float> mono_, samples_;
  std::unique_ptr<Resampler> resampler_;
};

/// What a decoder made of the bytes: decoded (into the sink), or refused with what it said.
struct Attempt {
  bool decoded = false;
  std::string said;
};

/// Whether the content is of a format libsndfile is given: starts like a WAV (not holding MPEG
/// audio), Wave64, AIFF, FLAC, AU or CAF file.
bool sndfile_reads(ByteSource& source);
/// libsndfile through virtual I/O over `source`. Throws FormatError for limits (rate, channels)
/// and bad samples; refuses (Attempt::said) what libsndfile cannot open or decodes nothing of.
Attempt decode_with_sndfile(ByteSource& source, AudioSink& sink);
/// libav (allow-listed demuxers) through a custom AVIOContext over `source`. Throws FormatError
/// for limits, a file without an audio stream, or without a decoder for it.
Attempt decode_with_libav(ByteSource& source, AudioSink& sink);

/// Throws FormatError for a rate or channel count outside the limits (`what`: "libsndfile: WAV").
void check_stream(std::string_view name, std::string_view what, int64_t rate, int64_t channels, int64_t max_channels);

}  // namespace xib::media::audio_detail
