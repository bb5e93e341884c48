// The training loop's seams (xib/train/trainer.h) with the engine fakes: the batch prefetcher
// (same batches as encoding in place, errors with their batch, resume points where the loop is,
// not where the worker is), and the loop with its observers and update strategy.
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

#include "engine_fakes.h"
#include "test_support.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/dataset.h"
#include "xib/train/adamw.h"
#include "xib/train/lr_schedule.h"
#include "xib/train/train_options.h"
#include "xib/train/trainer.h"
#include "xib/xinstructblip.h"

using namespace xib;
using namespace xib::train;
using xib::test::FakeImageModality;
using xib::test::FakeLm;
using xib::test::TempDir;

namespace {

/// Sample i reads file i (three numbers per line); instruction and answer name it.
class FilesDataset : public Dataset {
 public:
  explicit FilesDataset(std::vector<std::filesystem::path> files) : files_(std::move(files)) {}
  std::string name() const override { return "files"; }
  size_t size() const override { return files_.size(); }
  std::vector<std::string> modalities() const override { return {"image"}; }
  std::string task() const override { return "caption"; }
  Sample get(size_t i, Rng& rng) const override {
    return {.id = "files:" + std::to_string(i),
            .inputs = {{"image", {files_.at(i)}}},
            .task = "caption",
            .instruction = "what is it?",
            .answer = "number " + std::to_string(i) + (rng.uniform() < 0.5 ? " low" : " high")};
  }

 private:
  std::vector<std::filesystem::path> files_;
};

struct World {
  TempDir dir;
  std::shared_ptr<const Dataset> dataset;
  std::shared_ptr<FakeLm> lm = std::make_shared<FakeLm>(4);
  std::shared_ptr<FakeImageModality> image = std::make_shared<FakeImageModality>(4);
  XInstructBlip model{XInstructBlipParts{.lm = lm, .modalities = {image}}};

  /// 12 files; file `bad` (if any) holds a word that is not a number.
  explicit World(int bad = -1) {
    std::vector<std::filesystem::path> files;
    for (int i = 0; i < 12; ++i) {
      const std::string text = i == bad ? "1 2 garbage\n" : fmt::format("{} {} {}\n{} 0 1\n", i, i + 1, i + 2, -i);
      files.push_back(dir.write(fmt::format("{}.num", i), text));
    }
    dataset = std::make_shared<FilesDataset>(files);
  }
  DataStream stream() const {
    DataStreamOptions o;
    o.batch_size = 2;
    o.seed = 4;
    return DataStream({dataset}, o);
  }
};

}  // namespace

TEST_CASE("prefetcher: the batches in order, encoded as in place, with resume points where the loop is") {
  for (const bool encode_in_loop : {false, true}) {
    CAPTURE(encode_in_loop);
    World w;
    DataStream reference = w.stream();
    DataStream stream = w.stream();
    BatchPrefetcher batches(w.model, stream, nullptr, {.encode_in_loop = encode_in_loop});
    for (int b = 0; b < 8; ++b) {
      CAPTURE(b);
      // The worker may be a batch ahead; the resume point is still the loop's position.
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      CHECK(batches.resume_point().stream == reference.state());
      const std::vector<Sample> want = reference.next_batch();
      const EncodedFeatures want_features = w.model.encode(want, /*training=*/true);
      const EncodedBatch got = batches.next();
      REQUIRE(got.samples.size() == want.size());
      for (size_t i = 0; i < want.size(); ++i) {
        CHECK(got.samples[i].id == want[i].id);
        CHECK(got.samples[i].answer == want[i].answer);
      }
      CHECK(got.features.kept == want_features.kept);
      CHECK(torch::equal(got.features.by_modality.at("image"), want_features.by_modality.at("image")));
    }
  }
}

TEST_CASE("prefetcher: a file that cannot be decoded is an error of its own batch, naming the sample") {
  World w(/*bad=*/5);
  DataStream reference = w.stream();
  int bad_batch = -1;
  for (int b = 0; b < 12 && bad_batch < 0; ++b) {
    for (const Sample& s : reference.next_batch()) {
      if (s.id == "files:5") bad_batch = b;
    }
  }
  REQUIRE(bad_batch >= 0);
  DataStream stream = w.stream();
  BatchPrefetcher batches(w.model, stream, nullptr, {});
  for (int b = 0; b < bad_batch; ++b) CHECK_NOTHROW(batches.next());
  try {
    batches.next();
    FAIL("the undecodable file passed");
  } catch (const FormatError& e) {
    CHECK_MESSAGE(e.info().what.find("sample 'files:5'") != std::string::npos, e.report());
    CHECK(e.info().where.find("5.num") != std::string::npos);
  }
  CHECK_THROWS_AS(batches.next(), UsageError);  // the worker stopped after the error
}

TEST_CASE("prefetcher: stop() ends the worker promptly, with batches still ahead") {
  World w;
  DataStream stream = w.stream();
  BatchPrefetcher batches(w.model, stream, nullptr, {.depth = 3});
  (void)batches.next();
  const auto t0 = std::chrono::steady_clock::now();
  batches.stop();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  CHECK_THROWS_AS(batches.next(), UsageError);
}

namespace {

/// Counts the events it sees; asks to stop after `stop_at` steps (0: never).
struct CountingObserver : TrainObserver {
  int64_t stop_at = 0;
  int starts = 0, steps = 0, failures = 0, ends = 0;
  std::vector<double> losses;
  void on_start(TrainState&) override { ++starts; }
  void on_step(TrainState& s, const StepRecord& r) override {
    ++steps;
    losses.push_back(r.loss);
    CHECK(r.step == s.step);
    if (stop_at > 0 && s.step >= stop_at) s.stop_reason = "test";
  }
  void on_failure(TrainState&, const StepRecord&) override { ++failures; }
  void on_end(TrainState&) override { ++ends; }
};

/// The single-process update, but the loss of step `nan_at` is reported as NaN.
struct NanAt : UpdateStrategy {
  std::unique_ptr<UpdateStrategy> real = single_process_update();
  int64_t nan_at;
  explicit NanAt(int64_t at) : nan_at(at) {}
  int64_t rank() const override { return 0; }
  int64_t world_size() const override { return 1; }
  StepRecord update(TrainState& s, BatchSource& b, int64_t acc, double clip, double lr) override {
    StepRecord r = real->update(s, b, acc, clip, lr);
    if (r.step == nan_at) r.loss = std::nan("");
    return r;
  }
};

struct Loop {
  World w;
  DataStream stream = w.stream();
  NamedTensors params = w.model.trainable_parameters();
  AdamW optimizer{params, {}};
  LrSchedule schedule{{.lr = 1e-2, .warmup_steps = 0, .total_steps = 5}};
  TrainRecipe recipe;
  std::shared_ptr<ConfigSource> source = ConfigSource::from_string("{}", "test", ".");
  TrainState state{.recipe = recipe,
                   .source = *source,
                   .model = w.model,
                   .params = params,
                   .optimizer = optimizer,
                   .schedule = schedule,
                   .device = c10::Device(c10::DeviceType::CPU),
                   .run_dir = w.dir.path()};
};

}  // namespace

TEST_CASE("training loop: observers see the start, every step and the end, and a stop reason ends it early") {
  Loop l;
  CountingObserver counting;
  BatchPrefetcher batches(l.w.model, l.stream, nullptr, {});
  const auto update = single_process_update();
  const at::Tensor before = l.params.front().second.detach().clone();
  run_training_loop(l.state, *update, batches, {&counting}, 5, 2, 1.0);
  CHECK(counting.starts == 1);
  CHECK(counting.steps == 5);
  CHECK(counting.ends == 1);
  CHECK(counting.failures == 0);
  CHECK(l.state.step == 5);
  CHECK(l.state.steps_this_process == 5);
  CHECK_FALSE(torch::equal(before, l.params.front().second));  // the aligner trained
  for (double loss : counting.losses) CHECK(std::isfinite(loss));

  Loop m;
  CountingObserver stopping;
  stopping.stop_at = 2;
  BatchPrefetcher more(m.w.model, m.stream, nullptr, {});
  run_training_loop(m.state, *update, more, {&stopping}, 5, 1, 0.0);
  CHECK(m.state.step == 2);
  CHECK(m.state.stop_reason == "test");
  CHECK(stopping.ends == 1);
}

TEST_CASE("training loop: a non-finite loss reaches on_failure, then is an error naming the step") {
  Loop l;
  CountingObserver counting;
  BatchPrefetcher batches(l.w.model, l.stream, nullptr, {});
  NanAt update(3);
  try {
    run_training_loop(l.state, update, batches, {&counting}, 5, 1, 0.0);
    FAIL("a NaN loss was accepted");
  } catch (const Error& e) {
    CHECK(e.info().what.find("not finite at step 3") != std::string::npos);
  }
  CHECK(counting.steps == 2);
  CHECK(counting.failures == 1);
  CHECK(counting.ends == 0);
}
