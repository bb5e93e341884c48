// libFuzzer target for the video decoder (xib/media/video.h): bytes from memory through libav's
// allow-listed demuxers (MP4/MOV, Matroska/WebM, AVI, GIF), the header checks, the demux pass
// that counts frames, the seek and decode of a few frames, libswscale's RGB conversion and the
// rotation. The input's size picks the frames asked for (the first; the last and the first; a
// middle one within a window); the limits stay small so that the fuzzer explores containers
// rather than long decodes. A decoded frame must be non-empty RGB within max_pixels. Anything
// but a value or an xib::Error (a crash, another exception, a sanitizer report) is a bug. libav
// is not instrumented: coverage counts xib's code. Built and run by `make fuzz`
// (scripts/fuzz.sh), seeded with tests/fuzz/data/video (tiny clips from
// tools/fixtures/video/make_video_fixtures.sh) and the refused files of kernel/media/video/tests/data.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "fuzz_files.h"
#include "xib/media/video.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  xib::media::VideoReadOptions o{.max_frames = 200, .max_pixels = 256 * 256, .max_seconds = 60};
  if (size % 3 == 2) {
    o.start_seconds = 0.1;
    o.end_seconds = 1.0;
  }
  xib::fuzz::expect_ok_or_error([&] {
    const std::span<const uint8_t> bytes(data, size);
    const xib::media::VideoInfo info = xib::media::probe_video(bytes, o, "fuzz");
    if (info.frames <= 0 || info.frames > o.max_frames || info.width <= 0 || info.height <= 0) std::abort();
    std::vector<int64_t> want = {0};
    if (size % 3 == 1) want = {info.frames - 1, 0};
    if (size % 3 == 2) want = {info.frames / 2};
    for (const auto& f : xib::media::decode_video_frames(bytes, want, o, "fuzz")) {
      if (f.empty() || static_cast<int64_t>(f.width) * f.height > o.max_pixels ||
          f.rgb.size() != static_cast<size_t>(f.width) * f.height * 3) {
        std::abort();
      }
    }
  });
  return 0;
}
