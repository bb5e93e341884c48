// The video decoder (xib/media/video.h) on real clips: probe facts, frames bit-exact against the
// ffmpeg CLI, arbitrary indices, rotation, windows, memory = file, and the writer's round trip.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "video_fixtures.h"
#include "xib/error.h"
#include "xib/media/video.h"

namespace fs = std::filesystem;
using namespace xib::media;
using xib::test::max_difference;
using xib::test::video;
using xib::test::video_reference;

namespace {

struct Clip {
  const char* name;
  const char* codec;
  const char* container;  ///< a part of libavformat's name
  int64_t frames;
  std::vector<int64_t> refs;  ///< the indices with reference frames
};

const std::vector<Clip> kClips = {
    {"h264.mp4", "h264", "mp4", 20, {0, 3, 7, 19}}, {"mpeg4.mp4", "mpeg4", "mp4", 15, {0, 8, 14}},
    {"vp8.webm", "vp8", "webm", 12, {0, 5, 11}},    {"vp9.webm", "vp9", "webm", 12, {0, 6, 11}},
    {"h264.mkv", "h264", "matroska", 12, {0, 11}},  {"mjpeg.avi", "mjpeg", "avi", 10, {0, 4, 9}},
    {"h264.mov", "h264", "mov", 10, {0, 9}},        {"anim.gif", "gif", "gif", 10, {0, 5, 9}},
};

}  // namespace

TEST_CASE("probe_video: size, frames, rate, codec and container of each clip") {
  for (const Clip& c : kClips) {
    CAPTURE(c.name);
    const VideoInfo info = probe_video(video(c.name));
    CHECK(info.width == 64);
    CHECK(info.height == 48);
    CHECK(info.frames == c.frames);
    CHECK(info.fps == doctest::Approx(10).epsilon(0.01));
    CHECK(info.seconds == doctest::Approx(c.frames / 10.0).epsilon(0.01));
    CHECK(info.rotation == 0);
    CHECK(info.codec == c.codec);
    CHECK(info.container.find(c.container) != std::string::npos);
  }
}

TEST_CASE("read_video_frames: bit-exact against `ffmpeg -sws_flags bilinear -pix_fmt rgb24`") {
  for (const Clip& c : kClips) {
    CAPTURE(c.name);
    const auto frames = read_video_frames(video(c.name), c.refs);
    REQUIRE(frames.size() == c.refs.size());
    for (size_t k = 0; k < c.refs.size(); ++k) {
      CAPTURE(c.refs[k]);
      CHECK(frames[k].width == 64);
      CHECK(frames[k].height == 48);
      CHECK(max_difference(frames[k].rgb, video_reference(c.name, c.refs[k])) == 0);
    }
    // Each frame alone (a seek of its own) is the same frame.
    for (size_t k = 0; k < c.refs.size(); ++k) {
      const int64_t one[] = {c.refs[k]};
      CHECK(read_video_frames(video(c.name), one)[0].rgb == frames[k].rgb);
    }
  }
}

TEST_CASE("read_video_frames: unsorted and repeated indices come back in the order asked") {
  const std::vector<int64_t> want = {19, 3, 7, 3, 0, 19};
  const auto frames = read_video_frames(video("h264.mp4"), want);
  REQUIRE(frames.size() == want.size());
  for (size_t k = 0; k < want.size(); ++k) CHECK(frames[k].rgb == video_reference("h264.mp4", want[k]));
  // All frames of a clip, each distinct from the next (testsrc2 moves).
  std::vector<int64_t> all(20);
  for (int64_t i = 0; i < 20; ++i) all[static_cast<size_t>(i)] = i;
  const auto every = read_video_frames(video("h264.mp4"), all);
  for (size_t i = 1; i < every.size(); ++i) CHECK(every[i].rgb != every[i - 1].rgb);
  CHECK(read_video_frames(video("h264.mp4"), std::span<const int64_t>()).empty());
}

TEST_CASE("read_video_frames: a 90° display matrix turns the frames clockwise") {
  const VideoInfo info = probe_video(video("rot90.mp4"));
  CHECK(info.rotation == 90);
  CHECK(info.width == 48);
  CHECK(info.height == 64);
  const int64_t want[] = {0, 6};
  const auto frames = read_video_frames(video("rot90.mp4"), want);
  for (size_t k = 0; k < 2; ++k) {
    REQUIRE(frames[k].width == 48);
    REQUIRE(frames[k].height == 64);
    // The reference is the stored (unrotated, 64×48) frame: turned clockwise, pixel (x, y) of the
    // result is the source's (y, 47 - x).
    const auto ref = video_reference("rot90.mp4", want[k]);
    bool same = true;
    for (int y = 0; y < 64; ++y)
      for (int x = 0; x < 48; ++x)
        for (int c = 0; c < 3; ++c) same = same && frames[k].at(x, y, c) == ref[((47 - x) * 64 + y) * 3 + c];
    CHECK(same);
  }
}

TEST_CASE("a window: frames, seconds and indices refer to it") {
  VideoReadOptions o{.start_seconds = 0.5, .end_seconds = 1.2};
  const VideoInfo info = probe_video(video("h264.mp4"), o);
  CHECK(info.frames == 7);  // frames 5 … 11
  const int64_t want[] = {0, 2};
  const auto frames = read_video_frames(video("h264.mp4"), want, o);
  CHECK(frames[0].rgb == read_video_frames(video("h264.mp4"), std::vector<int64_t>{5})[0].rgb);
  CHECK(frames[1].rgb == video_reference("h264.mp4", 7));
  // The MKV starts at 2.5 s: the window counts from its first frame.
  CHECK(probe_video(video("h264.mkv"), {.start_seconds = 1.0}).frames == 2);
  const auto r =
      xib::test::video_error_of<xib::UsageError>([&] { probe_video(video("h264.mp4"), {.start_seconds = 5}); });
  CHECK(r.find("no frame") != std::string::npos);
}

TEST_CASE("bytes in memory decode as the file does") {
  for (const Clip& c : kClips) {
    CAPTURE(c.name);
    const auto bytes = xib::test::video_bytes(video(c.name));
    const VideoInfo a = probe_video(video(c.name));
    const VideoInfo b = probe_video(bytes, {}, c.name);
    CHECK(a.frames == b.frames);
    CHECK(a.codec == b.codec);
    const auto fa = read_video_frames(video(c.name), c.refs);
    const auto fb = decode_video_frames(bytes, c.refs, {}, c.name);
    for (size_t k = 0; k < fa.size(); ++k) CHECK(fa[k].rgb == fb[k].rgb);
  }
}

TEST_CASE("write_video: frames written and read back, within the codec's loss") {
  const std::vector<int64_t> idx = {0, 3, 7, 10, 15, 19};
  std::vector<Image> frames = read_video_frames(video("h264.mp4"), idx);
  const fs::path out = fs::temp_directory_path() / "xib_test_write_video.mp4";
  write_video(out, frames, 5.0);
  const VideoInfo info = probe_video(out);
  CHECK(info.width == 64);
  CHECK(info.height == 48);
  CHECK(info.frames == 6);
  CHECK(info.fps == doctest::Approx(5));
  std::vector<int64_t> all = {0, 1, 2, 3, 4, 5};
  const auto back = read_video_frames(out, all);
  for (size_t k = 0; k < back.size(); ++k) {
    double sum = 0;
    for (size_t i = 0; i < back[k].rgb.size(); ++i) sum += std::abs(int(back[k].rgb[i]) - int(frames[k].rgb[i]));
    CHECK(sum / static_cast<double>(back[k].rgb.size()) < 6.0);  // mean absolute difference, 8-bit
  }
  // An odd size is padded to even.
  Image odd{.width = 5, .height = 3, .channels = 3, .rgb = std::vector<uint8_t>(45, 128)};
  write_video(out, std::vector<Image>{odd, odd}, 10);
  CHECK(probe_video(out).width == 6);
  CHECK(probe_video(out).height == 4);
  fs::remove(out);
  CHECK(xib::test::video_error_of<xib::UsageError>([&] { write_video(out, std::vector<Image>{}, 10); }) != "no error");
  CHECK(!fs::exists(out));
}
