// `kind: train` with run.feature_cache, end to end (the real `xib` binary, a tiny random LLaMA,
// the fixture "segments" modality): the cache gives the losses of an uncached run, survives a
// stop and resume, is reused without rewriting, and a stale or foreign cache is refused.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "e2e_support.h"
#include "test_support.h"

using namespace xib::test;
namespace fs = std::filesystem;

namespace {

constexpr const char* kKeys = "steps: 6\n  lr: 1.0e-3\n  warmup_steps: 2\n  threads: 1\n  max_grad_norm: 1.0";

/// The tiny LM, 12 samples plus two more captions of sample 0's file under its id (as LAVIS
/// caption files list each caption of an image), and a recipe with `extra` run keys.
struct World {
  TempDir dir;
  explicit World(const std::string& extra = "") {
    write_tiny_llama(dir / "lm", 7);
    write_segments_world(dir.path(), 12);
    auto entries = nlohmann::json::parse(read_file(dir / "captions.json"));
    for (const char* caption : {"another caption", "a third caption"}) {
      auto e = entries[0];
      e["caption"] = caption;
      entries.push_back(e);
    }
    std::ofstream(dir / "captions.json") << entries.dump(1);
    dir.write("train.yaml", train_recipe("qformer", std::string(kKeys) + extra, 4));
  }
  CommandResult run(const std::vector<std::string>& sets = {}) const {
    std::vector<std::string> args = {"run", (dir / "train.yaml").string(), "--plugin-dir",
                                     engine_plugin_dir().string()};
    for (const auto& s : sets) {
      args.push_back("--set");
      args.push_back(s);
    }
    return run_xib(args);
  }
};

}  // namespace

TEST_CASE("train run with a feature cache: the losses of an uncached run, across a stop and resume") {
  World plain;
  const auto a = plain.run();
  REQUIRE_MESSAGE(a.exit_code == 0, diagnose(a));

  World cached("\n  feature_cache: {path: features.h5, batch_size: 5}");
  const auto b1 = cached.run({"run.stop_after=3"});
  REQUIRE_MESSAGE(b1.exit_code == 0, diagnose(b1));
  // 12 samples + 2 more captions of sample 0: 12 distinct ids, all encoded once.
  CHECK_MESSAGE(b1.err.find("12 entries, 0 already there, 12 encoded") != std::string::npos, b1.err);
  CHECK(b1.err.find("no training-time augmentation") != std::string::npos);
  const fs::path cache = cached.dir / "features.h5";
  REQUIRE(fs::exists(cache));
  const std::string bytes = read_file(cache);

  const auto b2 = cached.run();  // resumes at step 3, reads the cache without writing it
  REQUIRE_MESSAGE(b2.exit_code == 0, diagnose(b2));
  CHECK(b2.err.find("resuming") != std::string::npos);
  CHECK_MESSAGE(b2.err.find("all 12 entries already there") != std::string::npos, b2.err);
  CHECK(read_file(cache) == bytes);

  const auto ma = read_metrics(plain.dir / "run"), mb = read_metrics(cached.dir / "run");
  REQUIRE(ma.size() == 6);
  REQUIRE(mb.size() == 6);
  for (size_t i = 0; i < 6; ++i) {
    CAPTURE(i);
    CHECK(mb[i]["step"] == ma[i]["step"]);
    CHECK(mb[i]["samples"] == ma[i]["samples"]);
    // The segments processor has no augmentation and its encoder works per element, so the
    // cached features are the very values the uncached run computes.
    CHECK(mb[i]["loss"].get<double>() == ma[i]["loss"].get<double>());
    CHECK(mb[i]["grad_norm"].get<double>() == ma[i]["grad_norm"].get<double>());
  }
}

TEST_CASE("train run with a feature cache: a stale, foreign or missing cache stops the run before it starts") {
  World w("\n  feature_cache: {path: features.h5}");
  const auto first = w.run();
  REQUIRE_MESSAGE(first.exit_code == 0, diagnose(first));

  {  // other encoder weights: the attribute, both values and the way out are named
    const auto r = w.run({"model.modalities.segments.width=16", "run.out=run_wide"});
    CHECK(r.exit_code == 1);
    CHECK_MESSAGE(r.err.find("is stale for modality 'segments'") != std::string::npos, r.err);
    CHECK(r.err.find("weights_id") != std::string::npos);
    CHECK(r.err.find("fixed:16") != std::string::npos);
    CHECK(r.err.find("fixed:8") != std::string::npos);
    CHECK(r.err.find("delete the file") != std::string::npos);
    CHECK_FALSE(fs::exists(w.dir / "run_wide" / "config.yaml"));
  }
  {  // a file that is not HDF5
    w.dir.write("notes.h5", "not a cache");
    const auto r = w.run({"run.feature_cache.path=notes.h5", "run.out=run_notes"});
    CHECK(r.exit_code == 1);
    CHECK_MESSAGE(r.err.find("is not an HDF5 file") != std::string::npos, r.err);
    CHECK(read_file(w.dir / "notes.h5") == "not a cache");
  }
  {  // a read-only cache that does not exist
    const auto r = w.run({"run.feature_cache.path=absent.h5", "run.feature_cache.build=false", "run.out=run_ro"});
    CHECK(r.exit_code == 1);
    CHECK_MESSAGE(r.err.find("does not exist") != std::string::npos, r.err);
    CHECK(r.err.find("feature_cache.build: true") != std::string::npos);
  }
  {  // a negative encoder batch is a recipe error
    const auto r = w.run({"run.feature_cache.batch_size=-1"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("batch_size") != std::string::npos);
  }
}
