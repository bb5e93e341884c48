// Frame sampling (see frame_sampling.h).
#include "frame_sampling.h"

#include <fmt/format.h>

#include <algorithm>

#include "xib/error.h"

namespace xib::video {

namespace {

void check(int64_t frames, int64_t n) {
  if (frames <= 0 || n <= 0) {
    throw UsageError({.what = "frame sampling needs a clip with frames and at least one frame to take",
                      .where = "video frame sampling",
                      .expected = "frames > 0 and n > 0",
                      .got = fmt::format("frames {}, n {}", frames, n)});
  }
}

/// k distinct values of [lo, hi), sorted (a partial Fisher–Yates shuffle).
std::vector<int64_t> sample_sorted(int64_t lo, int64_t hi, int64_t k, Rng& rng) {
  std::vector<int64_t> pool(static_cast<size_t>(hi - lo));
  for (int64_t i = 0; i < hi - lo; ++i) pool[static_cast<size_t>(i)] = lo + i;
  for (int64_t i = 0; i < k; ++i) {
    const auto j = static_cast<size_t>(i) + static_cast<size_t>(rng.below(static_cast<uint64_t>(hi - lo - i)));
    std::swap(pool[static_cast<size_t>(i)], pool[j]);
  }
  pool.resize(static_cast<size_t>(k));
  std::sort(pool.begin(), pool.end());
  return pool;
}

}  // namespace

std::vector<int64_t> upstream_eval_indices(const ClipTiming& c, int64_t n) {
  check(c.frames, n);
  // Python: int(start_time * frame_rate), int(end_time * frame_rate), end_time = total / fps.
  const double start_s = c.start_seconds.value_or(0.0);
  const double end_s = c.end_seconds.value_or(static_cast<double>(c.frames) / c.fps);
  const auto start = static_cast<int64_t>(start_s * c.fps);
  const auto end = static_cast<int64_t>(end_s * c.fps);
  // Python's // floors; (end − start) may be negative for a window past the clip.
  const int64_t span = end - start, parts = n - 1;
  std::vector<int64_t> out{start};
  if (parts > 0) {
    const int64_t step = span >= 0 ? span / parts : -((-span + parts - 1) / parts);
    for (int64_t i = 1; i < n - 1; ++i) out.push_back(start + step * i);
  }
  out.push_back(end);
  return out;
}

std::vector<int64_t> upstream_eval_frames(const ClipTiming& c, int64_t n) {
  std::vector<int64_t> out;
  for (int64_t i : upstream_eval_indices(c, n)) {
    if (i < 0 || i >= c.frames) break;  // cap.read() fails: the loop stops
    out.push_back(i);
  }
  while (!out.empty() && static_cast<int64_t>(out.size()) < n) out.push_back(out.back());
  return out;
}

std::vector<int64_t> eval_frames(const ClipTiming& c, int64_t n) {
  check(c.frames, n);
  const auto start = static_cast<int64_t>(c.start_seconds.value_or(0.0) * c.fps);
  if (start >= c.frames) {
    throw UsageError({.what = "the video window starts after the clip's last frame",
                      .where = "video frame sampling",
                      .expected = fmt::format("start_seconds before {:.3f} s ({} frames at {} fps)",
                                              static_cast<double>(c.frames) / c.fps, c.frames, c.fps),
                      .got = fmt::format("{} s (frame {})", c.start_seconds.value_or(0.0), start)});
  }
  if (n == 1) return {std::max<int64_t>(start, 0)};
  std::vector<int64_t> out = upstream_eval_indices(c, n);
  for (auto& i : out) i = std::clamp<int64_t>(i, 0, c.frames - 1);
  return out;
}

std::vector<int64_t> headtail_frames(int64_t frames, int64_t n, Rng& rng) {
  check(frames, n);
  const int64_t taken = std::min(n, frames), half = taken / 2, middle = frames / 2;
  std::vector<int64_t> out = sample_sorted(0, middle, half, rng);
  const std::vector<int64_t> tail = sample_sorted(middle, frames, half, rng);
  out.insert(out.end(), tail.begin(), tail.end());
  if (out.empty()) out.push_back(0);  // upstream asks decord for no frame at all here
  while (static_cast<int64_t>(out.size()) < n) out.push_back(out.back());
  return out;
}

}  // namespace xib::video
