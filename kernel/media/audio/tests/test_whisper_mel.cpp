// Whisper's log-mel front end (xib/media/whisper_mel.h) against transformers'
// WhisperFeatureExtractor (fixtures: tools/fixtures/audio/make_whisper_mel_fixtures.py) on
// speech, tones, silence, clipping, very short clips and a clip longer than the 30-s window,
// padded to the window and trimmed; and bad input.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audio_fixtures.h"
#include "test_support.h"
#include "xib/error.h"
#include "xib/io/safetensors.h"
#include "xib/media/whisper_mel.h"

namespace fs = std::filesystem;
using xib::media::WhisperMel;

namespace {

fs::path data_dir() { return xib::test::audio_data_dir(); }

}  // namespace

TEST_CASE("whisper log-mel: equals transformers' WhisperFeatureExtractor within 1e-4, padded and trimmed") {
  const auto waves = xib::test::read_audio_arrays("fbank.safetensors");
  const auto want = xib::test::read_audio_arrays("whisper_mel.safetensors");
  const auto doc = nlohmann::json::parse(xib::test::read_file(data_dir() / "whisper_mel.json"));
  double worst = 0;
  int checked = 0;
  for (const auto& [name, entry] : doc["signals"].items()) {
    CAPTURE(name);
    std::vector<float> x;
    if (name == "long") {  // 31 s of a 440 Hz tone, as the fixture script makes it
      for (int i = 0; i < 31 * 16000; ++i)
        x.push_back(static_cast<float>(0.3 * std::sin(2 * M_PI * 440 * i / 16000.0)));
    } else {
      x = waves.at("signal." + name).values;
    }
    const WhisperMel m = xib::media::whisper_log_mel(x);
    REQUIRE(m.n_mels == 80);
    REQUIRE(m.frames == 3000);
    const auto& head = want.at(name + ".padded_head").values;
    const auto& last = want.at(name + ".padded_last").values;
    double sum = 0;
    for (int64_t b = 0; b < 80; ++b) {
      for (int64_t t = 0; t < 3000; ++t) sum += m.at(b, t);
      for (int64_t t = 0; t < 100; ++t) {
        const double d = std::abs(m.at(b, t) - head[static_cast<size_t>(b * 100 + t)]);
        worst = std::max(worst, d);
        CHECK_MESSAGE(d <= 1e-4, "mel " << b << ", frame " << t);
      }
      CHECK(std::abs(m.at(b, 2999) - last[static_cast<size_t>(b)]) <= 1e-4);
    }
    CHECK(sum == doctest::Approx(entry["padded_sum"].get<double>()).epsilon(1e-6));
    if (entry.contains("trimmed_frames")) {
      const WhisperMel t = xib::media::whisper_log_mel(x, {.chunk_seconds = 0});
      const auto& w = want.at(name + ".trimmed").values;
      REQUIRE(t.frames == entry["trimmed_frames"].get<int64_t>());
      REQUIRE(t.values.size() == w.size());
      for (size_t i = 0; i < w.size(); ++i) {
        const double d = std::abs(t.values[i] - w[i]);
        worst = std::max(worst, d);
        CHECK_MESSAGE(d <= 1e-4, i);
      }
    }
    ++checked;
  }
  CHECK(checked == 9);
  MESSAGE(fmt::format("{} signals, max |xib − transformers| = {:.2e}", checked, worst));
}

TEST_CASE("whisper log-mel: bad options and clips are clear errors") {
  CHECK_THROWS_AS(xib::media::whisper_log_mel(std::vector<float>(100, 0.0f), {.chunk_seconds = 0}), xib::UsageError);
  std::vector<float> nan(1000, 0.0f);
  nan[3] = std::nanf("");
  CHECK_THROWS_AS(xib::media::whisper_log_mel(nan), xib::UsageError);
  CHECK_THROWS_AS(xib::media::whisper_log_mel(nan, {.n_mels = 0}), xib::ConfigError);
  CHECK_THROWS_AS(xib::media::whisper_log_mel(nan, {.hop_length = 0}), xib::ConfigError);
  CHECK_THROWS_AS(xib::media::whisper_log_mel(nan, {.chunk_seconds = -1}), xib::ConfigError);
}
