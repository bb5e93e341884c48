// A progress bar for long work. On a terminal it redraws one line with a bar, count, rate, ETA
// and the metrics you set (loss, lr); elsewhere (CI logs, pipes) it prints a plain line every
// `plain_interval_s` seconds and one at the end, so logs stay readable.
//
//   xib::Progress bar({.label = "train", .total = steps, .unit = "step"});
//   for (...) { …; bar.set_metric("loss", loss); bar.advance(); }
//   bar.finish();
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace xib {

class Progress {
 public:
  struct Options {
    std::string label;               ///< shown first ("train")
    int64_t total = 0;               ///< 0 = unknown: no bar and no ETA
    std::string unit = "it";         ///< rate unit ("step", "img")
    std::optional<bool> tty;         ///< default: whether stderr is a terminal
    double plain_interval_s = 10.0;  ///< plain mode: seconds between lines
    double redraw_interval_s = 0.1;  ///< tty mode: at most this often
    int width = 0;                   ///< tty line width; 0 = $COLUMNS or 100
    std::ostream* out = nullptr;     ///< default std::cerr
    std::function<double()> clock;   ///< seconds; default steady clock (tests inject one)
  };

  explicit Progress(Options options);
  ~Progress();  ///< calls finish()
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(int64_t n = 1);
  void set_done(int64_t done);
  /// Set or update a metric shown after the rate ("loss 0.4123").
  void set_metric(const std::string& name, double value);
  /// Draw the final state and end the line (idempotent).
  void finish();

  int64_t done() const { return done_; }
  /// Units per second since start (0 before any time has passed).
  double rate() const;
  /// Seconds left at the current rate, if total and rate are known.
  std::optional<double> eta_seconds() const;
  /// The line as it would be drawn now (without control characters).
  std::string line() const;

 private:
  void maybe_draw(bool force);
  double now() const;

  Options opt_;
  bool tty_ = false;
  bool finished_ = false;
  bool status_line_ = false;  // registered with the logger as the terminal's status line
  int64_t done_ = 0;
  double start_ = 0, last_draw_ = -1e30;
  std::vector<std::pair<std::string, double>> metrics_;
};

/// "1h02m", "3m05s", "12.3s" — durations for humans.
std::string format_duration(double seconds);

}  // namespace xib
