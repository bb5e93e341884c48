// Which frames of a clip the video modality takes (SPEC §Encoders: 5 frames, "headtail"):
//
//   training    upstream's load_video(sampling="headtail"): n' = min(n, frames); ⌊n'/2⌋ distinct
//               frames drawn from the first half [0, ⌊frames/2⌋) and as many from the second,
//               each half sorted; the last index repeated up to n (AlproVideo*Processor pads by
//               repeating the last frame), so 5 requested give 4 distinct frames.
//   evaluation  upstream's head_tail_frame_sampling: start = ⌊start_s · fps⌋, end = ⌊end_s ·
//               fps⌋ (end_s = frames / fps when not given), indices [start, start + ⌊(end −
//               start)/(n − 1)⌋ · i for i in 1 … n − 2, end].
//
// Upstream's evaluation asks for frame `frames` itself when no end is given (one past the last:
// OpenCV's read fails, the clip stops there and the last frame read is repeated), and asks for
// two frames when n = 1. By default xib clamps every index to the clip (the last index is the
// last frame) and n = 1 gives the first frame; `upstream_quirks` reproduces upstream exactly.
// Torch-free.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "xib/runtime.h"

namespace xib::video {

/// The frames and rate of a clip, and the window asked for (seconds; nullopt: not given).
struct ClipTiming {
  int64_t frames = 0;
  double fps = 0;
  std::optional<double> start_seconds = {};
  std::optional<double> end_seconds = {};
};

/// Upstream's evaluation indices, as head_tail_frame_sampling computes them (before reading:
/// the list may hold indices ≥ frames). n ≥ 1.
std::vector<int64_t> upstream_eval_indices(const ClipTiming& clip, int64_t n);

/// The frames upstream's evaluation actually returns for that list: the indices before the
/// first one OpenCV cannot read (≥ frames), then the last of them repeated up to n; empty when
/// even the first cannot be read.
std::vector<int64_t> upstream_eval_frames(const ClipTiming& clip, int64_t n);

/// xib's evaluation frames: upstream's indices clamped to the clip, exactly n of them (n = 1:
/// the window's first frame). UsageError when the window starts after the clip's last frame.
std::vector<int64_t> eval_frames(const ClipTiming& clip, int64_t n);

/** Training frames (headtail) for a clip of `frames` frames → n indices (see above), drawn
    from `rng`. A one-frame clip gives frame 0 n times. */
std::vector<int64_t> headtail_frames(int64_t frames, int64_t n, Rng& rng);

}  // namespace xib::video
