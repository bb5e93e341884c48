// Code a test runs in a child process of its own binary (a fresh environment, the real stderr),
// without registering a test case for it: the binary's main() runs the helper named by
// $XIB_TEST_CHILD_HELPER instead of the tests.
//
//   const xib::test::ChildHelper levels("log-levels", [] { xib::log::info("i"); });
//   run_command({self_exe()}, {"XIB_TEST_CHILD_HELPER=log-levels"});
#pragma once

namespace xib::test {

struct ChildHelper {
  ChildHelper(const char* name, void (*fn)());
};

}  // namespace xib::test
