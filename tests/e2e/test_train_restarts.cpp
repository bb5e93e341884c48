// `xib run` on a run folder that already holds a run: a new run never resumes or silently
// replaces an old one, a crash between checkpoints leaves metrics that list each step once, a
// damaged checkpoint is a fallback or a clear error, and a run that fails changes nothing.
#include <fstream>

#include "e2e_support.h"
#include "test_support.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/train/checkpoint.h"

using namespace xib;
using namespace xib::test;
namespace fs = std::filesystem;

namespace {

const std::string kKeys = "steps: 6\n  lr: 1.0e-3\n  warmup_steps: 2\n  threads: 1";

/// Every tensor of two checkpoints equal, bit for bit.
void check_same_checkpoint(const fs::path& a, const fs::path& b) {
  const auto ca = train::read_checkpoint(a), cb = train::read_checkpoint(b);
  CHECK(ca.step == cb.step);
  REQUIRE(ca.tensors.size() == cb.tensors.size());
  for (size_t i = 0; i < ca.tensors.size(); ++i) {
    CHECK(ca.tensors[i].first == cb.tensors[i].first);
    CHECK_MESSAGE(ca.tensors[i].second.equal(cb.tensors[i].second), ca.tensors[i].first);
  }
}

/// The steps of a metrics file, in order, and its losses.
std::vector<int64_t> steps_of(const fs::path& run) {
  std::vector<int64_t> out;
  for (const auto& m : read_metrics(run)) out.push_back(m["step"].get<int64_t>());
  return out;
}

void check_same_losses(const fs::path& a, const fs::path& b) {
  const auto ma = read_metrics(a), mb = read_metrics(b);
  REQUIRE(ma.size() == mb.size());
  for (size_t i = 0; i < ma.size(); ++i) {
    CHECK(ma[i]["step"] == mb[i]["step"]);
    CHECK(ma[i]["loss"].get<double>() == mb[i]["loss"].get<double>());
    CHECK(ma[i]["grad_norm"].get<double>() == mb[i]["grad_norm"].get<double>());
    CHECK(ma[i]["lr"].get<double>() == mb[i]["lr"].get<double>());
  }
}

std::string file_or_empty(const fs::path& f) { return fs::exists(f) ? read_file(f) : std::string(); }

/// The bytes of every file a run writes, to show that nothing changed.
std::string run_snapshot(const fs::path& run) {
  std::string s;
  for (const char* f : {"config.yaml", "metrics.jsonl", "report.md", "checkpoints/latest"})
    s += std::string(f) + ":\n" + file_or_empty(run / f);
  for (const auto& [step, dir] : train::list_checkpoints(run)) s += dir.filename().string() + "\n";
  return s;
}

}  // namespace

TEST_CASE("train restarts: a new run never resumes an old one (resume=false needs overwrite, latest decides)") {
  TrainSetup whole(12, "linear", kKeys);
  const auto w = whole.xib_run();
  REQUIRE_MESSAGE(w.exit_code == 0, diagnose(w));

  TrainSetup s(12, "linear", kKeys);
  REQUIRE(s.xib_run().exit_code == 0);  // a finished 6-step run
  const std::string before = run_snapshot(s.run());

  // A new run on it is refused, naming what is there; nothing changes.
  const auto refused = s.xib_run({"run.resume=false", "run.stop_after=3"});
  CHECK(refused.exit_code == 2);
  CHECK_MESSAGE(refused.err.find("holds a previous run") != std::string::npos, refused.err);
  CHECK(refused.err.find("step-00000006") != std::string::npos);
  CHECK(refused.err.find("run.overwrite=true") != std::string::npos);
  CHECK(run_snapshot(s.run()) == before);

  // With overwrite the old run is replaced: one checkpoint (step 3), three metrics records.
  const auto fresh = s.xib_run({"run.resume=false", "run.overwrite=true", "run.stop_after=3"});
  REQUIRE_MESSAGE(fresh.exit_code == 0, diagnose(fresh));
  CHECK(steps_of(s.run()) == std::vector<int64_t>{1, 2, 3});
  CHECK(read_file(s.run() / "checkpoints" / "latest") == "step-00000003\n");
  REQUIRE(train::list_checkpoints(s.run()).size() == 1);

  // Running it again with the defaults resumes the new run at step 3, not the old step 6.
  const auto resumed = s.xib_run();
  REQUIRE_MESSAGE(resumed.exit_code == 0, diagnose(resumed));
  CHECK_MESSAGE(resumed.err.find("from step 3") != std::string::npos, resumed.err);
  CHECK(steps_of(s.run()) == std::vector<int64_t>{1, 2, 3, 4, 5, 6});
  check_same_checkpoint(*train::find_latest_checkpoint(whole.run()), *train::find_latest_checkpoint(s.run()));
  check_same_losses(whole.run(), s.run());

  // A finished run run again says so and writes nothing.
  const std::string done = run_snapshot(s.run());
  const auto again = s.xib_run();
  CHECK(again.exit_code == 0);
  CHECK_MESSAGE(again.err.find("already at step 6 of 6") != std::string::npos, again.err);
  CHECK(run_snapshot(s.run()) == done);
}

TEST_CASE("train restarts: killed between checkpoints, the resumed run's metrics list each step once, bit-identical") {
  // Two datasets mixed, two threads, a checkpoint every 4 steps, a SIGKILL right after step 6.
  const std::string keys = "steps: 10\n  lr: 1.0e-3\n  warmup_steps: 2\n  threads: 2\n  checkpoint_every: 4";
  auto mixed = [&](TrainSetup& s) {
    std::string recipe = read_file(s.dir / "train.yaml");
    const std::string one =
        "    - {reader: caption, path: captions.json, modality: segments, instructions: [\"a short description\"]}\n";
    const auto at = recipe.find(one);
    REQUIRE(at != std::string::npos);
    recipe.insert(at + one.size(),
                  "    - {reader: caption, name: words, path: captions.json, modality: segments, instructions: "
                  "[\"in words\", \"say it\"]}\n  mixing: uniform\n");
    s.dir.write("train.yaml", recipe);
  };
  TrainSetup whole(12, "qformer", keys);
  mixed(whole);
  const auto w = whole.xib_run();
  REQUIRE_MESSAGE(w.exit_code == 0, diagnose(w));

  TrainSetup s(12, "qformer", keys);
  mixed(s);
  const auto killed = s.xib_run({}, {"XIB_TEST_KILL_AFTER_STEP=6"});
  CHECK(killed.exit_code == 128 + 9);
  REQUIRE(steps_of(s.run()) == std::vector<int64_t>{1, 2, 3, 4, 5, 6});
  CHECK(read_file(s.run() / "checkpoints" / "latest") == "step-00000004\n");

  const auto resumed = s.xib_run();
  REQUIRE_MESSAGE(resumed.exit_code == 0, diagnose(resumed));
  CHECK_MESSAGE(resumed.err.find("from step 4") != std::string::npos, resumed.err);
  CHECK_MESSAGE(resumed.err.find("dropped 2 metrics record(s)") != std::string::npos, resumed.err);
  CHECK(steps_of(s.run()) == std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  check_same_losses(whole.run(), s.run());
  check_same_checkpoint(*train::find_latest_checkpoint(whole.run()), *train::find_latest_checkpoint(s.run()));
}

TEST_CASE("train restarts: a damaged checkpoint is never a silent restart") {
  TrainSetup s(8, "linear", "steps: 6\n  lr: 1.0e-3\n  warmup_steps: 1\n  threads: 1\n  checkpoint_every: 2");
  REQUIRE(s.xib_run({"run.stop_after=5"}).exit_code == 0);  // checkpoints 2, 4 and 5
  auto damage = [&](int64_t step) {
    std::fstream f(s.run() / "checkpoints" / train::checkpoint_dir_name(step) / "state.safetensors",
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(64);
    f.put('\x55');
  };
  SUBCASE("the newest damaged: resumed from the one before, metrics cut back to it") {
    damage(5);
    const auto r = s.xib_run();
    REQUIRE_MESSAGE(r.exit_code == 0, diagnose(r));
    CHECK_MESSAGE(r.err.find("resuming from step-00000004 instead") != std::string::npos, r.err);
    CHECK(steps_of(s.run()) == std::vector<int64_t>{1, 2, 3, 4, 5, 6});
  }
  SUBCASE("all damaged: an error listing them, nothing changed; run.overwrite=true starts over") {
    for (int64_t step : {2, 4, 5}) damage(step);
    const std::string before = run_snapshot(s.run());
    const auto r = s.xib_run();
    CHECK(r.exit_code == 1);
    CHECK_MESSAGE(r.err.find("every checkpoint of the run folder is damaged") != std::string::npos, r.err);
    CHECK(r.err.find("step-00000002") != std::string::npos);
    CHECK(run_snapshot(s.run()) == before);
    const auto over = s.xib_run({"run.overwrite=true"});
    REQUIRE_MESSAGE(over.exit_code == 0, diagnose(over));
    CHECK(steps_of(s.run()) == std::vector<int64_t>{1, 2, 3, 4, 5, 6});
  }
}

TEST_CASE("train restarts: a run that fails on its first step changes nothing, and out of memory is an error") {
  TrainSetup s(8, "linear", "steps: 3\n  lr: 1.0e-3\n  warmup_steps: 1\n  threads: 1");
  REQUIRE(s.xib_run().exit_code == 0);
  const std::string before = run_snapshot(s.run());
  SUBCASE("an absurd batch size") {
    const auto r = s.xib_run({"run.resume=false", "run.overwrite=true", "data.batch_size=1000000000000"});
    CHECK(r.exit_code != 0);
    CHECK_MESSAGE(r.err.find("unexpected") == std::string::npos, r.err);
    CHECK(run_snapshot(s.run()) == before);
  }
  SUBCASE("a file that cannot be decoded on the first step") {
    for (int i = 0; i < 8; ++i) s.dir.write("segments/" + std::to_string(i) + ".txt", "not numbers\n");
    const auto r = s.xib_run({"run.resume=false", "run.overwrite=true"});
    CHECK(r.exit_code != 0);
    CHECK(run_snapshot(s.run()) == before);
  }
}
