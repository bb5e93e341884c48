#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <regex>
#include <string>

#include "test_support.h"
#include "xib/error.h"
#include "xib/files.h"
#include "xib/plot.h"

namespace {

int count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("svg plot: a well-formed document with one polyline per series, legend and escaped text") {
  xib::PlotSeries raw{.name = "loss", .x = {0, 1, 2, 3}, .y = {4, 3, 2.5, 2}, .faint = true};
  xib::PlotSeries lr{.name = "lr <peak>", .x = {0, 1, 2, 3}, .y = {0.1, 0.2, 0.3, 0.4}};
  const std::string svg = xib::svg_line_plot({raw, lr}, {.title = "a & b", .y_label = "loss"});
  CHECK(svg.rfind("<svg ", 0) == 0);
  CHECK(svg.find("</svg>") != std::string::npos);
  CHECK(count(svg, "<polyline") == 2);
  CHECK(svg.find("a &amp; b") != std::string::npos);
  CHECK(svg.find("lr &lt;peak&gt;") != std::string::npos);
  CHECK(svg.find("stroke-opacity") != std::string::npos);
  // The first point of the loss (largest y) is drawn at the top of the plot area, the last
  // lower down: y grows downwards in SVG.
  std::smatch m;
  REQUIRE(std::regex_search(svg, m,
                            std::regex("points=\"([0-9.]+),([0-9.]+) [0-9.]+,[0-9.]+ [0-9.]+,[0-9.]+ "
                                       "([0-9.]+),([0-9.]+) \"")));
  CHECK(std::stod(m[1]) < std::stod(m[3]));
  CHECK(std::stod(m[2]) < std::stod(m[4]));
}

TEST_CASE("svg plot: non-finite points are skipped, log axis drops non-positive values, empty says no data") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  xib::PlotSeries s{.name = "s", .x = {0, 1, 2, 3}, .y = {1, nan, 0, 10}};
  const std::string svg = xib::svg_line_plot({s}, {.log_y = true});
  std::smatch m;
  REQUIRE(std::regex_search(svg, m, std::regex("<polyline[^>]*points=\"([^\"]*)\"")));
  CHECK(count(m[1], ",") == 2);  // only y = 1 and y = 10 survive
  CHECK(svg.find("nan") == std::string::npos);
  CHECK(xib::svg_line_plot({}, {}).find("no data") != std::string::npos);
}

TEST_CASE("svg plot: smoothing with bias correction starts at the first value and follows a constant") {
  const auto s = xib::smooth_ema({2, 2, 2, 2}, 0.9);
  for (double v : s) CHECK(v == doctest::Approx(2.0));
  const auto t = xib::smooth_ema({0, 10}, 0.5);
  CHECK(t[0] == doctest::Approx(0.0));
  CHECK(t[1] == doctest::Approx((0.5 * 0 * 0.5 + 0.5 * 10) / (1 - 0.25)));
}

TEST_CASE("write_text_file: atomic replace, parents created, failure keeps the old file") {
  xib::test::TempDir dir;
  const auto f = dir / "a/b/report.md";
  xib::write_text_file(f, "one");
  CHECK(xib::test::read_file(f) == "one");
  xib::write_text_file(f, "two");
  CHECK(xib::test::read_file(f) == "two");
  CHECK_THROWS_AS(xib::write_text_file(dir / "a/b/report.md/x", "three"), xib::IoError);
  CHECK(xib::test::read_file(f) == "two");
}

TEST_CASE("svg plot: a one-step run (a loss beside its smoothed copy, ULPs apart) draws at once") {
  // The report of a one-step run plots the loss and its smoothed curve: the same value up to
  // rounding. Ticks were a running sum of a step below the values' precision: an endless loop.
  const double loss = 11.808267593383787;
  const auto smoothed = xib::smooth_ema({loss}, 0.6);
  const std::string svg = xib::svg_line_plot({{.name = "loss", .x = {1}, .y = {loss}},
                                              {.name = "smoothed", .x = {1}, .y = {std::nextafter(loss, 20.0)}},
                                              {.name = "ema", .x = {1}, .y = smoothed}},
                                             {.title = "training loss"});
  CHECK(svg.find("</svg>") != std::string::npos);
  CHECK(svg.size() < 100000);
  // Ranges narrow relative to their values, wide or tiny in absolute terms, still give a few ticks.
  for (const auto& [lo, hi] : std::vector<std::pair<double, double>>{{1e9, 1e9 + 1e-3}, {1e-20, 3e-20}, {-5, 5}}) {
    const std::string s = xib::svg_line_plot({{.name = "y", .x = {0, 1}, .y = {lo, hi}}}, {});
    CHECK(s.find("</svg>") != std::string::npos);
    CHECK(s.size() < 100000);
  }
}
