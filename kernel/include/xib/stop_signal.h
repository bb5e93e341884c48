// Clean stops for long work. While a StopSignalScope lives, SIGINT and SIGTERM only raise a flag
// that the training loop polls between steps: it then saves a checkpoint and exits normally. A
// second SIGINT while a stop is pending restores the default action and re-raises, so an
// impatient Ctrl-C still ends the process at once (the last good checkpoint stays, since
// checkpoints are written atomically).
//
//   xib::StopSignalScope stop;
//   for (…) { if (stop.requested()) { save(); break; } step(); }
#pragma once

namespace xib {

class StopSignalScope {
 public:
  /// Installs the handlers (the previous ones come back in the destructor). Scopes nest: the
  /// innermost owns the handlers, and requested() is shared.
  StopSignalScope();
  ~StopSignalScope();
  StopSignalScope(const StopSignalScope&) = delete;
  StopSignalScope& operator=(const StopSignalScope&) = delete;

  /// True once SIGINT or SIGTERM arrived (or request() was called).
  bool requested() const;
  /// The signal that asked to stop (SIGINT, SIGTERM), or 0.
  int signal() const;
  /// "SIGINT", "SIGTERM" or "" — for messages.
  const char* signal_name() const;
  /// Ask to stop from code (tests, a step budget).
  void request(int signal = 0);
  /// Forget a pending stop (tests).
  void clear();
};

}  // namespace xib
