// Checkpoints of a run folder: round trip, keep-last pruning, damaged and half-written
// checkpoints skipped, format-version and shape errors, SIGKILL during writes, RNG state.
#include <ATen/ATen.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "test_support.h"
#include "torch_doctest.h"
#include "xib/error.h"
#include "xib/train/checkpoint.h"
#include "xib/train/rng_state.h"

using namespace xib;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

train::NamedTensors small_tensors(int64_t step) {
  return {{"model/w", at::arange(12, at::kFloat).view({3, 4}) + static_cast<double>(step)},
          {"model/half", at::arange(6, at::kFloat).to(at::kBFloat16)},
          {"optim/step", at::scalar_tensor(step, at::kLong)},
          {"mask", at::arange(3, at::kLong).remainder(2) == 0},
          {"bytes", at::arange(5, at::kByte)},
          {"strided", at::arange(6, at::kDouble).view({2, 3}).t()}};
}

void flip_byte(const fs::path& file, std::streamoff at_offset) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(at_offset);
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(at_offset);
  f.write(&c, 1);
}

}  // namespace

TEST_CASE("checkpoint: tensors and meta round-trip, with layout, latest and checkpoint.json") {
  test::TempDir run;
  const json meta = {{"recipe", {{"lr", 1e-5}}}, {"data", {{"epoch", 2}, {"index", 123}}}, {"frozen", {"llm", "abc"}}};
  const auto dir = train::write_checkpoint(run.path(), 42, small_tensors(42), meta);
  CHECK(dir == run.path() / "checkpoints" / "step-00000042");
  CHECK(train::checkpoint_dir_name(123456789) == "step-123456789");
  CHECK(test::read_file(run.path() / "checkpoints" / "latest") == "step-00000042\n");
  const json doc = json::parse(test::read_file(dir / "checkpoint.json"));
  CHECK(doc["format"] == "xib-checkpoint");
  CHECK(doc["format_version"] == train::kCheckpointFormatVersion);
  CHECK(doc["step"] == 42);
  CHECK(doc["state"]["sha256"].get<std::string>().size() == 64);
  CHECK(doc["state"]["bytes"] == fs::file_size(dir / "state.safetensors"));

  const auto c = train::read_checkpoint(dir);
  CHECK(c.step == 42);
  CHECK(c.meta == meta);
  const auto want = small_tensors(42);
  REQUIRE(c.tensors.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    CHECK(c.tensors[i].first == want[i].first);  // order kept
    CHECK((c.tensors[i].second.scalar_type() == want[i].second.scalar_type()));
    CHECK_MESSAGE(at::equal(c.tensors[i].second, want[i].second), want[i].first);
  }
  CHECK(at::equal(c.tensor("model/w"), want[0].second));
  try {
    (void)c.tensor("model/ww");
    FAIL("expected a NotFoundError");
  } catch (const NotFoundError& e) {
    CHECK(e.info().hint == "did you mean 'model/w'?");
  }
  CHECK(train::verify_checkpoint(dir).empty());
  CHECK(train::find_latest_checkpoint(run.path()) == dir);
}

TEST_CASE("checkpoint: keep_last prunes the oldest, and the same step is replaced") {
  test::TempDir run;
  for (int64_t s = 1; s <= 5; ++s) train::write_checkpoint(run.path(), s * 10, small_tensors(s), {}, {.keep_last = 2});
  auto all = train::list_checkpoints(run.path());
  REQUIRE(all.size() == 2);
  CHECK(all[0].first == 40);
  CHECK(all[1].first == 50);
  train::write_checkpoint(run.path(), 50, small_tensors(7), {{"again", true}}, {.keep_last = 2});
  const auto c = train::read_checkpoint(*train::find_latest_checkpoint(run.path()));
  CHECK(c.meta["again"] == true);
  CHECK(at::equal(c.tensor("optim/step"), at::scalar_tensor(7, at::kLong)));
  for (const auto& e : fs::directory_iterator(run.path() / "checkpoints"))
    CHECK_MESSAGE(e.path().filename().string()[0] != '.', e.path());  // no temporaries left

  test::TempDir keep_all;
  for (int64_t s = 1; s <= 4; ++s) train::write_checkpoint(keep_all.path(), s, small_tensors(s), {}, {.keep_last = 0});
  CHECK(train::list_checkpoints(keep_all.path()).size() == 4);
  CHECK_THROWS_AS(train::write_checkpoint(keep_all.path(), 5, {}, {}, {.keep_last = -1}), ConfigError);
  CHECK_THROWS_AS(train::write_checkpoint(keep_all.path(), -1, {}, {}), UsageError);
  CHECK_THROWS_AS(train::write_checkpoint(keep_all.path(), 6, {{"u", at::Tensor()}}, {}), UsageError);
  CHECK_THROWS_AS(train::write_checkpoint(keep_all.path(), 6, {{"c", at::zeros({2}, at::kComplexFloat)}}, {}),
                  UsageError);
  CHECK(train::list_checkpoints(keep_all.path()).size() == 4);
}

TEST_CASE("checkpoint: a corrupted, truncated or half-written newest checkpoint is skipped") {
  test::TempDir run;
  for (int64_t s = 1; s <= 4; ++s) train::write_checkpoint(run.path(), s, small_tensors(s), {}, {.keep_last = 0});
  const fs::path ck = run.path() / "checkpoints";
  flip_byte(ck / "step-00000004" / "state.safetensors", 200);                        // same size, other bytes
  fs::resize_file(ck / "step-00000003" / "state.safetensors", 100);                  // truncated
  fs::remove(ck / "step-00000002" / "checkpoint.json");                              // never finished
  fs::create_directories(ck / "step-00000009");                                      // empty
  fs::create_directories(ck / ".tmp-step-00000005-999999999-0");                     // a dead writer's
  fs::create_directories(ck / fmt::format(".tmp-step-00000005-{}-0", ::getppid()));  // a live one's
  std::vector<train::SkippedCheckpoint> skipped;
  const auto latest = train::find_latest_checkpoint(run.path(), &skipped);
  REQUIRE(latest);
  CHECK(*latest == ck / "step-00000001");
  REQUIRE(skipped.size() == 4);
  CHECK(skipped[0].text().find("step-00000009") != std::string::npos);
  CHECK(skipped[1].text().find("SHA-256") != std::string::npos);
  CHECK(skipped[2].text().find("wrong size") != std::string::npos);
  CHECK(skipped[3].text().find("no checkpoint.json") != std::string::npos);
  CHECK_FALSE(fs::exists(ck / ".tmp-step-00000005-999999999-0"));
  CHECK(fs::exists(ck / fmt::format(".tmp-step-00000005-{}-0", ::getppid())));
  CHECK(train::read_checkpoint(*latest).step == 1);

  try {
    (void)train::read_checkpoint(ck / "step-00000004");
    FAIL("expected a FormatError");
  } catch (const FormatError& e) {
    CHECK(e.info().where == (ck / "step-00000004" / "state.safetensors").string());
    CHECK(e.info().expected.find("sha256 ") == 0);
    CHECK(e.info().hint.find("earlier") != std::string::npos);
  }
  CHECK_THROWS_WITH_AS(train::read_checkpoint(ck / "step-00000003"), doctest::Contains("wrong size"), FormatError);
  CHECK_FALSE(train::verify_checkpoint(ck / "step-00000002").empty());

  test::TempDir empty;
  CHECK_FALSE(train::find_latest_checkpoint(empty.path()));
  CHECK_FALSE(train::find_latest_checkpoint(empty.path() / "nothing"));
}

TEST_CASE("checkpoint: another format version and malformed checkpoint.json are clear errors") {
  test::TempDir run;
  const auto dir = train::write_checkpoint(run.path(), 7, small_tensors(7), {});
  const fs::path meta_file = dir / "checkpoint.json";
  json doc = json::parse(test::read_file(meta_file));
  doc["format_version"] = 2;
  std::ofstream(meta_file) << doc.dump();
  try {
    (void)train::read_checkpoint(dir);
    FAIL("expected a FormatError");
  } catch (const FormatError& e) {
    CHECK(e.info().where == meta_file.string());
    CHECK(e.info().expected == "format_version 1");
    CHECK(e.info().got == "format_version 2");
    CHECK(e.info().hint.find("another version of xib") != std::string::npos);
  }
  std::vector<train::SkippedCheckpoint> skipped;
  CHECK_FALSE(train::find_latest_checkpoint(run.path(), &skipped));
  CHECK(skipped.size() == 1);

  std::ofstream(meta_file) << "{not json";
  CHECK_THROWS_WITH_AS(train::read_checkpoint(dir), doctest::Contains("not valid JSON"), FormatError);
  doc["format_version"] = 1;
  doc["step"] = 8;  // disagrees with the folder name
  std::ofstream(meta_file) << doc.dump();
  CHECK_THROWS_WITH_AS(train::read_checkpoint(dir), doctest::Contains("disagree on the step"), FormatError);
  doc["step"] = 7;
  doc["format"] = "something-else";
  std::ofstream(meta_file) << doc.dump();
  CHECK_THROWS_WITH_AS(train::read_checkpoint(dir), doctest::Contains("not an xib checkpoint"), FormatError);
}

TEST_CASE("checkpoint: tensors that do not fit the model are one error listing all") {
  const train::NamedTensors stored{{"a", at::zeros({2, 3})}, {"b", at::zeros({4})}, {"extra", at::zeros({1})}};
  const at::Tensor a = at::ones({3, 2}), b = at::ones({4}), c = at::ones({5});
  try {
    train::copy_named_tensors(stored, {{"a", a}, {"b", b}, {"c", c}}, "model");
    FAIL("expected a ShapeError");
  } catch (const ShapeError& e) {
    CHECK(e.info().details.size() == 3);
    const std::string r = e.report();
    CHECK(r.find("a: expected [3, 2], got [2, 3]") != std::string::npos);
    CHECK(r.find("c [5]") != std::string::npos);
    CHECK(r.find("extra") != std::string::npos);
  }
  CHECK(at::equal(b, at::ones({4})));  // nothing copied
  train::copy_named_tensors({{"a", at::full({3, 2}, 2.0)}, {"b", at::full({4}, 3.0)}}, {{"a", a}, {"b", b}}, "model");
  CHECK(at::equal(a, at::full({3, 2}, 2.0)));
  CHECK(at::equal(b, at::full({4}, 3.0)));
  const auto pre = train::with_prefix({{"a", a}}, "model/");
  CHECK(pre[0].first == "model/a");
  CHECK(train::take_prefix(pre, "model/")[0].first == "a");
  CHECK(train::take_prefix(pre, "optim/").empty());
}

TEST_CASE("checkpoint: SIGKILL while writing never leaves a partial checkpoint behind") {
  test::TempDir run;
  // Large enough that a write takes a moment; made before fork() so the child runs no ATen kernels.
  const at::Tensor big = at::randn({1 << 19});  // 2 MB
  train::write_checkpoint(run.path(), 0, {{"big", big}, {"step", at::scalar_tensor(0, at::kLong)}}, {{"step", 0}});
  int64_t last_step = 0, mid_write = 0;
  const int delays_ms[] = {0, 1, 3, 7, 12, 20, 35, 60, 90, 140, 250, 400, 600};
  for (int d : delays_ms) {
    const int64_t first = last_step + 1;
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      try {
        for (int64_t s = first;; ++s)
          train::write_checkpoint(run.path(), s, {{"big", big}, {"step", at::scalar_tensor(s, at::kLong)}},
                                  {{"step", s}}, {.keep_last = 2});
      } catch (...) {
        ::_exit(3);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(d));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    REQUIRE_MESSAGE(WIFSIGNALED(status), "the writer failed by itself, status ", status);
    for (const auto& e : fs::directory_iterator(run.path() / "checkpoints"))
      if (e.path().filename().string()[0] == '.') ++mid_write;  // killed inside a write (.tmp-, .latest-, .trash-)

    // Every step-… folder is complete, and the newest is found and loads.
    for (const auto& [step, dir] : train::list_checkpoints(run.path()))
      CHECK_MESSAGE(train::verify_checkpoint(dir).empty(), dir);
    std::vector<train::SkippedCheckpoint> skipped;
    const auto latest = train::find_latest_checkpoint(run.path(), &skipped);
    // Only a folder renamed into place before `latest` named it may be passed over.
    for (const auto& s : skipped) CHECK_MESSAGE(s.after_latest, s.text());
    REQUIRE(latest);  // at least the parent's step 0
    const auto c = train::read_checkpoint(*latest);
    CHECK(c.step >= last_step);
    CHECK(c.meta["step"] == c.step);
    CHECK(c.tensor("step").item<int64_t>() == c.step);
    CHECK(at::equal(c.tensor("big"), big));
    last_step = c.step;
    for (const auto& e : fs::directory_iterator(run.path() / "checkpoints"))
      CHECK_MESSAGE(e.path().filename().string().rfind(".tmp-", 0) != 0, e.path());  // cleaned
  }
  MESSAGE("killed ", std::size(delays_ms), " writers; ", mid_write, " left a temporary folder; newest step ",
          last_step);
  // The kills must have landed inside writes, or the test showed nothing about them.
  CHECK(mid_write >= 3);
}

TEST_CASE("rng state: LibTorch CPU generator and xib::Rng round-trip through a checkpoint") {
  seed_everything(7);
  test::TempDir run;
  train::write_checkpoint(run.path(), 1, train::rng_state_tensors(), {});
  const at::Tensor a = at::randn({8});
  const uint64_t r1 = Rng::global().next();

  seed_everything(7);
  (void)at::randn({100});  // move both streams on
  (void)Rng::global().next();
  const auto c = train::read_checkpoint(*train::find_latest_checkpoint(run.path()));
  train::restore_rng_state(c.tensors);
  CHECK(at::equal(at::randn({8}), a));
  CHECK(Rng::global().next() == r1);

  CHECK((train::torch_cpu_rng_state().scalar_type() == at::kByte));
  CHECK_THROWS_AS(train::set_torch_cpu_rng_state(at::zeros({3}, at::kByte)), FormatError);
  Rng r(1);
  CHECK_THROWS_AS(train::set_rng_state_tensor(r, at::zeros({3}, at::kLong)), ShapeError);
  try {
    train::restore_rng_state({});
    FAIL("expected a NotFoundError");
  } catch (const NotFoundError& e) {
    CHECK(e.info().expected == "rng/torch_cpu and rng/xib_global");
  }
}

TEST_CASE("checkpoint: reading a folder that does not exist is an IoError") {
  test::TempDir run;
  CHECK_THROWS_WITH_AS(train::read_checkpoint(run.path() / "checkpoints" / "step-00000001"),
                       doctest::Contains("no such checkpoint folder"), IoError);
}
