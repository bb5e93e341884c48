#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "child_helper.h"
#include "test_support.h"
#include "xib/error.h"
#include "xib/log.h"

namespace {

using xib::log::Level;

// Captures messages through the sink for the life of the object, restoring level and stderr.
struct Capture {
  std::vector<std::pair<Level, std::string>> lines;
  Level saved = xib::log::level();
  Capture() {
    xib::log::set_sink([this](Level l, std::string_view m) { lines.emplace_back(l, std::string(m)); });
  }
  ~Capture() {
    xib::log::set_sink(nullptr);
    xib::log::set_level(saved);
  }
};

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The running test binary, so a child can run one helper below with its own environment.
std::string self_exe() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

xib::test::CommandResult run_child(const std::string& mode, const std::string& xib_log) {
  // The helper reads XIB_LOG at start-up; a value in our own environment would come first.
  ::unsetenv("XIB_LOG");
  std::vector<std::string> env{"XIB_TEST_CHILD_HELPER=log-" + mode};
  if (!xib_log.empty()) env.push_back("XIB_LOG=" + xib_log);
  return xib::test::run_command({self_exe()}, env);
}

// Run in a child process (not test cases), where XIB_LOG is read fresh and the lines go to the
// real stderr.
const xib::test::ChildHelper log_levels("log-levels", [] {
  xib::log::trace("t {}", 1);
  xib::log::debug("d {}", 2);
  xib::log::info("i {}", 3);
  xib::log::warn("w {}", 4);
  xib::log::error("e {}", 5);
});
const xib::test::ChildHelper log_threads("log-threads", [] {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t] {
      for (int i = 0; i < 200; ++i) xib::log::info("thread {} message {} {}", t, i, std::string(300, 'a' + t));
    });
  for (auto& th : threads) th.join();
});

}  // namespace

TEST_CASE("log: levels filter what reaches the sink") {
  Capture cap;
  xib::log::set_level(Level::warn);
  xib::log::trace("trace {}", 1);
  xib::log::debug("debug {}", 2);
  xib::log::info("info {}", 3);
  xib::log::warn("warn {}", 4);
  xib::log::error("error {}", 5);
  REQUIRE(cap.lines.size() == 2);
  CHECK(cap.lines[0] == std::pair{Level::warn, std::string("warn 4")});
  CHECK(cap.lines[1] == std::pair{Level::error, std::string("error 5")});

  cap.lines.clear();
  xib::log::set_level(Level::trace);
  xib::log::trace("a");
  xib::log::debug("b");
  CHECK(cap.lines.size() == 2);
  CHECK(xib::log::enabled(Level::trace));

  cap.lines.clear();
  xib::log::set_level(Level::off);
  xib::log::error("nothing");
  xib::log::write(Level::error, "direct writes are filtered too");
  CHECK(cap.lines.empty());
  CHECK_FALSE(xib::log::enabled(Level::error));
  CHECK(xib::log::level() == Level::off);
}

TEST_CASE("log: the sink gets the message without prefix, and nullptr restores stderr") {
  {
    Capture cap;
    xib::log::set_level(Level::info);
    xib::log::info("x = {}, y = {:.2f}", 3, 0.5);
    REQUIRE(cap.lines.size() == 1);
    CHECK(cap.lines[0].second == "x = 3, y = 0.50");
  }
  // After the capture ends nothing is routed to the old sink (it would touch a dead object).
  const Level saved = xib::log::level();
  xib::log::set_level(Level::off);
  xib::log::error("not captured");
  xib::log::set_level(saved);  // later tests in this process log at the usual level
}

TEST_CASE("log: the sink is serialised across threads") {
  Capture cap;  // the sink pushes to a vector without a lock of its own
  xib::log::set_level(Level::info);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t] {
      for (int i = 0; i < 500; ++i) xib::log::info("{}:{}", t, i);
    });
  for (auto& th : threads) th.join();
  CHECK(cap.lines.size() == 2000);
}

TEST_CASE("log: parse_level and level_name") {
  for (Level l : {Level::trace, Level::debug, Level::info, Level::warn, Level::error, Level::off})
    CHECK(xib::log::parse_level(xib::log::level_name(l)) == l);
  CHECK(xib::log::level_name(Level::warn) == "warn");
  CHECK(xib::log::parse_level("DEBUG") == Level::debug);

  try {
    xib::log::parse_level("verbose");
    FAIL("parse_level accepted 'verbose'");
  } catch (const xib::UsageError& e) {
    CHECK(e.exit_code() == 2);
    const std::string report = e.report();
    CHECK(report.find("verbose") != std::string::npos);
    for (const char* name : {"trace", "debug", "info", "warn", "error", "off"})
      CHECK_MESSAGE(report.find(name) != std::string::npos, "missing ", name);
  }
}

TEST_CASE("log: stderr lines carry elapsed time and level name") {
  const auto r = run_child("levels", "debug");
  REQUIRE(r.exit_code == 0);
  const auto lines = split_lines(r.err);
  REQUIRE(lines.size() == 4);  // trace is below debug
  const std::regex line_re(R"(\[ *\d+\.\ds\] (debug|info|warn|error): [a-z] \d)");
  for (const auto& l : lines) CHECK_MESSAGE(std::regex_match(l, line_re), l);
  CHECK(lines[0].find("] debug: d 2") != std::string::npos);
  CHECK(lines[2].find("] warn: w 4") != std::string::npos);
  // Short runs print the elapsed time right-aligned in six columns: "[   0.0s]".
  CHECK(std::regex_match(lines[0].substr(0, 9), std::regex(R"(\[ {3}\d\.\ds\])")));
}

TEST_CASE("log: XIB_LOG unset means info — invalid falls back to info with one warning") {
  {
    const auto r = run_child("levels", "");
    REQUIRE(r.exit_code == 0);
    const auto lines = split_lines(r.err);
    REQUIRE(lines.size() == 3);
    CHECK(lines[0].find("] info: i 3") != std::string::npos);
  }
  {
    const auto r = run_child("levels", "loud");
    REQUIRE(r.exit_code == 0);
    const auto lines = split_lines(r.err);
    REQUIRE(lines.size() == 4);
    CHECK(lines[0].find("] warn: XIB_LOG='loud'") != std::string::npos);
    CHECK(lines[0].find("trace, debug, info, warn, error, off") != std::string::npos);
    CHECK(lines[1].find("] info: i 3") != std::string::npos);
  }
}

TEST_CASE("log: messages from many threads never interleave on stderr") {
  const auto r = run_child("threads", "info");
  REQUIRE(r.exit_code == 0);
  const auto lines = split_lines(r.err);
  CHECK(lines.size() == 800);
  const std::regex line_re(R"(\[ *\d+\.\ds\] info: thread (\d) message \d+ ([a-d])\2{299})");
  for (const auto& l : lines) {
    std::smatch m;
    REQUIRE_MESSAGE(std::regex_match(l, m, line_re), l);
    CHECK(m[2].str()[0] == 'a' + std::stoi(m[1].str()));
  }
}
