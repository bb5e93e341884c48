// Video frame sampling against upstream's own functions (LAVIS data_utils.py, run by
// tools/fixtures/video/make_sampling_fixtures.py on 720 clip/window/count cases): the
// evaluation indices exactly, and the frames upstream ends up with; training's headtail draws
// checked for structure and distribution (upstream draws with Python's `random`).
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "frame_sampling.h"
#include "test_support.h"
#include "xib/error.h"

using namespace xib;
using namespace xib::video;
using nlohmann::json;

namespace {

json upstream() {
  std::ifstream in(test::source_dir() / "modalities/video/tests/data/upstream_sampling.json");
  return json::parse(in);
}

ClipTiming timing(const json& row) {
  ClipTiming c{.frames = row["frames"], .fps = row["fps"]};
  if (!row["start"].is_null()) c.start_seconds = row["start"].get<double>();
  if (!row["end"].is_null()) c.end_seconds = row["end"].get<double>();
  return c;
}

}  // namespace

TEST_CASE("frame sampling: evaluation indices equal upstream's head_tail_frame_sampling on 720 cases") {
  const json doc = upstream();
  REQUIRE(doc["eval"].size() == 720);
  for (const auto& row : doc["eval"]) {
    CAPTURE(row.dump());
    REQUIRE(row["error"].is_null());
    const ClipTiming c = timing(row);
    const int64_t n = row["n"];
    const auto ours = upstream_eval_indices(c, n);
    // Upstream stops asking at the first frame it cannot read.
    const auto asked = row["asked"].get<std::vector<int64_t>>();
    REQUIRE(asked.size() <= ours.size());
    CHECK(std::equal(asked.begin(), asked.end(), ours.begin()));
    const auto frames = upstream_eval_frames(c, n);
    const int64_t returned = row["returned"];
    CHECK(static_cast<int64_t>(std::count_if(ours.begin(), ours.begin() + static_cast<std::ptrdiff_t>(asked.size()),
                                             [&](int64_t i) { return i < c.frames; })) == returned);
    CHECK(frames.size() == (returned == 0 ? 0u : static_cast<size_t>(std::max<int64_t>(n, returned))));
  }
}

TEST_CASE("frame sampling: xib's evaluation takes first, evenly spaced and last frames inside the clip") {
  CHECK(eval_frames({.frames = 100, .fps = 25}, 5) == std::vector<int64_t>{0, 25, 50, 75, 99});
  CHECK(upstream_eval_frames({.frames = 100, .fps = 25}, 5) == std::vector<int64_t>{0, 25, 50, 75, 75});
  CHECK(upstream_eval_indices({.frames = 100, .fps = 25}, 5).back() == 100);  // one past the last frame
  CHECK(eval_frames({.frames = 1, .fps = 25}, 5) == std::vector<int64_t>{0, 0, 0, 0, 0});
  CHECK(eval_frames({.frames = 30, .fps = 30}, 1) == std::vector<int64_t>{0});
  CHECK(upstream_eval_indices({.frames = 30, .fps = 30}, 1) == std::vector<int64_t>{0, 30});  // n = 1 asks for 2
  CHECK(eval_frames({.frames = 100, .fps = 25, .start_seconds = 0.5, .end_seconds = 2.5}, 5) ==
        std::vector<int64_t>{12, 24, 36, 48, 62});
  CHECK(eval_frames({.frames = 100, .fps = 25, .start_seconds = 2.0, .end_seconds = 9.0}, 2) ==
        std::vector<int64_t>{50, 99});  // the window's end is past the clip: clamped
  CHECK_THROWS_AS(eval_frames({.frames = 10, .fps = 25, .start_seconds = 1.0}, 5), UsageError);
  CHECK(upstream_eval_frames({.frames = 10, .fps = 25, .start_seconds = 1.0}, 5).empty());  // upstream: None
  CHECK_THROWS_AS(eval_frames({.frames = 0, .fps = 25}, 5), UsageError);
  for (int64_t frames : {2, 3, 7, 31, 1001}) {
    for (int64_t n : {1, 2, 5, 8}) {
      const auto f = eval_frames({.frames = frames, .fps = 29.97}, n);
      CHECK(static_cast<int64_t>(f.size()) == n);
      CHECK(std::is_sorted(f.begin(), f.end()));
      CHECK(f.front() == 0);
      if (n > 1) CHECK(f.back() == frames - 1);
    }
  }
}

TEST_CASE("frame sampling: training headtail draws have upstream's structure and distribution") {
  const json doc = upstream();
  Rng rng(7);
  for (const auto& row : doc["train"]) {
    const int64_t frames = row["frames"], n = row["n"];
    CAPTURE(frames);
    CAPTURE(n);
    const int64_t half = std::min(n, frames) / 2, middle = frames / 2;
    // Upstream's draws: ⌊min(n, frames)/2⌋ sorted distinct indices from each half (before padding).
    for (const auto& d : row["draws"]) {
      const auto v = d.get<std::vector<int64_t>>();
      CHECK(static_cast<int64_t>(v.size()) == 2 * half);
    }
    std::vector<int64_t> counts(static_cast<size_t>(frames), 0);
    const int runs = row["runs"];
    for (int r = 0; r < runs; ++r) {
      const auto f = headtail_frames(frames, n, rng);
      REQUIRE(static_cast<int64_t>(f.size()) == n);
      const std::vector<int64_t> distinct(f.begin(), f.begin() + std::max<int64_t>(2 * half, 1));
      CHECK(std::is_sorted(distinct.begin(), distinct.begin() + half));
      CHECK(std::is_sorted(distinct.begin() + half, distinct.end()));
      CHECK(std::set<int64_t>(distinct.begin(), distinct.end()).size() == distinct.size());
      for (int64_t i = 0; i < half; ++i) {
        CHECK(distinct[static_cast<size_t>(i)] < middle);
        CHECK(distinct[static_cast<size_t>(half + i)] >= middle);
      }
      for (auto i = distinct.size(); i < f.size(); ++i) CHECK(f[i] == distinct.back());  // padding: the last repeated
      for (int64_t i : distinct) ++counts[static_cast<size_t>(i)];
    }
    if (half == 0) continue;
    // Per half, every index is equally likely; the same test holds for upstream's counts.
    const auto upstream_counts = row["counts"].get<std::vector<int64_t>>();
    for (const auto& [lo, hi] : {std::pair<int64_t, int64_t>{0, middle}, {middle, frames}}) {
      const double expected = static_cast<double>(runs) * static_cast<double>(half) / static_cast<double>(hi - lo);
      double chi_ours = 0, chi_upstream = 0;
      for (int64_t i = lo; i < hi; ++i) {
        chi_ours +=
            (counts[static_cast<size_t>(i)] - expected) * (counts[static_cast<size_t>(i)] - expected) / expected;
        chi_upstream += (upstream_counts[static_cast<size_t>(i)] - expected) *
                        (upstream_counts[static_cast<size_t>(i)] - expected) / expected;
      }
      // χ² with hi − lo − 1 degrees of freedom: below df + 5·√(2 df) + 10 is far inside p = 0.001.
      const double df = static_cast<double>(hi - lo - 1), bound = df + 5 * std::sqrt(2 * df) + 10;
      CHECK_MESSAGE(chi_ours < bound, "ours " << chi_ours << " bound " << bound);
      CHECK_MESSAGE(chi_upstream < bound, "upstream " << chi_upstream << " bound " << bound);
    }
  }
  CHECK(headtail_frames(1, 5, rng) == std::vector<int64_t>{0, 0, 0, 0, 0});
}
