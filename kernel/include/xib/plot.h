// Line plots as standalone SVG (no dependencies): the loss and learning-rate curves every run
// leaves in its folder. Any browser or Markdown viewer shows them.
//
//   xib::PlotSeries loss{.name = "loss", .x = steps, .y = losses};
//   xib::write_text_file(run / "loss.svg", xib::svg_line_plot({loss}, {.title = "training loss"}));  // xib/files.h
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace xib {

struct PlotSeries {
  std::string name = {};
  std::vector<double> x = {};
  std::vector<double> y = {};
  /// Stroke colour; empty: the next colour of the palette.
  std::string color = {};
  /// Drawn thin and translucent (raw values under a smoothed curve).
  bool faint = false;
};

struct PlotOptions {
  std::string title = {};
  std::string x_label = "step";
  std::string y_label = {};
  bool log_y = false;  ///< logarithmic y axis (values <= 0 are left out)
  int width = 720;
  int height = 400;
};

/// A complete SVG document with axes, "nice" ticks, grid, legend and the series as polylines.
/// Non-finite points are skipped; empty input gives a plot that says "no data".
std::string svg_line_plot(const std::vector<PlotSeries>& series, const PlotOptions& options);

/// Exponential moving average with bias correction (as TensorBoard's smoothing): weight in [0, 1).
std::vector<double> smooth_ema(const std::vector<double>& y, double weight);

}  // namespace xib
