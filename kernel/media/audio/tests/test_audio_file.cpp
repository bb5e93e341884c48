// Audio files (xib/media/audio_file.h) against decoders independent of xib (sounds/reference.json:
// sox, the ffmpeg command line, the WAVs before FLAC encoding; tools/fixtures/audio/
// make_sound_fixtures.sh): every format, the mean of the channels, resampling to 16 kHz (and
// against `sox rate -v`), the window and max_seconds, and memory decoding equal to file decoding.
// Bad files: test_audio_file_errors.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "sound_fixtures.h"
#include "xib/error.h"
#include "xib/media/audio_file.h"

using namespace xib::media;
using xib::test::sound;

namespace {

struct Clip {
  const char* name;
  const char* decoder;  ///< which library decodes it
  bool lossless;        ///< samples exact; else the length within one codec frame, RMS within 3 %
};

// Codec frames: MP3 1152 samples, AAC 1024 (+ the last frame's padding, which ffmpeg keeps too),
// Opus 20 ms, Vorbis up to 2048: lengths are compared within 2048 samples' worth (≤ 0.13 s at
// 16 kHz) for lossy codecs.
constexpr Clip kClips[] = {
    {"speech_16k.wav", "libsndfile", true},     {"speech_22k.flac", "libsndfile", true},
    {"speech_16k.ogg", "libav", false},         {"speech_16k.opus", "libav", false},
    {"speech_22k.mp3", "libav", false},         {"speech_22k_mp3.wav", "libav", false},
    {"speech_16k.m4a", "libav", false},         {"tone440_44k.wav", "libsndfile", true},
    {"tone1k_48k_f32.wav", "libsndfile", true}, {"tone1k_8k_pcm24.wav", "libsndfile", true},
    {"stereo_16k.wav", "libsndfile", true},     {"noise_16k.flac", "libsndfile", true},
    {"silence_16k.wav", "libsndfile", true},    {"video_aac.mp4", "libav", false},
    {"video_opus.webm", "libav", false},        {"video_flac.mkv", "libav", true},
};

Audio at_source_rate(const std::string& name, AudioReadOptions o = {}) {
  o.sample_rate = 0;
  return read_audio(sound(name), o);
}

}  // namespace

TEST_CASE("read_audio: every format decodes to its reference's rate, channels, length and loudness") {
  const auto& ref = xib::test::sound_reference()["clips"];
  REQUIRE(ref.size() == std::size(kClips));
  CHECK(at_source_rate("speech_22k_mp3.wav").decoder == "libav: wav / mp3float");  // MP3 in WAV: not libsndfile's
  for (const Clip& c : kClips) {
    CAPTURE(c.name);
    const auto& r = ref.at(c.name);
    const Audio a = at_source_rate(c.name);
    CHECK(a.decoder.rfind(c.decoder, 0) == 0);
    CHECK(a.source_channels == r["channels"].get<int64_t>());
    CHECK(a.sample_rate == a.source_rate);
    const double want_seconds = r["frames"].get<double>() / r["rate"].get<double>();
    if (c.lossless) {
      CHECK(a.source_rate == r["rate"].get<int64_t>());
      CHECK(static_cast<int64_t>(a.samples.size()) == r["frames"].get<int64_t>());
      CHECK(xib::test::rms(a.samples) == doctest::Approx(r["rms"].get<double>()).epsilon(1e-4));
    } else {
      CHECK(a.source_rate == r["rate"].get<int64_t>());
      CHECK(std::abs(a.seconds() - want_seconds) <= 2048.0 / static_cast<double>(a.sample_rate));
      CHECK(xib::test::rms(a.samples) == doctest::Approx(r["rms"].get<double>()).epsilon(0.03));
    }
    CHECK(std::all_of(a.samples.begin(), a.samples.end(), [](float v) { return v >= -1.0f && v <= 1.0f; }));
    CHECK_FALSE(a.truncated);
  }
}

TEST_CASE("read_audio: PCM and FLAC samples equal the independent reference exactly") {
  const auto& first = xib::test::sound_reference()["first_samples"];
  for (const std::string name : {"speech_16k.wav", "speech_22k.flac", "tone1k_8k_pcm24.wav", "tone1k_48k_f32.wav"}) {
    CAPTURE(name);
    const auto want = first.at(name)[0].get<std::vector<double>>();
    const Audio a = at_source_rate(name);
    REQUIRE(a.samples.size() >= want.size());
    for (size_t i = 0; i < want.size(); ++i) CHECK(a.samples[i] == static_cast<float>(want[i]));
  }
  // The libav path is exact too: FLAC in Matroska holds speech_16k.wav's samples.
  const Audio wav = at_source_rate("speech_16k.wav");
  const Audio mkv = at_source_rate("video_flac.mkv");
  CHECK(mkv.samples == wav.samples);
}

TEST_CASE("read_audio: stereo becomes the mean of its channels") {
  const auto& lr = xib::test::sound_reference()["first_samples"]["stereo_16k.wav"];
  const auto left = lr[0].get<std::vector<double>>(), right = lr[1].get<std::vector<double>>();
  const Audio a = at_source_rate("stereo_16k.wav");
  CHECK(a.source_channels == 2);
  for (size_t i = 0; i < left.size(); ++i) CHECK(a.samples[i] == static_cast<float>((left[i] + right[i]) / 2));
  // Left 440 Hz, right 1 kHz at half its amplitude: the mean holds both, in that ratio.
  const double a440 = xib::test::tone_amplitude(a.samples, 440, 16000);
  const double a1000 = xib::test::tone_amplitude(a.samples, 1000, 16000);
  CHECK(a440 > 0.1);
  CHECK(a440 / a1000 == doctest::Approx(2.0).epsilon(0.01));
  // The same through libav: the stereo tracks of the videos (identical channels) keep their level.
  const Audio mp4 = at_source_rate("video_aac.mp4");
  CHECK(mp4.source_channels == 2);
  CHECK(xib::test::tone_amplitude(mp4.samples, 440, 44100) == doctest::Approx(0.5).epsilon(0.03));
}

TEST_CASE("read_audio: 44.1, 48 and 8 kHz to 16 kHz keep the length and the tone") {
  struct Case {
    const char* name;
    double hz;
    int64_t source_frames;
    int64_t source_rate;
  };
  for (const Case& c : {Case{"tone440_44k.wav", 440, 22050, 44100}, Case{"tone1k_48k_f32.wav", 1000, 12000, 48000},
                        Case{"tone1k_8k_pcm24.wav", 1000, 4000, 8000}}) {
    CAPTURE(c.name);
    const Audio a = read_audio(sound(c.name));
    CHECK(a.sample_rate == 16000);
    CHECK(a.source_rate == c.source_rate);
    const auto want = std::llround(static_cast<double>(c.source_frames) * 16000.0 / static_cast<double>(c.source_rate));
    CHECK(static_cast<int64_t>(a.samples.size()) == want);
    CHECK(a.seconds() == doctest::Approx(static_cast<double>(c.source_frames) / c.source_rate).epsilon(1e-4));
    // A sine crosses zero twice a period; its amplitude (0.5) is kept and no other tone appears.
    const double periods = c.hz * a.seconds();
    CHECK(std::abs(xib::test::zero_crossings(a.samples) - 2 * periods) <= 2);
    CHECK(xib::test::tone_amplitude(a.samples, c.hz, 16000) == doctest::Approx(0.5).epsilon(0.01));
    CHECK(xib::test::tone_amplitude(a.samples, c.hz * 1.5, 16000) < 0.01);
  }
  // Lossy and libav files resample too.
  for (const std::string name : {"speech_22k.mp3", "video_opus.webm", "video_aac.mp4"}) {
    CAPTURE(name);
    const Audio src = at_source_rate(name);
    const Audio a = read_audio(sound(name));
    CHECK(a.sample_rate == 16000);
    CHECK(static_cast<int64_t>(a.samples.size()) ==
          std::llround(static_cast<double>(src.samples.size()) * 16000.0 / static_cast<double>(src.source_rate)));
  }
}

TEST_CASE("read_audio: resampling agrees with sox's very-high-quality rate effect") {
  // libsoxr HQ (20-bit precision, passband to 91 % of Nyquist) against sox `rate -v` (libsoxr's
  // algorithm at 28-bit precision, passband to 95 %), both linear phase, on the 440 Hz tone, deep
  // inside both passbands. Inside the clip they must agree to below half a step of the 16-bit
  // input (1.5e-5: the two filters' passband ripple and stopband leakage are far smaller; measured
  // 6.4e-6). At the two edges (3 ms each) the clip's abrupt end spreads energy over the whole band,
  // where the filters' transition bands differ: 1e-4 there (measured 1.8e-5).
  const auto want = xib::test::read_f32(sound("tone440_44k_to_16k.sox.f32"));
  const Audio a = read_audio(sound("tone440_44k.wav"));
  REQUIRE(a.samples.size() == want.size());
  double inner = 0, edge = 0;
  const size_t margin = 48;  // 3 ms at 16 kHz
  for (size_t i = 0; i < want.size(); ++i) {
    const double d = std::abs(static_cast<double>(a.samples[i]) - want[i]);
    double& worst = i < margin || i + margin >= want.size() ? edge : inner;
    worst = std::max(worst, d);
  }
  MESSAGE("largest difference from sox: " << inner << " inside, " << edge << " at the edges");
  CHECK(inner < 1.5e-5);
  CHECK(edge < 1e-4);
}

TEST_CASE("resample: libsoxr lengths, the identity, and rates out of range") {
  std::vector<float> x(1000);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>(0.5 * std::sin(2 * std::numbers::pi * 300 * i / 22050.0));
  CHECK(resample(x, 22050, 22050) == x);
  CHECK(resample(x, 22050, 16000).size() == 726);   // round(1000 × 16000 / 22050) = round(725.6)
  CHECK(resample(x, 16000, 44100).size() == 2756);  // round(2756.25)
  CHECK(resample(std::span<const float>(x.data(), 1), 22050, 16000).size() == 1);
  CHECK(resample({}, 44100, 16000).empty());
  const auto up = resample(x, 22050, 48000);
  CHECK(xib::test::tone_amplitude(std::span<const float>(up).subspan(200, 1777), 300, 48000) ==
        doctest::Approx(0.5).epsilon(0.02));
  for (auto [from, to] : {std::pair<int64_t, int64_t>{0, 16000}, {16000, -1}, {16000, 1'000'000}}) {
    CHECK(xib::test::error_of<xib::UsageError>([&] { resample(x, from, to); }).find("out of range") !=
          std::string::npos);
  }
}

TEST_CASE("read_audio: the window cuts from start to end exactly, by seeking or by decoding up to it") {
  // libsndfile seeks (WAV, FLAC); libav decodes from the start and drops what precedes the
  // window (Matroska FLAC, MP3, AAC).
  for (const std::string name : {"speech_16k.wav", "speech_22k.flac", "video_flac.mkv", "tone1k_8k_pcm24.wav",
                                 "speech_22k.mp3", "speech_16k.m4a"}) {
    CAPTURE(name);
    const Audio whole = at_source_rate(name);
    const auto rate = static_cast<double>(whole.source_rate);
    const auto at = [&](double s) { return static_cast<std::ptrdiff_t>(std::llround(s * rate)); };
    const Audio mid = at_source_rate(name, {.start_seconds = 0.25, .end_seconds = 0.4});
    CHECK(std::vector<float>(whole.samples.begin() + at(0.25), whole.samples.begin() + at(0.4)) == mid.samples);
    const Audio tail = at_source_rate(name, {.start_seconds = 0.3});
    CHECK(std::vector<float>(whole.samples.begin() + at(0.3), whole.samples.end()) == tail.samples);
    const Audio past_end = at_source_rate(name, {.start_seconds = 0.3, .end_seconds = 50});
    CHECK(past_end.samples == tail.samples);
    const Audio capped = at_source_rate(name, {.start_seconds = 0.1, .max_seconds = 0.2});
    CHECK(std::vector<float>(whole.samples.begin() + at(0.1), whole.samples.begin() + at(0.3)) == capped.samples);
    CHECK(capped.truncated);
    const Audio cut_by_end = at_source_rate(name, {.start_seconds = 0.1, .end_seconds = 0.3, .max_seconds = 0.5});
    CHECK(cut_by_end.samples == capped.samples);
    CHECK_FALSE(cut_by_end.truncated);
  }
  // Resampled windows: the window is cut at the file's rate, then resampled.
  const Audio w = read_audio(sound("tone440_44k.wav"), {.start_seconds = 0.1, .end_seconds = 0.35});
  CHECK(w.samples.size() == 4000);
  CHECK(xib::test::tone_amplitude(std::span<const float>(w.samples).subspan(100, 3800), 440, 16000) ==
        doctest::Approx(0.5).epsilon(0.01));
  // Lossy formats: windows of the right length.
  for (const std::string name :
       {"speech_16k.ogg", "speech_16k.opus", "speech_22k.mp3", "speech_16k.m4a", "video_opus.webm", "video_aac.mp4"}) {
    CAPTURE(name);
    const Audio a = read_audio(sound(name), {.start_seconds = 0.1, .end_seconds = 0.4});
    CHECK(a.samples.size() == 4800);
  }
}

TEST_CASE("read_audio: max_seconds bounds decoding, whatever the header claims") {
  const Audio a = read_audio(sound("speech_16k.wav"), {.max_seconds = 0.25});
  CHECK(a.samples.size() == 4000);
  CHECK(a.truncated);
  CHECK_FALSE(read_audio(sound("speech_16k.wav"), {.max_seconds = 1.0}).truncated);  // exactly the clip
  CHECK_FALSE(read_audio(sound("speech_16k.wav"), {.max_seconds = 5}).truncated);
  // The data chunk claims 4 GiB; 1600 frames are there: those are decoded, nothing more is allocated.
  const Audio huge = at_source_rate("huge_length.wav");
  const Audio speech = at_source_rate("speech_16k.wav");
  REQUIRE(huge.samples.size() == 1600);
  CHECK(std::equal(huge.samples.begin(), huge.samples.end(), speech.samples.begin()));
  // Cut after 1000 of its frames: those 1000.
  const Audio cut = at_source_rate("truncated_data.wav");
  REQUIRE(cut.samples.size() == 1000);
  CHECK(std::equal(cut.samples.begin(), cut.samples.end(), speech.samples.begin()));
}

TEST_CASE("decode_audio: bytes in memory decode exactly as the file does") {
  for (const Clip& c : kClips) {
    CAPTURE(c.name);
    const auto bytes = xib::test::file_bytes(sound(c.name));
    const Audio mem = decode_audio(bytes, {}, c.name);
    const Audio file = read_audio(sound(c.name));
    CHECK(mem.samples == file.samples);
    CHECK(mem.sample_rate == file.sample_rate);
    CHECK(mem.source_rate == file.source_rate);
    CHECK(mem.source_channels == file.source_channels);
    CHECK(mem.decoder == file.decoder);
  }
  const auto bytes = xib::test::file_bytes(sound("speech_22k.flac"));
  const Audio w = decode_audio(bytes, {.sample_rate = 0, .start_seconds = 0.5, .end_seconds = 0.6}, "x.flac");
  CHECK(w.samples.size() == 2205);
}

TEST_CASE("read_audio: float samples beyond full scale are clipped to full scale, resampled or not") {
  // 100 × 0.1, then 100 pairs of ±1e30, then 100 × 3.0 (a float WAV; once NaN after resampling).
  for (const int64_t rate : {0, 8000, 44100}) {
    CAPTURE(rate);
    const Audio a = read_audio(sound("loud_float.wav"), {.sample_rate = rate});
    REQUIRE(!a.samples.empty());
    CHECK(std::all_of(a.samples.begin(), a.samples.end(), [](float v) { return v >= -1.0f && v <= 1.0f; }));
    if (rate == 0) {
      CHECK(a.samples[0] == 0.1f);
      CHECK(a.samples[100] == 1.0f);
      CHECK(a.samples[101] == -1.0f);
      CHECK(a.samples[399] == 1.0f);
    }
  }
}

TEST_CASE("read_audio: silence decodes to zeros, and seconds() is the length") {
  const Audio a = read_audio(sound("silence_16k.wav"));
  CHECK(a.samples.size() == 4000);
  CHECK(a.seconds() == doctest::Approx(0.25));
  CHECK(std::all_of(a.samples.begin(), a.samples.end(), [](float v) { return v == 0.0f; }));
  CHECK(Audio{}.seconds() == 0.0);
}
