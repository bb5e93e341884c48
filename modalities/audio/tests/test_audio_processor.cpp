// The audio processor: BEATs' front end (× 2^15, Kaldi fbank, normalised) against torchaudio's
// fbank and Whisper's against transformers' feature extractor (the media library's fixtures,
// tools/fixtures/audio/), cut into segments as upstream; files of every container decode to
// the same segments; the recipe's window; bad files are FormatErrors naming the file.
#include <torch/torch.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "audio_processor.h"
#include "tensor_fixtures.h"
#include "test_support.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/error.h"
#include "xib/media/fbank.h"

namespace fs = std::filesystem;
using namespace xib;
using namespace xib::audio;

namespace {

fs::path media_data() { return test::source_dir() / "kernel/media/audio/tests/data"; }
fs::path speech_dir() { return test::source_dir() / "tests/e2e/data/speech"; }

std::vector<float> floats(const at::Tensor& t) {
  const at::Tensor c = t.to(torch::kFloat32).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

EncoderOptions encoder(const std::string& type) {
  EncoderOptions e;
  e.type = type;
  return e;
}

/// A 16-bit PCM mono WAV of `n` samples of a 440 Hz tone at `rate`.
fs::path write_tone_wav(const fs::path& file, int64_t n, int rate) {
  std::string bytes = "RIFF";
  auto u32 = [&](uint32_t v) { bytes.append(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&](uint16_t v) { bytes.append(reinterpret_cast<const char*>(&v), 2); };
  u32(static_cast<uint32_t>(36 + 2 * n));
  bytes += "WAVEfmt ";
  u32(16);
  u16(1);
  u16(1);
  u32(static_cast<uint32_t>(rate));
  u32(static_cast<uint32_t>(2 * rate));
  u16(2);
  u16(16);
  bytes += "data";
  u32(static_cast<uint32_t>(2 * n));
  for (int64_t i = 0; i < n; ++i) {
    u16(static_cast<uint16_t>(static_cast<int16_t>(8000 * std::sin(2 * M_PI * 440.0 * static_cast<double>(i) / rate))));
  }
  std::ofstream(file, std::ios::binary) << bytes;
  return file;
}

}  // namespace

TEST_CASE("audio processor: BEATs segments hold torchaudio's normalised fbank, zero-padded (2 in training)") {
  const auto ref = test::read_tensor_file(media_data() / "fbank.safetensors");
  for (const char* signal : {"speech", "tones", "clipped", "short"}) {
    CAPTURE(signal);
    const std::vector<float> x = floats(ref.at(std::string("signal.") + signal));
    const at::Tensor want =
        (ref.at(fmt::format("beats.{}.torchaudio64", signal)) - media::kBeatsFbankMean) / (2 * media::kBeatsFbankStd);
    const AudioProcessor p({}, encoder("beats"));
    int64_t s = 0;
    const std::vector<float> got = p.features(x, true, s, signal);
    CHECK(s == 2);
    const at::Tensor segs = torch::from_blob(const_cast<float*>(got.data()), {s, 512, 128}, torch::kFloat32);
    const int64_t n = want.size(0);
    CHECK(test::compare(segs[0].narrow(0, 0, n), want, 0, 1e-4) == "");
    CHECK(segs[0].narrow(0, n, 512 - n).abs().max().item<float>() == 0.0f);  // zero-padded
    CHECK(segs[1].abs().max().item<float>() == 0.0f);
    s = 0;
    CHECK(p.features(x, false, s, signal).size() == 512u * 128);  // evaluation: every segment: one here
    CHECK(s == 1);
  }
}

TEST_CASE("audio processor: Whisper windows are transformers' log-mel of the 30-s window") {
  const auto ref = test::read_tensor_file(media_data() / "whisper_mel.safetensors");
  const auto sig = test::read_tensor_file(media_data() / "fbank.safetensors");
  const AudioProcessor p({}, encoder("whisper_tiny_en"));
  CHECK(p.segment_shape() == std::vector<int64_t>{80, 3000});
  int64_t s = 0;
  const std::vector<float> got = p.features(floats(sig.at("signal.speech")), true, s, "speech");
  REQUIRE(s == 1);
  const at::Tensor mel = torch::from_blob(const_cast<float*>(got.data()), {80, 3000}, torch::kFloat32);
  CHECK(test::compare(mel.narrow(1, 0, 100), ref.at("speech.padded_head"), 0, 1e-4) == "");
  // 65 s of audio: three windows in evaluation, one in training.
  const std::vector<float> long_clip(65 * 16000, 0.01f);
  CHECK(p.features(long_clip, false, s, "long").size() == 3u * 80 * 3000);
  CHECK(s == 3);
  CHECK(p.features(long_clip, true, s, "long").size() == 80u * 3000);
}

TEST_CASE("audio processor: every container decodes to the clip's segments, with the recipe's window") {
  test::TempDir tmp;
  AudioProcessor beats({}, encoder("beats"));
  // Spoken words (FLAC) and the media library's sounds in other containers and rates.
  for (const fs::path& f : {speech_dir() / "dog.flac", media_data() / "sounds/speech_22k.mp3",
                            media_data() / "sounds/speech_16k.m4a", media_data() / "sounds/stereo_16k.wav"}) {
    CAPTURE(f);
    const at::Tensor t = beats.load(f, true);
    CHECK(t.sizes() == torch::IntArrayRef{2, 512, 128});
    CHECK(t[0][0].abs().sum().item<float>() > 0);
  }
  // 7 s at 22.05 kHz: resampled to 16 kHz, 698 fbank frames → 2 segments in evaluation; a
  // 2-to-3-s window of it is 1 segment whose frames end after 198.
  const fs::path tone = write_tone_wav(tmp / "tone.wav", 7 * 22050, 22050);
  CHECK(beats.load(tone, false).sizes() == torch::IntArrayRef{2, 512, 128});
  ProcessorOptions window;
  window.start_seconds = 2;
  window.end_seconds = 4;
  const at::Tensor w = AudioProcessor(window, encoder("beats")).load(tone, false);
  REQUIRE(w.sizes() == torch::IntArrayRef{1, 512, 128});
  CHECK(w[0][197].abs().sum().item<float>() > 0);
  CHECK(w[0][198].abs().sum().item<float>() == 0.0f);
  ProcessorOptions fixed;
  fixed.eval_segments = "fixed";
  fixed.segments = 3;
  CHECK(AudioProcessor(fixed, encoder("beats")).load(tone, false).sizes() == torch::IntArrayRef{3, 512, 128});
  ProcessorOptions quirk;
  quirk.upstream_tail_quirk = true;  // 698 frames + 186 = 884 → 1 segment: the tail is dropped
  CHECK(AudioProcessor(quirk, encoder("beats")).load(tone, false).sizes() == torch::IntArrayRef{1, 512, 128});
  const fs::path blip = write_tone_wav(tmp / "blip.wav", 1600, 16000);  // 0.1 s: 8 frames
  CHECK_THROWS_AS(AudioProcessor(quirk, encoder("beats")).load(blip, false), FormatError);
  CHECK(beats.load(blip, false).sizes() == torch::IntArrayRef{1, 512, 128});
  CHECK(AudioProcessor({}, encoder("whisper_tiny_en")).load(tone, false).sizes() == torch::IntArrayRef{1, 80, 3000});
}

TEST_CASE("audio processor: undecodable files are FormatErrors naming the file, missing ones IoErrors") {
  AudioProcessor p({}, encoder("beats"));
  for (const char* bad : {"bad_garbage.wav", "bad_empty.wav", "bad_zero_channels.wav", "bad_truncated_header.wav",
                          "bad_nan.wav", "bad_video_only.mp4"}) {
    CAPTURE(bad);
    try {
      p.load(media_data() / "sounds" / bad, true);
      FAIL("no error");
    } catch (const FormatError& e) {
      CHECK(e.report().find(bad) != std::string::npos);
    }
  }
  CHECK_THROWS_AS(p.load(media_data() / "sounds/nope.wav", true), IoError);
  CHECK(p.config()["segment_frames"] == 512);
  CHECK(p.config()["encoder"] == "beats");
}

TEST_CASE("audio processor: segments must fit the encoder") {
  ProcessorOptions o;
  o.segment_frames = 500;  // not whole 16-frame patches
  CHECK_THROWS_AS(AudioProcessor(o, encoder("beats")), ConfigError);
  o.segment_frames = 3002;  // longer than Whisper's 1500 positions allow
  CHECK_THROWS_AS(AudioProcessor(o, encoder("whisper_tiny_en")), ConfigError);
}
