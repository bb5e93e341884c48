#include "xib/log.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "xib/error.h"

namespace xib::log {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kNames[] = {"trace", "debug", "info", "warn", "error", "off"};

// The time stamps count from process start. A function-local static is safe to use from other
// translation units' static initializers; touching it at namespace scope below pins it to library
// load time rather than to the first message.
Clock::time_point process_start() {
  static const Clock::time_point start = Clock::now();
  return start;
}
[[maybe_unused]] const Clock::time_point g_start_pin = process_start();

std::string known_names() {
  std::string out;
  for (std::string_view n : kNames) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

std::string format_line(Level level, std::string_view message) {
  const double elapsed = std::chrono::duration<double>(Clock::now() - process_start()).count();
  return fmt::format("[{:6.1f}s] {}: {}\n", elapsed, level_name(level), message);
}

struct State {
  std::atomic<int> level{static_cast<int>(Level::info)};
  std::mutex mutex;  // guards sink and serialises whole messages
  Sink sink;
  std::function<void()> status_redraw;  // the progress bar on a terminal, if one is drawn

  State() {
    const char* env = std::getenv("XIB_LOG");
    if (env == nullptr || *env == '\0') return;
    try {
      level = static_cast<int>(parse_level(env));
    } catch (const UsageError&) {
      // No sink can be installed before this state exists, so stderr is the only destination;
      // write directly since write() would re-enter this constructor.
      const std::string line = format_line(
          Level::warn, fmt::format("XIB_LOG='{}' is not a log level (known: {}); using info", env, known_names()));
      std::fwrite(line.data(), 1, line.size(), stderr);
    }
  }
};

State& state() {
  static State s;
  return s;
}

}  // namespace

void set_level(Level level) { state().level = static_cast<int>(level); }

Level level() { return static_cast<Level>(state().level.load(std::memory_order_relaxed)); }

bool enabled(Level l) {
  return l != Level::off && static_cast<int>(l) >= state().level.load(std::memory_order_relaxed);
}

Level parse_level(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (size_t i = 0; i < std::size(kNames); ++i)
    if (lower == kNames[i]) return static_cast<Level>(i);
  throw UsageError(ErrorInfo{.what = fmt::format("unknown log level '{}'", name),
                             .expected = "one of: " + known_names(),
                             .got = fmt::format("'{}'", name),
                             .hint = "pass --log-level or set XIB_LOG to one of these names"});
}

std::string_view level_name(Level level) {
  const auto i = static_cast<size_t>(level);
  return i < std::size(kNames) ? kNames[i] : std::string_view("?");
}

void set_sink(Sink sink) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.sink = std::move(sink);
}

void set_status_line(std::function<void()> redraw) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.status_redraw = std::move(redraw);
}

void write(Level level, std::string_view message) {
  // Direct callers get the same filtering as the formatting helpers.
  if (!enabled(level)) return;
  State& s = state();
  // The sink is called under the lock too, so capturing sinks need no locking of their own.
  std::lock_guard lock(s.mutex);
  if (s.sink) {
    s.sink(level, message);
    return;
  }
  // Stamped under the lock so stamps never run backwards down the output; one fwrite per
  // message (stderr is unbuffered) so the line reaches the terminal whole.
  std::string line = format_line(level, message);
  if (s.status_redraw) line.insert(0, "\r\x1b[K");  // clear the status line first
  std::fwrite(line.data(), 1, line.size(), stderr);
  if (s.status_redraw) s.status_redraw();
}

}  // namespace xib::log
