#include <doctest/doctest.h>

#include <csignal>
#include <string>

#include "xib/stop_signal.h"

TEST_CASE("stop signal: SIGTERM and SIGINT raise the flag instead of ending the process") {
  xib::StopSignalScope stop;
  CHECK_FALSE(stop.requested());
  std::raise(SIGTERM);
  CHECK(stop.requested());
  CHECK(stop.signal() == SIGTERM);
  CHECK(std::string(stop.signal_name()) == "SIGTERM");
  stop.clear();
  std::raise(SIGINT);
  CHECK(stop.requested());
  CHECK(std::string(stop.signal_name()) == "SIGINT");
  stop.clear();
}

TEST_CASE("stop signal: request() from code, and the handlers go back when the scope ends") {
  struct sigaction before {};
  sigaction(SIGTERM, nullptr, &before);
  {
    xib::StopSignalScope outer;
    {
      xib::StopSignalScope inner;
      inner.request();
      CHECK(outer.requested());
      CHECK(outer.signal() == 0);
    }
    CHECK(outer.requested());  // the flag is shared while any scope lives
  }
  struct sigaction now {};
  sigaction(SIGTERM, nullptr, &now);
  CHECK(reinterpret_cast<void*>(now.sa_handler) == reinterpret_cast<void*>(before.sa_handler));
  xib::StopSignalScope again;
  CHECK_FALSE(again.requested());
}
