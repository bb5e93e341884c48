// SVG line plots (see xib/plot.h).
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include "xib/error.h"
#include "xib/plot.h"

namespace xib {
namespace {

const char* const kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"};

std::string escape_xml(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

/// Tick positions covering [lo, hi] with a 1/2/5 × 10^k step, about `target` of them. Ticks are
/// k·step for whole k (not a running sum), so a range narrower than the values' own precision
/// gives its ends instead of a step that adding cannot advance.
std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return {lo};
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  const double first = std::ceil(lo / step - 1e-9), last = std::floor(hi / step + 1e-9);
  const double resolution = std::max(std::abs(lo), std::abs(hi)) * 1e-12;
  if (!(step > resolution) || !(last - first < 1000)) return {lo, hi};
  std::vector<double> ticks;
  for (double k = first; k <= last; k += 1) {
    const double t = k * step;
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  }
  return ticks;
}

std::string tick_label(double v) {
  if (v == 0) return "0";
  const double a = std::abs(v);
  if (a >= 1e5 || a < 1e-3) return fmt::format("{:.0e}", v);
  return fmt::format("{:g}", v);
}

}  // namespace

std::vector<double> smooth_ema(const std::vector<double>& y, double weight) {
  std::vector<double> out;
  out.reserve(y.size());
  double last = 0, debias = 0;
  for (double v : y) {
    if (!std::isfinite(v)) {
      out.push_back(v);
      continue;
    }
    last = last * weight + (1 - weight) * v;
    debias = debias * weight + (1 - weight);
    out.push_back(last / debias);
  }
  return out;
}

std::string svg_line_plot(const std::vector<PlotSeries>& series, const PlotOptions& o) {
  const double W = o.width, H = o.height;
  const double left = 64, right = 16, top = o.title.empty() ? 16 : 36, bottom = 44;
  const double pw = W - left - right, ph = H - top - bottom;
  auto ty = [&](double v) { return o.log_y ? std::log10(v) : v; };
  auto usable = [&](double x, double y) { return std::isfinite(x) && std::isfinite(y) && (!o.log_y || y > 0); };

  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const auto& s : series) {
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!usable(s.x[i], s.y[i])) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, ty(s.y[i]));
      y1 = std::max(y1, ty(s.y[i]));
    }
  }
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      o.width, o.height);
  if (!o.title.empty()) {
    svg += fmt::format("<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">{}</text>\n", W / 2,
                       escape_xml(o.title));
  }
  if (!std::isfinite(x0)) {
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n</svg>\n", W / 2,
                       H / 2);
    return svg;
  }
  if (x1 == x0) x1 = x0 + 1;
  // A range that only rounding separates (one loss point beside its smoothed copy) is flat.
  if (y1 - y0 <= std::max(std::abs(y0), std::abs(y1)) * 1e-9) y1 = y0;
  if (y1 == y0) {
    const double pad = y0 == 0 ? 1 : std::abs(y0) * 0.05;
    y0 -= pad;
    y1 += pad;
  } else {
    const double pad = (y1 - y0) * 0.04;
    y0 -= pad;
    y1 += pad;
  }
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return top + ph - (ty(y) - y0) / (y1 - y0) * ph; };

  // Grid and ticks.
  for (double t : nice_ticks(x0, x1, 6)) {
    const double x = left + (t - x0) / (x1 - x0) * pw;
    svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#eee\"/>", x, top,
                       top + ph);
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", x, top + ph + 14,
                       tick_label(t));
  }
  std::vector<double> yt;
  if (o.log_y) {
    for (double e = std::floor(y0); e <= std::ceil(y1); e += 1) {
      if (e >= y0 && e <= y1) yt.push_back(e);
    }
    if (yt.size() < 2) yt = nice_ticks(y0, y1, 5);
  } else {
    yt = nice_ticks(y0, y1, 5);
  }
  for (double t : yt) {
    const double y = top + ph - (t - y0) / (y1 - y0) * ph;
    svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"#eee\"/>", left, y,
                       left + pw);
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", left - 4, y + 4,
                       tick_label(o.log_y ? std::pow(10.0, t) : t));
  }
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>\n", left, top,
                     pw, ph);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", left + pw / 2, H - 8,
                     escape_xml(o.x_label));
  if (!o.y_label.empty()) {
    svg += fmt::format("<text transform=\"translate(14,{}) rotate(-90)\" text-anchor=\"middle\">{}{}</text>\n",
                       top + ph / 2, escape_xml(o.y_label), o.log_y ? " (log)" : "");
  }

  // Series and legend.
  size_t colour = 0;
  double legend_y = top + 14;
  for (const auto& s : series) {
    const std::string c = s.color.empty() ? kPalette[colour++ % std::size(kPalette)] : s.color;
    std::string points;
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!usable(s.x[i], s.y[i])) continue;
      points += fmt::format("{:.1f},{:.1f} ", px(s.x[i]), py(s.y[i]));
    }
    svg += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" {}points=\"{}\"/>\n", c,
                       s.faint ? 1 : 1.8, s.faint ? "stroke-opacity=\"0.35\" " : "", points);
    if (!s.name.empty()) {
      svg += fmt::format(
          "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"{3}\" stroke-width=\"2\"{4}/>"
          "<text x=\"{5:.1f}\" y=\"{6:.1f}\">{7}</text>\n",
          left + pw - 130, legend_y, left + pw - 110, c, s.faint ? " stroke-opacity=\"0.35\"" : "", left + pw - 104,
          legend_y + 4, escape_xml(s.name));
      legend_y += 16;
    }
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace xib
