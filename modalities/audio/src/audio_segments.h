// How a clip becomes a sequence of segments (SPEC §Encoders, §Data): BEATs' fbank is cut into
// 512-frame segments, Whisper's audio into 30-s windows. Torch-free.
//
//   training (and eval_segments: fixed): the first S segments, zero-padded (upstream: S = 2)
//   evaluation (eval_segments: all):     every segment, the last zero-padded — or, with
//                                        upstream's tail quirk, padded by the remainder (n mod L)
//                                        so that a short tail (and a clip under L/2) is dropped
#pragma once

#include <cstdint>
#include <vector>

namespace xib::audio {

struct SegmentRule {
  int64_t length = 512;  ///< frames (or samples) per segment, L
  int64_t fixed = 0;     ///< > 0: exactly this many segments; 0: every segment
  bool upstream_tail_quirk = false;
};

/// How many segments a clip of `n` frames gives. 0 only with the quirk (a clip under L/2).
int64_t segment_count(int64_t n, const SegmentRule& rule);

/** rows [n, width] (row-major) → [S, L, width]: segment s holds rows s·L … s·L + L − 1,
    zeros past the clip. S = segment_count(n, rule). */
std::vector<float> cut_segments(const std::vector<float>& rows, int64_t n, int64_t width, const SegmentRule& rule);

}  // namespace xib::audio
