#include "xib/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string_view>

#include "xib/log.h"

namespace xib {

namespace {

constexpr std::string_view kFull = "\u2588";   // █
constexpr std::string_view kEmpty = "\u2591";  // ░
constexpr int kDefaultWidth = 100;
constexpr int kMinBar = 10, kMaxBar = 30;

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int terminal_width() {
  if (const char* c = std::getenv("COLUMNS")) {
    char* end = nullptr;
    const long w = std::strtol(c, &end, 10);
    if (end != c && *end == '\0' && w > 0 && w < 10000) return static_cast<int>(w);
  }
  return kDefaultWidth;
}

// Terminal columns of UTF-8 text: every byte but continuation bytes starts a character. Good
// enough for the bar glyphs and labels; wide (CJK) characters would count as one.
size_t columns(std::string_view s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// The longest prefix of `s` that fits in `cols` columns, cut on a character boundary.
std::string fit_columns(const std::string& s, size_t cols) {
  size_t seen = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((s[i] & 0xC0) == 0x80) continue;
    if (seen++ == cols) return s.substr(0, i);
  }
  return s;
}

// "0.4123", "1.00e-04": four significant digits, switching to a short exponent form for tiny
// values (learning rates), which %.4g would print as a run of zeros ("0.0001").
std::string format_metric(double v) {
  const double a = std::fabs(v);
  if (a != 0 && a < 1e-3) return fmt::format("{:.2e}", v);
  return fmt::format("{:.4g}", v);
}

// "2.1", "12.3", "250": a tenth is noise above 100. Decided on the rounded value so that 99.96
// reads "100", not "100.0".
std::string format_number(double v) { return v >= 99.95 ? fmt::format("{:.0f}", v) : fmt::format("{:.1f}", v); }

}  // namespace

std::string format_duration(double seconds) {
  if (std::isnan(seconds)) return "?";
  // Clamp before integer conversion; nobody waits 30 years for a progress bar.
  seconds = std::clamp(seconds, 0.0, 1e9);
  // Round at each unit first so 59.96 s reads "1m00s", never "60.0s".
  const double tenths = std::round(seconds * 10) / 10;
  if (tenths < 60) return fmt::format("{:.1f}s", tenths);
  const auto secs = std::llround(seconds);
  if (secs < 3600) return fmt::format("{}m{:02}s", secs / 60, secs % 60);
  const auto mins = std::llround(seconds / 60);
  return fmt::format("{}h{:02}m", mins / 60, mins % 60);
}

Progress::Progress(Options options) : opt_(std::move(options)) {
  if (!opt_.clock) opt_.clock = steady_seconds;
  if (!opt_.out) opt_.out = &std::cerr;
  if (opt_.width <= 0) opt_.width = terminal_width();
  tty_ = opt_.tty.value_or(::isatty(STDERR_FILENO) == 1);
  start_ = now();
  // On the terminal, log lines go above the bar instead of into it.
  if (tty_ && opt_.out == &std::cerr) {
    log::set_status_line([this] { *opt_.out << '\r' << line() << "\x1b[K" << std::flush; });
    status_line_ = true;
  }
}

Progress::~Progress() {
  // A destructor must not throw; a failing stream during unwinding is not worth a terminate().
  try {
    finish();
  } catch (...) {
  }
}

double Progress::now() const { return opt_.clock(); }

void Progress::advance(int64_t n) {
  done_ += n;
  maybe_draw(false);
}

void Progress::set_done(int64_t done) {
  done_ = done;
  maybe_draw(false);
}

void Progress::set_metric(const std::string& name, double value) {
  for (auto& [k, v] : metrics_) {
    if (k == name) {
      v = value;
      return;
    }
  }
  metrics_.emplace_back(name, value);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (status_line_) log::set_status_line(nullptr);
  maybe_draw(true);
}

double Progress::rate() const {
  const double elapsed = now() - start_;
  return elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
}

std::optional<double> Progress::eta_seconds() const {
  const double r = rate();
  if (opt_.total <= 0 || r <= 0) return std::nullopt;
  return std::max<double>(0.0, static_cast<double>(opt_.total - done_) / r);
}

std::string Progress::line() const {
  const double r = rate();
  std::string rate_text;
  if (r >= 1)
    rate_text = format_number(r) + " " + opt_.unit + "/s";
  else if (r > 0)
    rate_text = format_number(1 / r) + " s/" + opt_.unit;
  // Once finished, the time it took is more useful than an ETA of zero.
  std::string time_text;
  if (finished_)
    time_text = "in " + format_duration(now() - start_);
  else if (auto eta = eta_seconds())
    time_text = "ETA " + format_duration(*eta);
  const int percent =
      opt_.total > 0 ? static_cast<int>(std::floor(100.0 * static_cast<double>(done_) / opt_.total)) : -1;

  if (!tty_) {
    // label: 40/100 step (40%), 2.1 step/s, ETA 28.5s, loss 0.41
    std::string s = opt_.label.empty() ? "" : opt_.label + ": ";
    s += opt_.total > 0 ? fmt::format("{}/{} {} ({}%)", done_, opt_.total, opt_.unit, percent)
                        : fmt::format("{} {}", done_, opt_.unit);
    for (const std::string* part : {&rate_text, &time_text})
      if (!part->empty()) s += ", " + *part;
    for (const auto& [k, v] : metrics_) s += ", " + k + " " + format_metric(v);
    return s;
  }

  // label ███████░░░░░░ 40/100 step  40%  2.1 step/s  ETA 28.5s  loss 0.4123  lr 1.00e-04
  std::string tail = opt_.total > 0 ? fmt::format("{}/{} {}  {}%", done_, opt_.total, opt_.unit, percent)
                                    : fmt::format("{} {}", done_, opt_.unit);
  for (const std::string* part : {&rate_text, &time_text})
    if (!part->empty()) tail += "  " + *part;
  for (const auto& [k, v] : metrics_) tail += "  " + k + " " + format_metric(v);

  // One column stays free: writing the last column makes some terminals wrap on the next '\r'.
  const size_t width = static_cast<size_t>(std::max(opt_.width - 1, 1));
  std::string s = opt_.label.empty() ? "" : opt_.label + " ";
  if (opt_.total > 0) {
    // The bar takes what the text leaves, within limits; the text wins on narrow terminals.
    const size_t text = columns(s) + columns(tail) + 1;
    const size_t room = width > text ? width - text : 0;
    const size_t bar = std::min<size_t>(room, kMaxBar);
    if (bar >= static_cast<size_t>(kMinBar)) {
      const double frac = std::clamp(static_cast<double>(done_) / opt_.total, 0.0, 1.0);
      const auto filled = static_cast<size_t>(frac * static_cast<double>(bar));
      for (size_t i = 0; i < bar; ++i) s += i < filled ? kFull : kEmpty;
      s += ' ';
    }
  }
  return fit_columns(s + tail, width);
}

void Progress::maybe_draw(bool force) {
  if (finished_ && !force) return;
  const double t = now();
  const double interval = tty_ ? opt_.redraw_interval_s : opt_.plain_interval_s;
  if (!force && t - last_draw_ < interval) return;
  last_draw_ = t;
  std::ostream& out = *opt_.out;
  if (tty_) {
    // '\r' returns to the start of the line, ESC[K clears what a longer previous line left.
    out << '\r' << line() << "\x1b[K";
    if (finished_) out << '\n';
  } else {
    out << line() << '\n';
  }
  out.flush();
}

}  // namespace xib
