// xib::Error reports: what first, then aligned labelled lines; exit codes by class.
#include <doctest/doctest.h>

#include "xib/error.h"

using namespace xib;

TEST_CASE("a report puts what first and aligns the labelled lines") {
  const ConfigError e({.what = "unknown key 'stpes' in section 'run'",
                       .where = "r.yaml:3:3, key run.stpes",
                       .expected = "one of: lr, steps",
                       .got = "stpes",
                       .hint = "did you mean 'steps'?",
                       .details = {{"also unknown", "'lrr'"}}});
  CHECK(e.report() ==
        "unknown key 'stpes' in section 'run'\n"
        "  where:         r.yaml:3:3, key run.stpes\n"
        "  expected:      one of: lr, steps\n"
        "  got:           stpes\n"
        "  also unknown:  'lrr'\n"
        "  hint:          did you mean 'steps'?");
  CHECK(std::string(e.what()) == "unknown key 'stpes' in section 'run'");
}

TEST_CASE("empty parts are left out and multi-line values stay aligned") {
  const IoError e({.what = "cannot read", .where = "a\nb"});
  CHECK(e.report() == "cannot read\n  where:  a\n          b");
  CHECK(Error("plain").report() == "plain");
}

TEST_CASE("usage errors exit 2, runtime errors 1 — kinds name the class") {
  CHECK(UsageError("x").exit_code() == 2);
  CHECK(ConfigError("x").exit_code() == 2);
  CHECK(IoError("x").exit_code() == 1);
  CHECK(FormatError("x").exit_code() == 1);
  CHECK(PluginError("x").exit_code() == 1);
  CHECK(NotFoundError("x").exit_code() == 1);
  CHECK(ShapeError("x").exit_code() == 1);
  CHECK(std::string(ConfigError("x").kind()) == "ConfigError");
  // Catchable as their bases.
  CHECK_THROWS_AS(throw ConfigError("x"), UsageError);
  CHECK_THROWS_AS(throw ShapeError("x"), Error);
}

TEST_CASE("join_names lists names or says none") {
  CHECK(join_names({"a", "b"}) == "a, b");
  CHECK(join_names({}) == "(none)");
}
