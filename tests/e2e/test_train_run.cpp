// `xib run` on `kind: train` recipes, end to end: a tiny random LLaMA, the fixture "segments"
// sequence modality, LAVIS-style caption annotations. Each test runs the real binary.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "e2e_support.h"
#include "test_support.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/device.h"
#include "xib/train/checkpoint.h"

using namespace xib;
using namespace xib::test;

namespace {
using Setup = TrainSetup;
}  // namespace

TEST_CASE(
    "train run: the aligner learns — the loss of 16 samples against SmolLM2 falls below 0.3x its start within 80 "
    "steps") {
  Setup s(16, "qformer", "steps: 80\n  lr: 1.0e-3\n  warmup_steps: 5\n  threads: 1", 4, "smollm2-135m-instruct");
  const auto r = s.xib_run();
  REQUIRE_MESSAGE(r.exit_code == 0, diagnose(r));
  const auto m = read_metrics(s.run());
  REQUIRE(m.size() == 80);
  const double first = m.front()["loss"].get<double>();
  double last5 = 0;
  for (size_t i = m.size() - 5; i < m.size(); ++i) last5 += m[i]["loss"].get<double>() / 5;
  MESSAGE("loss: first " << first << ", mean of the last 5 steps " << last5);
  CHECK(last5 < 0.3 * first);
  CHECK(m.back()["step"] == 80);
  for (const char* f : {"config.yaml", "report.md", "loss.svg", "lr.svg", "checkpoints/latest"}) {
    CHECK_MESSAGE(std::filesystem::exists(s.run() / f), f);
  }
  const std::string report = read_file(s.run() / "report.md");
  CHECK(report.find("| segments | qformer |") != std::string::npos);
  CHECK(report.find("loss.svg") != std::string::npos);
  // Only the aligner trains: the checkpoint holds the aligner's tensors and their optimizer state.
  const auto dir = train::find_latest_checkpoint(s.run());
  REQUIRE(dir);
  const auto ckpt = train::read_checkpoint(*dir);
  CHECK(ckpt.step == 80);
  for (const auto& [name, t] : ckpt.tensors) {
    const bool known =
        name.rfind("model/segments.", 0) == 0 || name.rfind("optim/", 0) == 0 || name.rfind("rng/", 0) == 0;
    CHECK_MESSAGE(known, name);
  }
  CHECK(ckpt.meta["frozen_models"]["llm"]["hidden_size"] == 576);
  CHECK(ckpt.meta.contains("recipe"));
  CHECK(ckpt.meta["data"].is_object());
}

TEST_CASE("train run: a run stopped and resumed ends bit-identical to an uninterrupted one") {
  const std::string keys = "steps: 9\n  lr: 1.0e-3\n  warmup_steps: 2\n  threads: 1\n  max_grad_norm: 1.0";
  Setup whole(12, "qformer", keys);
  const auto a = whole.xib_run();
  REQUIRE_MESSAGE(a.exit_code == 0, diagnose(a));

  Setup parts(12, "qformer", keys);
  const auto b1 = parts.xib_run({"run.stop_after=4"});
  REQUIRE_MESSAGE(b1.exit_code == 0, diagnose(b1));
  CHECK(b1.err.find("stopped by run.stop_after at step 4/9") != std::string::npos);
  CHECK(read_file(parts.run() / "report.md").find("stopped by run.stop_after") != std::string::npos);
  const auto b2 = parts.xib_run();
  REQUIRE_MESSAGE(b2.exit_code == 0, diagnose(b2));
  CHECK(b2.err.find("resuming") != std::string::npos);

  const auto ca = train::read_checkpoint(*train::find_latest_checkpoint(whole.run()));
  const auto cb = train::read_checkpoint(*train::find_latest_checkpoint(parts.run()));
  CHECK(ca.step == 9);
  CHECK(cb.step == 9);
  REQUIRE(ca.tensors.size() == cb.tensors.size());
  for (size_t i = 0; i < ca.tensors.size(); ++i) {
    CHECK(ca.tensors[i].first == cb.tensors[i].first);
    CHECK_MESSAGE(ca.tensors[i].second.equal(cb.tensors[i].second), ca.tensors[i].first);
  }
  // The metrics of the resumed run continue the file: steps 1..9 once each, equal losses.
  const auto ma = read_metrics(whole.run()), mb = read_metrics(parts.run());
  REQUIRE(mb.size() == 9);
  for (size_t i = 0; i < 9; ++i) {
    CHECK(mb[i]["step"] == static_cast<int64_t>(i + 1));
    CHECK(mb[i]["loss"].get<double>() == ma[i]["loss"].get<double>());
  }
}

TEST_CASE("train run: SIGTERM stops after the current step with a final checkpoint, and the run resumes") {
  Setup s(16, "linear", "steps: 100000\n  lr: 1.0e-3\n  warmup_steps: 2\n  threads: 1");
  Child c = s.spawn();
  REQUIRE(c.pid > 0);
  wait_for_steps(s.run(), 3);
  ::kill(c.pid, SIGTERM);
  const int code = c.wait();
  CHECK(code == 128 + SIGTERM);
  const std::string err = read_file(c.err);
  CHECK_MESSAGE(err.find("stopped by SIGTERM") != std::string::npos, err);
  const auto dir = train::find_latest_checkpoint(s.run());
  REQUIRE(dir);
  const auto ckpt = train::read_checkpoint(*dir);
  const auto m = read_metrics(s.run());
  CHECK(ckpt.step == m.back()["step"].get<int64_t>());
  CHECK(read_file(s.run() / "report.md").find("stopped by SIGTERM") != std::string::npos);

  const auto r = s.xib_run({"run.steps=" + std::to_string(ckpt.step + 2)});
  REQUIRE_MESSAGE(r.exit_code == 0, diagnose(r));
  CHECK(r.err.find("resuming") != std::string::npos);
  CHECK(read_metrics(s.run()).back()["step"] == ckpt.step + 2);
}

TEST_CASE("train run: SIGKILL at any moment leaves a loadable checkpoint, and the run goes on from it") {
  Setup s(16, "linear", "steps: 100000\n  lr: 1.0e-3\n  warmup_steps: 2\n  threads: 1\n  checkpoint_every: 1");
  for (int round = 0; round < 3; ++round) {
    Child c = s.spawn();
    REQUIRE(c.pid > 0);
    wait_for_steps(s.run(), static_cast<size_t>(3 * (round + 1)));
    std::this_thread::sleep_for(std::chrono::milliseconds(7 * round));
    ::kill(c.pid, SIGKILL);
    CHECK(c.wait() == 128 + SIGKILL);
    const auto dir = train::find_latest_checkpoint(s.run());
    REQUIRE(dir);
    CHECK(train::verify_checkpoint(*dir).empty());
    CHECK_NOTHROW(train::read_checkpoint(*dir));
  }
  const auto last = train::read_checkpoint(*train::find_latest_checkpoint(s.run()));
  const auto r = s.xib_run({"run.steps=" + std::to_string(last.step + 1)});
  REQUIRE_MESSAGE(r.exit_code == 0, diagnose(r));
  CHECK(train::read_checkpoint(*train::find_latest_checkpoint(s.run())).step == last.step + 1);
}

TEST_CASE("train run: bad input is a clear error and leaves the run folder alone") {
  Setup s(8, "linear", "steps: 3\n  warmup_steps: 1\n  threads: 1");
  SUBCASE("missing annotation file") {
    const auto r = s.xib_run({"data.train.0.path=nope.json"});
    CHECK(r.exit_code != 0);
    CHECK_MESSAGE(r.err.find("nope.json") != std::string::npos, r.err);
    CHECK_FALSE(std::filesystem::exists(s.run() / "checkpoints"));
  }
  SUBCASE("missing language model") {
    const auto r = s.xib_run({"model.llm.path=no-such-model"});
    CHECK(r.exit_code != 0);
    CHECK_MESSAGE(r.err.find("no-such-model") != std::string::npos, r.err);
    CHECK_FALSE(std::filesystem::exists(s.run() / "checkpoints"));
  }
  SUBCASE("an annotation entry without its caption") {
    s.dir.write("captions.json", R"([{"image": "segments/0.txt", "caption": "zero"}, {"image": "segments/1.txt"}])");
    const auto r = s.xib_run();
    CHECK(r.exit_code != 0);
    CHECK_MESSAGE(r.err.find("caption") != std::string::npos, r.err);
  }
  SUBCASE("an undecodable file mid-run: an error naming it, or skipped and counted when allowed") {
    s.dir.write("segments/3.txt", "0.1 0.2 oops 0.4\n0.1 0.2 0.3 0.4\n");
    const auto r = s.xib_run({"run.steps=4"});
    CHECK(r.exit_code != 0);
    CHECK_MESSAGE(r.err.find("3.txt") != std::string::npos, r.err);
    const auto ok = s.xib_run({"run.steps=4", "model.skip_undecodable=true"});
    REQUIRE_MESSAGE(ok.exit_code == 0, diagnose(ok));
    int64_t skipped = 0;
    for (const auto& m : read_metrics(s.run())) skipped += m["skipped"].get<int64_t>();
    CHECK(skipped >= 1);
    CHECK(read_file(s.run() / "report.md").find("samples skipped") != std::string::npos);
  }
  SUBCASE("a file that cannot be read is an error naming it, also with skip_undecodable") {
    std::filesystem::remove(s.dir / "segments/3.txt");
    std::filesystem::create_directories(s.dir / "segments/3.txt");  // a folder where the file was
    const auto r = s.xib_run({"run.steps=4", "model.skip_undecodable=true"});
    CHECK(r.exit_code != 0);
    CHECK_MESSAGE(r.err.find("3.txt") != std::string::npos, r.err);
    CHECK_MESSAGE(r.err.find("cannot be read") != std::string::npos, r.err);
    CHECK_MESSAGE(r.err.find("a folder") != std::string::npos, r.err);
    CHECK_FALSE(std::filesystem::exists(s.run()));  // the run changed nothing
  }
  SUBCASE("a recipe key that does not exist names the nearest one") {
    const auto r = s.xib_run({"run.stepz=3"});
    CHECK(r.exit_code != 0);
    CHECK_MESSAGE(r.err.find("steps") != std::string::npos, r.err);
  }
}

TEST_CASE("train run: run.precision=bf16 autocasts the forward, losses and gradients stay near f32's, weights f32") {
  Setup s(8, "qformer", "steps: 3\n  lr: 1.0e-3\n  warmup_steps: 1\n  threads: 1");
  const auto f32 = s.xib_run({"run.out=" + (s.dir / "f32").string()});
  REQUIRE_MESSAGE(f32.exit_code == 0, diagnose(f32));
  const auto bf16 = s.xib_run({"run.out=" + (s.dir / "bf16").string(), "run.precision=bf16"});
  REQUIRE_MESSAGE(bf16.exit_code == 0, diagnose(bf16));
  CHECK_MESSAGE(bf16.err.find("bf16 on the CPU") != std::string::npos, bf16.err);
  const auto m32 = read_metrics(s.dir / "f32"), m16 = read_metrics(s.dir / "bf16");
  REQUIRE(m32.size() == 3);
  REQUIRE(m16.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    const double l32 = m32[i]["loss"].get<double>(), l16 = m16[i]["loss"].get<double>();
    const double g32 = m32[i]["grad_norm"].get<double>(), g16 = m16[i]["grad_norm"].get<double>();
    MESSAGE("step " << i + 1 << ": loss f32 " << l32 << " bf16 " << l16 << ", grad norm f32 " << g32 << " bf16 "
                    << g16);
    CHECK(std::isfinite(l16));
    CHECK(std::abs(l16 - l32) < 2e-2 * l32);
    CHECK(std::abs(g16 - g32) < 0.1 * g32);
  }
  CHECK(m16[0]["loss"].get<double>() != m32[0]["loss"].get<double>());  // the forward really ran in bf16
  // The trainable parameters, their optimizer state and the checkpoint stay f32.
  const auto dir = train::find_latest_checkpoint(s.dir / "bf16");
  REQUIRE(dir);
  for (const auto& [name, t] : train::read_checkpoint(*dir).tensors) {
    if (name.rfind("model/", 0) == 0 || name.rfind("optim/", 0) == 0) {
      INFO(name);
      CHECK((t.scalar_type() == at::kFloat || t.numel() == 1));
    }
  }
  CHECK(read_file(s.dir / "bf16" / "config.yaml").find("precision: bf16") != std::string::npos);
  CHECK(read_file(s.dir / "bf16" / "report.md").find("- device: cpu, precision: bf16") != std::string::npos);
}

TEST_CASE("train run: run.device places the model, a device that is not there is a clear error that writes nothing") {
  Setup s(8, "linear", "steps: 1\n  warmup_steps: 1\n  threads: 1");
  SUBCASE("cpu, spelled out, trains") {
    const auto r = s.xib_run({"run.device=cpu"});
    CHECK_MESSAGE(r.exit_code == 0, diagnose(r));
  }
  SUBCASE("an unknown spelling lists the accepted ones") {
    const auto r = s.xib_run({"run.device=gpu"});
    CHECK(r.exit_code != 0);
    CHECK_MESSAGE(r.err.find("cpu, cuda or cuda:N") != std::string::npos, r.err);
    CHECK_MESSAGE(r.err.find("run.device") != std::string::npos, r.err);
    CHECK_FALSE(std::filesystem::exists(s.run()));
  }
  SUBCASE("a CUDA device this machine does not have names the devices it has") {
    const std::string missing = "cuda:" + std::to_string(available_devices().size() - 1);
    const auto r = s.xib_run({"run.device=" + missing});
    CHECK(r.exit_code != 0);
    CHECK_MESSAGE(r.err.find(missing) != std::string::npos, r.err);
    CHECK_MESSAGE(r.err.find("run.device") != std::string::npos, r.err);
    CHECK_FALSE(std::filesystem::exists(s.run()));
  }
}

TEST_CASE("train run: a micro-batch whose every sample was skipped is not a step, and the report says why") {
  // Batches of one sample: each undecodable sample is a micro-batch with nothing left.
  Setup s(8, "linear", "steps: 6\n  lr: 1.0e-3\n  warmup_steps: 1\n  threads: 1", /*batch=*/1);
  for (int i : {1, 4, 6}) s.dir.write("segments/" + std::to_string(i) + ".txt", "0.1 oops\n");
  const auto r = s.xib_run({"model.skip_undecodable=true"});
  REQUIRE_MESSAGE(r.exit_code == 0, diagnose(r));
  const auto m = read_metrics(s.run());
  REQUIRE(m.size() == 6);
  int64_t skipped = 0, skipped_batches = 0;
  for (size_t i = 0; i < m.size(); ++i) {
    CHECK(m[i]["step"] == static_cast<int64_t>(i + 1));
    CHECK(m[i]["samples"] == 1);              // every step learned from a sample
    CHECK(m[i]["loss"].get<double>() > 0.0);  // never the 0 of an empty batch
    skipped += m[i]["skipped"].get<int64_t>();
    skipped_batches += m[i].value("skipped_batches", int64_t{0});
  }
  CHECK(skipped >= 1);
  CHECK(skipped_batches == skipped);
  const std::string report = read_file(s.run() / "report.md");
  CHECK_MESSAGE(report.find("not counted as steps") != std::string::npos, report);
  CHECK_MESSAGE(report.find("| not a number in a segments file |") != std::string::npos, report);
}

TEST_CASE("train run: a one-step run writes its checkpoint, plots and report, and exits") {
  // A single point: the loss and its smoothed copy may differ by a few ULPs, which once made the
  // plot's tick loop run until memory ran out (tests/core/test_svg_plot.cpp has the unit case).
  Setup s(8, "qformer", "steps: 1\n  lr: 1.0e-5\n  warmup_steps: 0\n  threads: 1");
  const auto r = s.xib_run();
  REQUIRE_MESSAGE(r.exit_code == 0, diagnose(r));
  for (const char* f : {"report.md", "loss.svg", "lr.svg", "checkpoints/step-00000001/checkpoint.json"})
    CHECK_MESSAGE(std::filesystem::exists(s.run() / f), f);
}
