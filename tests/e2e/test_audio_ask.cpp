// The audio modality end to end: `xib run` trains the audio aligner for a few steps on spoken
// words (tests/e2e/data/speech, rendered by tools/fixtures/audio/make_speech_fixtures.sh)
// through the real Whisper tiny.en encoder (and again from a feature cache of its tokens, with
// the same losses), then `xib ask --input audio=…` answers from the run; a corrupt or missing
// audio file is a clear error that names it.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "e2e_support.h"
#include "test_skip.h"
#include "test_support.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/model_cache.h"

using namespace xib;
using namespace xib::test;
using nlohmann::json;

namespace {

std::filesystem::path speech() { return std::filesystem::path(XIB_TEST_SOURCE_DIR_E2E) / "data/speech"; }

}  // namespace

TEST_CASE(
    "audio: xib run trains the audio aligner on speech, xib ask answers about a clip, bad clips are clear errors") {
#ifndef XIB_E2E_AUDIO_PLUGIN
  return skip_test("the audio plugin is not built (XIB_MEDIA_AUDIO off)");
#else
  const auto whisper = ModelCache::default_root() / "whisper-tiny-en-ct2/model.bin";
  if (!std::filesystem::exists(whisper)) return skip_missing_model(whisper, "whisper-tiny-en-ct2");
  TempDir dir;
  write_tiny_llama(dir / "lm", 11);
  json captions = json::array();
  int id = 0;
  for (const char* word : {"dog", "cat", "bird", "horse"}) {
    captions.push_back({{"audio", (speech() / fmt::format("{}.flac", word)).string()},
                        {"caption", fmt::format("a voice says {}", word)},
                        {"image_id", id++}});
  }
  std::ofstream(dir / "captions.json") << captions.dump();
  // Whisper's real encoder on 30-s windows, one segment per clip; a small Q-Former aligner.
  dir.write("train.yaml", R"(kind: train
model:
  llm: {plugin: llama, path: lm}
  modalities:
    audio:
      encoder: {type: whisper_tiny_en}
      aligner: {type: qformer, queries: 4, layers: 1, hidden: 32, heads: 2, ffn: 64}
data:
  train: [{reader: caption, path: captions.json, modality: audio, file_key: audio}]
  batch_size: 2
run: {out: run, steps: 3, warmup_steps: 1, threads: 2, lr: 1e-3}
)");
  const auto t = run_xib({"run", (dir / "train.yaml").string()});
  REQUIRE_MESSAGE(t.exit_code == 0, diagnose(t));
  const auto metrics = read_metrics(dir / "run");
  REQUIRE(metrics.size() == 3);

  // The same run from a feature cache of the Whisper tokens ([S, 1500, 384] per clip): the
  // cache is built first, and the losses are the uncached run's (the encoder's batches differ,
  // so equal to rounding).
  const auto c = run_xib({"run", (dir / "train.yaml").string(), "--set", "run.out=run_cached", "--set",
                          "run.feature_cache={path: features.h5, build: true}"});
  REQUIRE_MESSAGE(c.exit_code == 0, diagnose(c));
  CHECK(std::filesystem::exists(dir / "features.h5"));
  CHECK_MESSAGE(c.err.find("4 encoded") != std::string::npos, c.err);
  const auto cached = read_metrics(dir / "run_cached");
  REQUIRE(cached.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(cached[i]["loss"].get<double>() == doctest::Approx(metrics[i]["loss"].get<double>()).epsilon(1e-5));
  }

  const std::string run = (dir / "run").string();
  const auto r = run_xib({"ask", "--run", run, "--input", "audio=" + (speech() / "horse.flac").string(),
                          "what do you hear?", "--min-new-tokens", "2", "--max-new-tokens", "4", "--threads", "1"});
  REQUIRE_MESSAGE(r.exit_code == 0, diagnose(r));
  CHECK_MESSAGE(r.out.size() > 1, "'" << r.out << "'");
  const auto shorthand = run_xib({"ask", "--run", run, "--audio", (speech() / "cat.flac").string(), "--min-new-tokens",
                                  "1", "--max-new-tokens", "2", "--threads", "1"});
  CHECK_MESSAGE(shorthand.exit_code == 0, diagnose(shorthand));

  dir.write("broken.wav", std::string("RIFF\x24\x00\x00\x00WAVEfmt ", 16) + "this is not really a WAV file");
  const auto bad = run_xib({"ask", "--run", run, "--audio", (dir / "broken.wav").string(), "what?"});
  CHECK(bad.exit_code == 1);
  CHECK_MESSAGE(bad.err.find("broken.wav") != std::string::npos, bad.err);
  const auto missing = run_xib({"ask", "--run", run, "--audio", (dir / "nope.flac").string(), "what?"});
  CHECK(missing.exit_code == 1);
  CHECK_MESSAGE(missing.err.find("nope.flac") != std::string::npos, missing.err);
#endif
}
