// Logging with levels, formatted with fmt. Lines go to stderr ("[  12.3s] warn: …") unless a
// sink is installed (tests capture with set_sink). Level from --log-level / -v / -q or XIB_LOG.
#pragma once

#include <fmt/format.h>

#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace xib::log {

enum class Level { trace = 0, debug, info, warn, error, off };

void set_level(Level level);
Level level();
bool enabled(Level level);
/// "trace", "debug", "info", "warn", "error", "off" → Level; anything else throws UsageError
/// listing the known names.
Level parse_level(std::string_view name);
std::string_view level_name(Level level);

/// Where formatted lines go; nullptr restores stderr. The sink gets the message without prefix.
using Sink = std::function<void(Level, std::string_view)>;
void set_sink(Sink sink);

/// A status line kept at the bottom of the terminal (a tty progress bar). While one is set,
/// write() clears it, prints the message, and calls `redraw` to draw it again below, so log
/// lines never land inside the bar. nullptr removes it. Called with the log lock held: `redraw`
/// must not log.
void set_status_line(std::function<void()> redraw);

/// Write one message at `level` (thread-safe; one message is never interleaved with another).
void write(Level level, std::string_view message);

template <class... Args>
void trace(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::trace)) write(Level::trace, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::debug)) write(Level::debug, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::info)) write(Level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::warn)) write(Level::warn, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::error)) write(Level::error, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace xib::log
