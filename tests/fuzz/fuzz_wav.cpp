// libFuzzer target for the audio file decoder (xib/media/audio_file.h): bytes from memory through
// the content sniffing, libsndfile (WAV/RIFF headers and chunks, FLAC, AIFF, …) or libav
// (allow-listed demuxers: MP3, Ogg, MP4, Matroska, …), the window, the mean of the channels and
// libsoxr resampling. The input's
// size picks one of four option sets (its bytes stay the file): the file's rate, 16 kHz, a window,
// a tiny max_seconds at 8 kHz; max_seconds stays small so that the fuzzer explores headers rather
// than long decodes. A decoded clip must be non-empty, at its rate, within [-1, 1] and no longer
// than the window allows. Anything but a value or an xib::Error (a crash, another exception, a
// sanitizer report) is a bug. libsndfile and libav are not instrumented: coverage counts xib's code.
// Built and run by `make fuzz` (scripts/fuzz.sh), seeded with tests/fuzz/data/wav (tiny valid
// WAV, FLAC, AIFF, Ogg, MP3, M4A files from tools/fixtures/audio/make_sound_fixtures.sh, and
// leak_vorbis_header.ogg: the input on which libsndfile leaked, before Ogg went to libav) and the
// refused files of kernel/media/audio/tests/data/sounds.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "fuzz_files.h"
#include "xib/media/audio_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  xib::media::AudioReadOptions o{.sample_rate = 0, .max_seconds = 2, .max_channels = 16};
  switch (size % 4) {
    case 1:
      o.sample_rate = 16000;
      break;
    case 2:
      o.start_seconds = 0.01;
      o.end_seconds = 0.05;
      break;
    case 3:
      o.sample_rate = 8000;
      o.max_seconds = 0.01;
      break;
    default:
      break;
  }
  xib::fuzz::expect_ok_or_error([&] {
    const xib::media::Audio a = xib::media::decode_audio(std::span<const uint8_t>(data, size), o, "fuzz");
    if (a.samples.empty() || a.sample_rate <= 0 || a.source_rate <= 0 || a.source_channels <= 0) std::abort();
    if (o.sample_rate > 0 && a.sample_rate != o.sample_rate) std::abort();
    const double longest = (o.end_seconds > 0 ? o.end_seconds - o.start_seconds : o.max_seconds);
    if (a.seconds() > longest + 2.0 / static_cast<double>(a.sample_rate) + 1.0 / static_cast<double>(a.source_rate)) {
      std::abort();
    }
    double sum = 0;
    for (float v : a.samples) {
      if (!(v >= -1.0f && v <= 1.0f)) std::abort();
      sum += v;
    }
    static volatile double sink;
    sink = sum;
  });
  return 0;
}
