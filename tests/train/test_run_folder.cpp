// What a run does with its run folder (xib/train/run_folder.h): `latest` decides what is
// resumed, a new run never resumes or silently replaces an old one, damaged checkpoints are a
// fallback or an error, and the metrics are cut back to the resumed step.
#include <ATen/ATen.h>

#include <fstream>

#include "test_support.h"
#include "torch_doctest.h"
#include "xib/error.h"
#include "xib/train/checkpoint.h"
#include "xib/train/run_folder.h"

using namespace xib;
using namespace xib::train;
namespace fs = std::filesystem;

namespace {

void checkpoint(const fs::path& run, int64_t step) {
  write_checkpoint(run, step, {{"model/w", at::full({4}, static_cast<double>(step))}}, {}, {.keep_last = 0});
}

std::string metrics_lines(int64_t from, int64_t to) {
  std::string s;
  for (int64_t i = from; i <= to; ++i) s += "{\"step\":" + std::to_string(i) + ",\"loss\":1.5}\n";
  return s;
}

void damage(const fs::path& dir) {
  std::fstream f(dir / "state.safetensors", std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(100);
  f.put('\x7f');
}

}  // namespace

TEST_CASE("run folder: an empty or missing folder is a fresh start, run.out that is a file is refused") {
  test::TempDir d;
  CHECK(plan_run_folder(d / "new", true, false).start == RunStart::fresh);
  CHECK(plan_run_folder(d.path(), false, false).start == RunStart::fresh);
  d.write("notes.txt", "the user's own file");  // not a run's: ignored
  CHECK(plan_run_folder(d.path(), false, false).start == RunStart::fresh);
  d.write("afile", "x");
  CHECK_THROWS_WITH_AS(plan_run_folder(d / "afile", true, false), doctest::Contains("not a folder"), ConfigError);
}

TEST_CASE("run folder: resume=false on a previous run is an error naming it, unless overwrite") {
  test::TempDir d;
  for (int64_t s : {3, 6}) checkpoint(d.path(), s);
  d.write("metrics.jsonl", metrics_lines(1, 6));
  d.write("config.yaml", "old: run\n");
  try {
    (void)plan_run_folder(d.path(), false, false);
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    CHECK(e.info().got.find("latest step-00000006") != std::string::npos);
    CHECK(e.info().got.find("metrics.jsonl") != std::string::npos);
    CHECK(e.info().hint.find("run.overwrite=true") != std::string::npos);
  }
  const RunFolderPlan plan = plan_run_folder(d.path(), false, true);
  CHECK(plan.start == RunStart::replace);
  // Planning wrote nothing; beginning replaces the previous run's files, and only those.
  CHECK(fs::exists(d / "checkpoints" / "step-00000006"));
  d.write("notes.txt", "kept");
  begin_run_folder(d.path(), plan, "new: run\n");
  CHECK_FALSE(fs::exists(d / "checkpoints"));
  CHECK_FALSE(fs::exists(d / "metrics.jsonl"));
  CHECK(test::read_file(d / "config.yaml") == "new: run\n");
  CHECK(test::read_file(d / "notes.txt") == "kept");
  for (const auto& e : fs::directory_iterator(d.path()))
    CHECK_MESSAGE(e.path().filename().string()[0] != '.', e.path());  // nothing left aside
}

TEST_CASE("run folder: latest decides what is resumed, later folders are dropped and the metrics cut") {
  test::TempDir d;
  for (int64_t s : {4, 8}) checkpoint(d.path(), s);
  // A run that was abandoned after step 8 left a newer folder; `latest` names step 8.
  checkpoint(d.path(), 12);
  { std::ofstream(d / "checkpoints" / "latest") << "step-00000008\n"; }
  d.write("metrics.jsonl", metrics_lines(1, 10) + "{\"step\": 11, \"lo");  // and a torn line
  std::vector<SkippedCheckpoint> skipped;
  CHECK(find_latest_checkpoint(d.path(), &skipped) == d / "checkpoints" / "step-00000008");
  REQUIRE(skipped.size() == 1);
  CHECK(skipped[0].after_latest);
  CHECK(skipped[0].dir == d / "checkpoints" / "step-00000012");
  CHECK(skipped[0].text().find("newer than the checkpoint") != std::string::npos);
  const RunCheckpoints listed = run_checkpoints(d.path());
  CHECK(listed.latest == 8);
  REQUIRE(listed.own.size() == 2);
  CHECK(listed.own.front().first == 8);  // newest first
  REQUIRE(listed.after_latest.size() == 1);
  CHECK(listed.after_latest.front().first == 12);

  const RunFolderPlan plan = plan_run_folder(d.path(), true, false);
  CHECK(plan.start == RunStart::resume);
  CHECK(plan.step == 8);
  CHECK(fs::exists(d / "checkpoints" / "step-00000012"));  // planning changes nothing
  begin_run_folder(d.path(), plan, "cfg\n");
  CHECK_FALSE(fs::exists(d / "checkpoints" / "step-00000012"));
  CHECK(test::read_file(d / "metrics.jsonl") == metrics_lines(1, 8));
  CHECK(test::read_file(d / "checkpoints" / "latest") == "step-00000008\n");
}

TEST_CASE("run folder: a damaged latest checkpoint falls back to an older intact one, all damaged is an error") {
  test::TempDir d;
  for (int64_t s : {2, 4, 6}) checkpoint(d.path(), s);
  d.write("metrics.jsonl", metrics_lines(1, 7));
  damage(d / "checkpoints" / "step-00000006");
  RunFolderPlan plan = plan_run_folder(d.path(), true, false);
  CHECK(plan.start == RunStart::resume);
  CHECK(plan.step == 4);
  REQUIRE(plan.skipped.size() == 1);
  CHECK_FALSE(plan.skipped[0].after_latest);  // damaged, not abandoned
  begin_run_folder(d.path(), plan, "cfg\n");
  CHECK(test::read_file(d / "metrics.jsonl") == metrics_lines(1, 4));
  CHECK(test::read_file(d / "checkpoints" / "latest") == "step-00000004\n");

  damage(d / "checkpoints" / "step-00000004");
  damage(d / "checkpoints" / "step-00000002");
  try {
    (void)plan_run_folder(d.path(), true, false);
    FAIL("expected a FormatError");
  } catch (const FormatError& e) {
    CHECK(e.info().what.find("every checkpoint") != std::string::npos);
    CHECK(e.info().details.size() == 2);
    CHECK(e.info().hint.find("run.overwrite=true") != std::string::npos);
  }
  CHECK(test::read_file(d / "metrics.jsonl") == metrics_lines(1, 4));  // untouched
  plan = plan_run_folder(d.path(), true, true);
  CHECK(plan.start == RunStart::replace);
}

TEST_CASE("run folder: a run that never reached a checkpoint starts over when resumed") {
  test::TempDir d;
  d.write("metrics.jsonl", metrics_lines(1, 3));
  d.write("config.yaml", "x: 1\n");
  const RunFolderPlan plan = plan_run_folder(d.path(), true, false);
  CHECK(plan.start == RunStart::replace);
  begin_run_folder(d.path(), plan, "x: 2\n");
  CHECK_FALSE(fs::exists(d / "metrics.jsonl"));
  CHECK(test::read_file(d / "config.yaml") == "x: 2\n");
}

TEST_CASE("run folder: cut_metrics keeps records up to the step, and other lines") {
  test::TempDir d;
  const auto f = d.write("m.jsonl", metrics_lines(1, 5) + "{\"event\":\"note\"}\n" + metrics_lines(6, 9));
  CHECK(cut_metrics(f, 6) == 3);
  CHECK(test::read_file(f) == metrics_lines(1, 5) + "{\"event\":\"note\"}\n" + metrics_lines(6, 6));
  CHECK(cut_metrics(f, 6) == 0);
  CHECK(cut_metrics(d / "absent.jsonl", 3) == 0);
}
