// Segments of a clip: training's fixed count, evaluation's every segment, and upstream's
// evaluation tail quirk (LAVIS BeatsAudioProcessor pads by n mod L, not up to L), on a table of
// clip lengths computed by hand from upstream's code.
#include <doctest/doctest.h>

#include <numeric>

#include "audio_segments.h"
#include "xib/error.h"

using namespace xib;
using namespace xib::audio;

TEST_CASE("audio segments: how many segments a clip gives, with and without upstream's tail quirk") {
  struct Row {
    int64_t frames, all, quirk;
  };
  // quirk: (n + n mod 512) / 512, e.g. 600 → 688 → 1 (88 frames dropped), 900 → 1288 → 2.
  const Row rows[] = {{1, 1, 0},    {100, 1, 0},  {255, 1, 0},  {256, 1, 1},  {300, 1, 1},  {511, 1, 1},
                      {512, 1, 1},  {513, 2, 1},  {600, 2, 1},  {767, 2, 1},  {768, 2, 2},  {900, 2, 2},
                      {1024, 2, 2}, {1025, 3, 2}, {1500, 3, 3}, {2999, 6, 6}, {3000, 6, 6}, {0, 1, 0}};
  for (const auto& r : rows) {
    CAPTURE(r.frames);
    CHECK(segment_count(r.frames, {.length = 512}) == r.all);
    CHECK(segment_count(r.frames, {.length = 512, .upstream_tail_quirk = true}) == r.quirk);
    CHECK(segment_count(r.frames, {.length = 512, .fixed = 2}) == 2);  // training: always 2
  }
  CHECK_THROWS_AS(segment_count(10, {.length = 0}), UsageError);
}

TEST_CASE("audio segments: rows are cut in order, zero-padded past the clip, cut past the count") {
  const int64_t n = 7, width = 3;
  std::vector<float> rows(n * width);
  std::iota(rows.begin(), rows.end(), 1.0f);
  const auto all = cut_segments(rows, n, width, {.length = 3});  // 3 segments, the last with 2 zero rows
  REQUIRE(all.size() == 3u * 3 * 3);
  for (int64_t i = 0; i < n * width; ++i) CHECK(all[static_cast<size_t>(i)] == rows[static_cast<size_t>(i)]);
  for (size_t i = n * width; i < all.size(); ++i) CHECK(all[i] == 0.0f);
  const auto first = cut_segments(rows, n, width, {.length = 3, .fixed = 1});  // training: the first only
  REQUIRE(first.size() == 9u);
  CHECK(first.back() == 9.0f);
  const auto quirk = cut_segments(rows, n, width, {.length = 3, .upstream_tail_quirk = true});  // (7 + 1) / 3 = 2
  CHECK(quirk.size() == 2u * 3 * 3);
  CHECK(quirk.back() == 18.0f);  // row 6 is dropped
}
