// The video library's fixtures (kernel/media/video/tests/data/, written by
// tools/fixtures/video/make_video_fixtures.sh) and helpers for its tests.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "test_support.h"
#include "xib/media/video.h"

namespace xib::test {

inline std::filesystem::path video(const std::string& name) {
  return source_dir() / "kernel/media/video/tests/data" / name;
}

inline std::vector<uint8_t> video_bytes(const std::filesystem::path& file) {
  const std::string s = read_file(file);
  return {s.begin(), s.end()};
}

/// ref/<clip>_<index>.rgb: the frame as `ffmpeg -sws_flags bilinear -pix_fmt rgb24` decodes it.
inline std::vector<uint8_t> video_reference(const std::string& clip, int64_t index) {
  return video_bytes(video("ref/" + clip + "_" + std::to_string(index) + ".rgb"));
}

/// The report of the error `f` throws, if it is an E; "no error" or "wrong error: …" otherwise.
template <class E>
std::string video_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.report();
  } catch (const std::exception& e) {
    return std::string("wrong error: ") + e.what();
  }
  return "no error";
}

/// The largest difference of two equally long byte arrays (255 + 1 when the lengths differ).
inline int max_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  if (a.size() != b.size()) return 256;
  int m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(int(a[i]) - int(b[i])));
  return m;
}

}  // namespace xib::test
