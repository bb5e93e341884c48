#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"
#include "xib/log.h"
#include "xib/progress.h"

namespace {

// A progress bar on a fake clock writing into a string stream.
struct Fixture {
  double t = 0;
  std::ostringstream out;

  xib::Progress::Options options(bool tty, int64_t total) {
    xib::Progress::Options o;
    o.label = "train";
    o.total = total;
    o.unit = "step";
    o.tty = tty;
    o.out = &out;
    o.width = 100;
    o.clock = [this] { return t; };
    return o;
  }
};

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

}  // namespace

TEST_CASE("progress: format_duration") {
  CHECK(xib::format_duration(0) == "0.0s");
  CHECK(xib::format_duration(12.34) == "12.3s");
  CHECK(xib::format_duration(59.94) == "59.9s");
  CHECK(xib::format_duration(59.96) == "1m00s");  // rounds up to the next unit, never "60.0s"
  CHECK(xib::format_duration(185) == "3m05s");
  CHECK(xib::format_duration(3599.6) == "1h00m");
  CHECK(xib::format_duration(3720) == "1h02m");
  CHECK(xib::format_duration(100 * 3600) == "100h00m");
  CHECK(xib::format_duration(-5) == "0.0s");
}

TEST_CASE("progress: rate and ETA follow the clock") {
  Fixture f;
  xib::Progress bar(f.options(false, 100));
  CHECK(bar.rate() == 0);  // no time has passed
  CHECK_FALSE(bar.eta_seconds().has_value());
  f.t = 20;
  bar.set_done(40);
  CHECK(bar.done() == 40);
  CHECK(bar.rate() == doctest::Approx(2.0));
  REQUIRE(bar.eta_seconds().has_value());
  CHECK(*bar.eta_seconds() == doctest::Approx(30.0));  // 60 left at 2/s
  bar.advance(10);
  CHECK(bar.done() == 50);
  CHECK(bar.rate() == doctest::Approx(2.5));
  CHECK(*bar.eta_seconds() == doctest::Approx(20.0));  // 50 left at 2.5/s

  // Unknown total: a rate but no ETA.
  Fixture g;
  xib::Progress open_ended(g.options(false, 0));
  g.t = 4;
  open_ended.advance(10);
  CHECK(open_ended.rate() == doctest::Approx(2.5));
  CHECK_FALSE(open_ended.eta_seconds().has_value());
}

TEST_CASE("progress: plain line format") {
  Fixture f;
  xib::Progress bar(f.options(false, 100));
  f.t = 19.0;
  bar.set_done(40);
  bar.set_metric("loss", 0.41);
  CHECK(bar.line() == "train: 40/100 step (40%), 2.1 step/s, ETA 28.5s, loss 0.41");
  bar.set_metric("loss", 0.41234567);  // updated in place, not added again
  bar.set_metric("lr", 1e-4);
  CHECK(bar.line() == "train: 40/100 step (40%), 2.1 step/s, ETA 28.5s, loss 0.4123, lr 1.00e-04");

  // Slower than one unit a second reads as seconds per unit.
  Fixture g;
  xib::Progress slow(g.options(false, 10));
  g.t = 25;
  slow.set_done(2);
  CHECK(slow.line() == "train: 2/10 step (20%), 12.5 s/step, ETA 1m40s");
}

TEST_CASE("progress: plain mode prints one line per interval and one at finish") {
  Fixture f;
  auto o = f.options(false, 100);
  o.plain_interval_s = 10;
  xib::Progress bar(o);
  for (int i = 0; i < 100; ++i) {
    f.t += 1;
    bar.advance();
  }
  // Lines at t = 1 (the first update), 11, 21, … 91, then the final one.
  auto lines = split_lines(f.out.str());
  REQUIRE(lines.size() == 10);
  CHECK(lines[0] == "train: 1/100 step (1%), 1.0 step/s, ETA 1m39s");
  CHECK(lines[1].rfind("train: 11/100 step (11%)", 0) == 0);
  CHECK(lines[9].rfind("train: 91/100 step (91%)", 0) == 0);
  CHECK(f.out.str().find('\r') == std::string::npos);
  CHECK(f.out.str().find('\x1b') == std::string::npos);

  f.t = 100;
  bar.finish();
  bar.finish();  // idempotent
  lines = split_lines(f.out.str());
  REQUIRE(lines.size() == 11);
  CHECK(lines.back() == "train: 100/100 step (100%), 1.0 step/s, in 1m40s");

  bar.advance();  // after finish: counted, not drawn
  CHECK(split_lines(f.out.str()).size() == 11);
}

TEST_CASE("progress: the destructor finishes the bar") {
  Fixture f;
  {
    auto o = f.options(false, 0);
    o.label = "scan";
    o.unit = "file";
    xib::Progress bar(o);
    f.t = 2;
    bar.advance(5);
  }
  const auto lines = split_lines(f.out.str());
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "scan: 5 file, 2.5 file/s");
  CHECK(lines[1] == "scan: 5 file, 2.5 file/s, in 2.0s");
}

TEST_CASE("progress: tty mode redraws one line with a bar") {
  Fixture f;
  auto o = f.options(true, 100);
  o.redraw_interval_s = 0.1;
  o.width = 80;
  xib::Progress bar(o);
  bar.set_metric("loss", 0.4123);
  // 100 updates 0.01 s apart: a redraw at most every 0.1 s.
  for (int i = 0; i < 100; ++i) {
    f.t += 0.01;
    bar.advance();
  }
  const std::string drawn = f.out.str();
  const size_t draws = count(drawn, "\r");
  CHECK(draws >= 9);
  CHECK(draws <= 11);
  CHECK(count(drawn, "\x1b[K") == draws);
  CHECK(drawn.find('\n') == std::string::npos);  // the line is redrawn, never ended early

  const std::string line = bar.line();
  CHECK(line.rfind("train \u2588", 0) == 0);
  CHECK(line.find("\u2591") == std::string::npos);  // 100/100: all full
  CHECK(line.find("100/100 step") != std::string::npos);
  CHECK(line.find("100%") != std::string::npos);
  CHECK(line.find("100 step/s") != std::string::npos);
  CHECK(line.find("loss 0.4123") != std::string::npos);

  bar.finish();
  const std::string all = f.out.str();
  CHECK(all.back() == '\n');
  CHECK(count(all, "\r") == draws + 1);  // finish draws once more, whatever the interval
}

TEST_CASE("progress: tty bar fill, ETA and width") {
  Fixture f;
  auto o = f.options(true, 200);
  o.width = 80;
  xib::Progress bar(o);
  f.t = 1.5;
  bar.set_done(50);  // 25%, 33.3/s, 150 left → 4.5 s
  const std::string line = bar.line();
  CAPTURE(line);
  const size_t full = count(line, "\u2588"), empty = count(line, "\u2591");
  REQUIRE(full + empty >= 10);
  CHECK(full == (full + empty) / 4);
  CHECK(line.find("50/200 step") != std::string::npos);
  CHECK(line.find("25%") != std::string::npos);
  CHECK(line.find("33.3 step/s") != std::string::npos);
  CHECK(line.find("ETA 4.5s") != std::string::npos);
  // Fits in width - 1 columns (each bar glyph is three bytes but one column).
  CHECK(line.size() - 2 * (full + empty) <= 79);

  // A narrow terminal drops the bar and cuts the text rather than wrapping.
  Fixture g;
  auto narrow = g.options(true, 200);
  narrow.width = 30;
  xib::Progress small(narrow);
  g.t = 1.5;
  small.set_done(50);
  const std::string cut = small.line();
  CHECK(cut.find("\u2588") == std::string::npos);
  CHECK(cut.size() == 29);
  CHECK(cut.rfind("train 50/200 step", 0) == 0);
}

TEST_CASE("progress: on a terminal, log lines print above the bar, which is redrawn below them") {
  xib::test::TempDir dir;
  const auto file = dir / "stderr";
  // Send this process's stderr to a file for the duration of the test.
  std::cerr.flush();
  const int saved = ::dup(2);
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  ::dup2(fd, 2);
  ::close(fd);
  {
    double t = 0;
    xib::Progress bar({.label = "train", .total = 10, .unit = "step", .tty = true, .clock = [&] { return t; }});
    t = 1;
    bar.advance(3);
    xib::log::warn("a message while the bar is up");
    bar.finish();
    xib::log::warn("after the bar");
  }
  std::cerr.flush();
  ::dup2(saved, 2);
  ::close(saved);
  const std::string out = xib::test::read_file(file);
  const size_t msg = out.find("a message while the bar is up");
  REQUIRE(msg != std::string::npos);
  // The bar's line is cleared before the message and drawn again after it.
  const size_t clear = out.rfind("\r\x1b[K[", msg);
  REQUIRE(clear != std::string::npos);
  CHECK(out.find("train", msg) != std::string::npos);
  CHECK(out.find("3/10", msg) != std::string::npos);
  // Once finished, the bar is no longer redrawn after messages.
  const size_t after = out.find("after the bar");
  REQUIRE(after != std::string::npos);
  CHECK(out.find("train", after) == std::string::npos);
  const size_t line_start = out.rfind('\n', after) + 1;
  CHECK(out[line_start] == '[');  // a plain log line, no clearing of a bar
}
