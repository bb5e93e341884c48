// Video files that must be refused (xib/media/video.h): each error is of its type, names the
// file (from a path or from memory) and says what is wrong.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "video_fixtures.h"
#include "xib/error.h"
#include "xib/media/video.h"

using namespace xib::media;
using xib::test::video;
using xib::test::video_error_of;

namespace {

struct Bad {
  const char* name;
  const char* says;  ///< a phrase of the report
};

constexpr Bad kBad[] = {
    {"bad_empty.mp4", "the file is empty"},
    {"bad_garbage.mp4", "cannot open the file"},
    {"bad_truncated.mp4", "stream"},
    {"bad_audio_only.m4a", "no video stream"},
    {"bad_no_frames.mkv", "cannot"},
    {"bad_huge.avi", "100000×100000"},
    {"bad_many_frames.avi", "10000000 frames"},
    {"bad_zero_size.gif", "cannot open the file"},  // libav's GIF probe refuses a 0×0 screen
};

}  // namespace

TEST_CASE("bad files are FormatErrors naming the file") {
  for (const Bad& b : kBad) {
    CAPTURE(b.name);
    const std::string report = video_error_of<xib::FormatError>([&] { probe_video(video(b.name)); });
    CAPTURE(report);
    CHECK(report.find(video(b.name).string()) != std::string::npos);
    CHECK(report.find(b.says) != std::string::npos);
    const auto bytes = xib::test::video_bytes(video(b.name));
    const std::string mem = video_error_of<xib::FormatError>([&] {
      const int64_t zero[] = {0};
      decode_video_frames(bytes, zero, {}, "memory.bin");
    });
    CAPTURE(mem);
    CHECK(mem.find("memory.bin") != std::string::npos);
  }
}

TEST_CASE("a corrupt frame decodes as something or is a FormatError, never a crash") {
  std::vector<int64_t> all = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  try {
    const auto frames = read_video_frames(video("bad_corrupt.avi"), all);
    CHECK(frames.size() == 10);
  } catch (const xib::FormatError& e) {
    CHECK(std::string(e.report()).find("bad_corrupt.avi") != std::string::npos);
  }
}

TEST_CASE("limits: frames, seconds and pixels by option, missing files, indices past the end") {
  CHECK(video_error_of<xib::FormatError>([] {
          probe_video(video("h264.mp4"), {.max_frames = 5});
        }).find("too many frames") != std::string::npos);
  CHECK(video_error_of<xib::FormatError>([] {
          probe_video(video("h264.mp4"), {.max_seconds = 0.5});
        }).find("too long") != std::string::npos);
  CHECK(video_error_of<xib::FormatError>([] {
          probe_video(video("h264.mp4"), {.max_pixels = 1000});
        }).find("too large") != std::string::npos);
  const std::string missing = video_error_of<xib::IoError>([] { probe_video(video("no_such.mp4")); });
  CHECK(missing.find("no_such.mp4") != std::string::npos);
  const int64_t past[] = {3, 20};
  const std::string r = video_error_of<xib::UsageError>([&] { read_video_frames(video("h264.mp4"), past); });
  CHECK(r.find("20 frames") != std::string::npos);
  const int64_t negative[] = {-1};
  CHECK(video_error_of<xib::UsageError>([&] { read_video_frames(video("h264.mp4"), negative); }) != "no error");
  CHECK(video_error_of<xib::ConfigError>([] { probe_video(video("h264.mp4"), {.max_frames = 0}); }) != "no error");
}
