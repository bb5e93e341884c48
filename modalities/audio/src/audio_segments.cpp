// Segments of a clip (see audio_segments.h).
#include "audio_segments.h"

#include <algorithm>

#include "xib/error.h"

namespace xib::audio {

int64_t segment_count(int64_t n, const SegmentRule& r) {
  if (r.length <= 0 || n < 0) {
    throw UsageError(
        {.what = "segment length must be positive", .where = "audio segments", .got = std::to_string(r.length)});
  }
  if (r.fixed > 0) return r.fixed;
  if (r.upstream_tail_quirk) return (n + n % r.length) / r.length;  // LAVIS BeatsAudioProcessor, is_eval
  return std::max<int64_t>(1, (n + r.length - 1) / r.length);
}

std::vector<float> cut_segments(const std::vector<float>& rows, int64_t n, int64_t width, const SegmentRule& r) {
  const int64_t s = segment_count(n, r);
  std::vector<float> out(static_cast<size_t>(s * r.length * width), 0.0f);
  const int64_t keep = std::min(n, s * r.length);
  std::copy_n(rows.begin(), keep * width, out.begin());
  return out;
}

}  // namespace xib::audio
