// Honest skips. A test case that cannot run here (a model the cache lacks, no pip) calls one of
// these and returns: the test binary then exits 77, which CTest reports as "Skipped" (every
// test is registered with SKIP_RETURN_CODE 77), never as a pass.
//
//   if (!fs::exists(gguf)) return xib::test::skip_missing_model(gguf, "smollm2-135m-instruct");
//
// `make test` fetches the pinned models and sets XIB_TEST_REQUIRE_MODELS=1: a model that is
// missing then fails the test instead, so CI can never pass the parity tests vacuously.
#pragma once

#include <filesystem>
#include <string>

namespace xib::test {

/// Marks the running test case skipped, with the reason in its output.
void skip_test(const std::string& why);

/// skip_test() for a model file that scripts/fetch-models.sh provides (`model`: its cache name);
/// a failure instead under XIB_TEST_REQUIRE_MODELS=1.
void skip_missing_model(const std::filesystem::path& file, const std::string& model);

}  // namespace xib::test
