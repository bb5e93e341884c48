// Audio files in: decoded to mono float samples in [-1, 1] at the rate asked for. Torch-free.
//
//   Audio a = read_audio("clip.m4a");                          // 16 kHz mono, up to 600 s
//   Audio b = read_audio("talk.flac", {.sample_rate = 0,       // the file's own rate
//                                      .start_seconds = 12, .end_seconds = 15});
//
// Two decoders, chosen by content, never by extension. libsndfile reads what starts like a WAV
// (RIFF/RIFX/RF64/BW64, Wave64), AIFF, FLAC, AU or CAF file; anything it does not read goes to
// FFmpeg's libav (libavformat + libavcodec), limited to the demuxers of audio and common video
// containers: MP3, Ogg (Vorbis, Opus, FLAC), M4A/MP4/MOV (AAC, ALAC, …), MKV/WebM, AVI, ASF/WMA,
// MPEG-TS, raw AAC (ADTS), AC-3, and again FLAC, WAV, AIFF, CAF, AMR. (MP3 and Ogg are libav's
// although libsndfile 1.2 reads them: it prints mpg123's notes on damaged MP3 streams and leaks
// memory on malformed Vorbis headers.) A video file gives its best audio track. Both read the
// bytes through one source (a file read in place, or a buffer in memory), so read_audio(f) and
// decode_audio(bytes of f) decode alike.
//
// Then: the window [start_seconds, end_seconds) is cut at the file's own rate (libsndfile seeks
// to it; libav decodes from the start and drops what comes before it), decoding stops after
// max_seconds of the window whatever the header claims (frames are read in chunks, nothing is
// allocated from a declared length), channels are averaged, and libsoxr (high quality) resamples
// to sample_rate. Samples outside [-1, 1] (float files, codec overshoot) are clipped to it before
// resampling, and the resampler's ringing after it.
//
// Errors: a missing or unreadable file is an IoError naming it. Content neither decoder reads
// (empty, corrupt, truncated before any audio, no audio track, not audio at all) is a
// FormatError naming the file, with what each decoder said and a hint; so are headers with 0 or
// more than max_channels channels or a sample rate ≤ 0 or above 768 kHz (refused before
// decoding), NaN or infinite samples, and a file that decodes to no samples. A window that
// starts after the end of the clip is a UsageError. Options out of range are a ConfigError.
// Nothing aborts, and nothing is printed: libav's log is routed (process-wide, once) into the
// last error message of the thread, which goes into the FormatError.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "xib/config.h"

namespace xib::media {

/// The highest sample rate a file may declare (and sample_rate may ask for): 768 kHz.
inline constexpr int64_t kMaxAudioSampleRate = 768'000;

struct AudioReadOptions {
  int64_t sample_rate = 16000;  ///< Hz of the output; 0: the file's own
  double start_seconds = 0;     ///< the window's start in the clip
  double end_seconds = 0;       ///< the window's end; 0: the end of the clip (an end past it is the end)
  double max_seconds = 600;     ///< decoding stops after this much audio from the start: a memory bound
  int64_t max_channels = 64;    ///< files declaring more channels are refused before decoding

  template <class V>
  void fields(V& v) {
    v("sample_rate", sample_rate, "output sample rate, Hz (0: the file's own)");
    v("start_seconds", start_seconds, "start of the window, seconds into the clip");
    v("end_seconds", end_seconds, "end of the window, seconds into the clip (0: the end of the clip)");
    v("max_seconds", max_seconds, "decode at most this many seconds from the start (memory bound)");
    v("max_channels", max_channels, "refuse files with more channels than this");
  }
  void validate(Validator& v) const;
};

struct Audio {
  std::vector<float> samples = {};  ///< [n] mono (the channels' mean), in [-1, 1], at sample_rate
  int64_t sample_rate = 0;          ///< Hz
  int64_t source_rate = 0;          ///< Hz, as the file stores it
  int64_t source_channels = 0;
  std::string decoder = {};  ///< "libsndfile: WAV (Microsoft) / Signed 16 bit PCM", "libav: mov,mp4,… / aac"
  bool truncated = false;    ///< decoding stopped at max_seconds while the window went on

  /// samples / sample_rate.
  double seconds() const;
};

/** Decode a file. IoError when it cannot be read; FormatError when its content cannot be
    decoded (see above); UsageError when the window starts after its end; ConfigError for
    invalid options. */
Audio read_audio(const std::filesystem::path& file, const AudioReadOptions& options = {});

/// The same from bytes in memory (fuzzing, tests); `name` stands for the file in messages.
Audio decode_audio(std::span<const uint8_t> bytes, const AudioReadOptions& options, std::string_view name);

/** [n] at `from` Hz → [round(n × to / from)] at `to` Hz, by libsoxr at high quality (20-bit
    precision, linear phase; the signal is taken as zero outside the span); a copy when the
    rates are equal. UsageError for rates outside 1 … 768 kHz. Not clipped. */
std::vector<float> resample(std::span<const float> samples, int64_t from, int64_t to);

}  // namespace xib::media
