// The main() of every doctest binary. A run in which every test case that ran was skipped
// (test_skip.h; CTest runs one case per process) exits 77, CTest's SKIP_RETURN_CODE.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <string>

#include "child_helper.h"
#include "test_skip.h"

namespace {

int g_cases = 0;          // test cases started
int g_skipped_cases = 0;  // of those, the ones that skipped
int g_last_skip = -1;     // the case number of the last skip

/// Counts the test cases that start (subcases re-enter; they are not counted again).
struct CaseCounter : doctest::IReporter {
  explicit CaseCounter(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData&) override { ++g_cases; }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};
REGISTER_LISTENER("xib-case-counter", 1, CaseCounter);

std::map<std::string, void (*)()>& child_helpers() {
  static std::map<std::string, void (*)()> m;
  return m;
}

}  // namespace

namespace xib::test {

ChildHelper::ChildHelper(const char* name, void (*fn)()) { child_helpers()[name] = fn; }

void skip_test(const std::string& why) {
  MESSAGE("skipped: " << why);
  if (g_last_skip != g_cases) ++g_skipped_cases;
  g_last_skip = g_cases;
}

void skip_missing_model(const std::filesystem::path& file, const std::string& model) {
  const char* require = std::getenv("XIB_TEST_REQUIRE_MODELS");
  if (require && std::string(require) == "1") {
    FAIL("missing " << file.string() << " although XIB_TEST_REQUIRE_MODELS=1 (make test fetched the model '" << model
                    << "'): run scripts/fetch-models.sh --verify");
  }
  skip_test(file.string() + " is absent (scripts/fetch-models.sh fetches " + model + ")");
}

}  // namespace xib::test

int main(int argc, char** argv) {
  if (const char* helper = std::getenv("XIB_TEST_CHILD_HELPER")) {
    const auto it = child_helpers().find(helper);
    if (it == child_helpers().end()) return 3;
    it->second();
    return 0;
  }
  doctest::Context context(argc, argv);
  const int rc = context.run();
  if (context.shouldExit() || rc != 0) return rc;
  return g_cases > 0 && g_skipped_cases == g_cases ? 77 : rc;
}
