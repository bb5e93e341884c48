// SIGINT/SIGTERM → a flag polled by long loops (see xib/stop_signal.h).
#include "xib/stop_signal.h"

#include <atomic>
#include <csignal>
#include <cstring>

namespace xib {
namespace {

std::atomic<int> g_signal{0};   // the signal that asked to stop, -1 for request(0)
std::atomic<int> g_depth{0};    // nesting of live scopes
struct sigaction g_old_int {};  // handlers before the outermost scope
struct sigaction g_old_term {};

extern "C" void on_stop_signal(int sig) {
  int expected = 0;
  if (!g_signal.compare_exchange_strong(expected, sig) && sig == SIGINT) {
    // A second Ctrl-C: the user wants out now.
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
  }
}

}  // namespace

StopSignalScope::StopSignalScope() {
  if (g_depth.fetch_add(1) == 0) {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, &g_old_int);
    sigaction(SIGTERM, &sa, &g_old_term);
  }
}

StopSignalScope::~StopSignalScope() {
  if (g_depth.fetch_sub(1) == 1) {
    sigaction(SIGINT, &g_old_int, nullptr);
    sigaction(SIGTERM, &g_old_term, nullptr);
    g_signal = 0;
  }
}

bool StopSignalScope::requested() const { return g_signal.load() != 0; }

int StopSignalScope::signal() const {
  const int s = g_signal.load();
  return s > 0 ? s : 0;
}

const char* StopSignalScope::signal_name() const {
  switch (signal()) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    default:
      return "";
  }
}

void StopSignalScope::request(int sig) {
  int expected = 0;
  g_signal.compare_exchange_strong(expected, sig == 0 ? -1 : sig);
}

void StopSignalScope::clear() { g_signal = 0; }

}  // namespace xib
