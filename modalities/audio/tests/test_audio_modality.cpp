// The audio Modality from a recipe section: processor, encoder and its own aligner over a
// sequence of segments; the plugin registers it with its prompts and encoders.
#include <torch/torch.h>

#include <filesystem>

#include "audio_modality.h"
#include "audio_prompts.h"
#include "test_support.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/aligner.h"
#include "xib/assembly.h"
#include "xib/error.h"
#include "xib/prompts.h"

namespace fs = std::filesystem;
using namespace xib;

namespace {

ConfigSection section(const std::string& yaml) {
  auto src = ConfigSource::from_string(yaml, "test.yaml", fs::path(XIB_AUDIO_TEST_DATA));
  return src->section("audio");
}

ModalityContext context(int64_t llm_width) { return {.name = "audio", .llm_width = llm_width}; }

fs::path speech(const char* word) {
  return test::source_dir() / "tests/e2e/data/speech" / (std::string(word) + ".flac");
}

}  // namespace

TEST_CASE("audio modality: a clip becomes segments, tokens per segment, 4 aligner tokens per segment") {
  audio::AudioModality m(context(16), section(R"(
audio:
  encoder: {type: beats, random_init: true, beats: {layers: 1, width: 32, heads: 2, ffn: 64, embed_dim: 24, conv_pos: 8, conv_pos_groups: 4}}
  aligner: {type: linear, queries: 4, hidden: 8}
)"));
  CHECK(m.name() == "audio");
  CHECK(m.cue() == " audio: ");
  CHECK(m.is_sequence());
  const torch::Tensor x = m.processor().load(speech("dog"), true);
  REQUIRE(x.sizes() == torch::IntArrayRef{2, 512, 128});
  const torch::Tensor tokens = m.encoder().encode(x);  // the segments as a batch
  REQUIRE(tokens.sizes() == torch::IntArrayRef{2, 256, 32});
  CHECK(m.aligner().input_width() == 32);
  const std::vector<std::string> instr = {"what do you hear?"};
  const torch::Tensor aligned = align_modality(m.aligner(), tokens.unsqueeze(0), true, instr);
  CHECK(aligned.sizes() == torch::IntArrayRef{1, 8, 16});  // 2 segments × 4 queries
}

TEST_CASE("audio modality: Whisper tiny.en sizes, the recipe's cue, and no aligner without an LLM") {
  audio::AudioModality m(context(0), section(R"(
audio:
  encoder: {type: whisper_tiny_en, random_init: true}
  processor: {segment_frames: 400}
  cue: " sound: "
)"));
  CHECK(m.cue() == " sound: ");
  const torch::Tensor x = m.processor().load(speech("cat"), false);  // 0.9 s: one 4-s window
  REQUIRE(x.sizes() == torch::IntArrayRef{1, 80, 400});
  CHECK(m.encoder().encode(x).sizes() == torch::IntArrayRef{1, 200, 384});
  CHECK_THROWS_AS(m.aligner(), ConfigError);
  CHECK(audio::audio_prompts().templates.at("qa").front() == "{question}");
}

TEST_CASE("audio modality: recipe mistakes are ConfigErrors naming the key") {
  auto report = [](const std::string& yaml) -> std::string {
    try {
      audio::AudioModality m(context(16), section(yaml));
    } catch (const Error& e) {
      return std::string(e.kind()) + ": " + e.report();
    }
    return "no error";
  };
  CHECK(report("audio: {encoder: {type: whisper_tiny}}").find("whisper_tiny_en") != std::string::npos);
  CHECK(report("audio: {encoder: {type: beats}}").find("encoder.weights") != std::string::npos);  // no file
  CHECK(report("audio: {processor: {eval_segments: some}}").find("eval_segments") != std::string::npos);
  CHECK(report("audio: {processor: {end_seconds: 1, start_seconds: 2}}").find("end_seconds") != std::string::npos);
  CHECK(report("audio: {processor: {sample_rate: 10}}").find("sample_rate") != std::string::npos);
  CHECK(report("audio: {encoder: {random_init: true, whisper: {width: 100}}}").find("width") != std::string::npos);
  CHECK(report("audio: {encoder: {type: beats, random_init: true, beats: {deep_norm: true, layer_norm_first: true}}}")
            .find("deep_norm") != std::string::npos);
  CHECK(report("audio: {encoder: {random_init: true, wieghts: x}}").find("wieghts") != std::string::npos);
}
