// Audio files that must be refused (xib/media/audio_file.h): empty, garbage, text, truncated,
// impossible headers, too many channels, NaN samples, corrupt FLAC frames, a video without
// sound; missing and unreadable files; windows past the end; options out of range. Each error is
// of its type and names the file, from a path or from memory.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "sound_fixtures.h"
#include "test_skip.h"
#include "test_support.h"
#include "xib/error.h"
#include "xib/media/audio_file.h"

namespace fs = std::filesystem;
using namespace xib::media;
using xib::test::error_of;
using xib::test::sound;

namespace {

struct Bad {
  const char* name;
  const char* says;  ///< a phrase of the report
};

constexpr Bad kBad[] = {
    {"bad_empty.wav", "the file is empty"},
    {"bad_garbage.wav", "neither libsndfile nor libav"},
    {"bad_text.m4a", "moov atom not found"},
    {"bad_truncated_header.wav", "No 'data' chunk"},
    {"bad_header_only.wav", "decoded no frames"},
    {"bad_zero_channels.wav", "the audio has no channels"},
    {"bad_zero_rate.wav", "Invalid sample rate: 0"},
    {"bad_huge_rate.wav", "Invalid sample rate"},
    {"bad_many_channels.wav", "100 channels"},
    {"bad_corrupt.flac", "lost sync"},
    {"bad_vorbis_header.ogg", "libav:"},
    {"bad_nan.wav", "not numbers"},
    {"bad_video_only.mp4", "no audio stream"},
};

}  // namespace

TEST_CASE("read_audio: bad files are FormatErrors naming the file and saying what is wrong") {
  for (const Bad& b : kBad) {
    CAPTURE(b.name);
    const std::string report = error_of<xib::FormatError>([&] { read_audio(sound(b.name)); });
    CAPTURE(report);
    CHECK(report.find(sound(b.name).string()) != std::string::npos);
    CHECK(report.find(b.says) != std::string::npos);
    CHECK(report.find("hint:") != std::string::npos);
    // The same from memory, under the name given.
    const auto bytes = xib::test::file_bytes(sound(b.name));
    const std::string from_memory =
        error_of<xib::FormatError>([&] { decode_audio(bytes, {}, std::string("mem/") + b.name); });
    CHECK(from_memory.find(std::string("mem/") + b.name) != std::string::npos);
    CHECK(from_memory.find(b.says) != std::string::npos);
  }
}

TEST_CASE("read_audio: damaged streams decode what can be read, and no decoder prints anything") {
  // stderr into a file while every damaged and bad file is decoded (libav logs into the error
  // messages; libsndfile's mpg123 would print notes, which is why MP3 is libav's).
  xib::test::TempDir d;
  const fs::path log = d / "stderr.txt";
  std::fflush(stderr);
  const int saved = ::dup(2);
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(saved >= 0);
  REQUIRE(fd >= 0);
  ::dup2(fd, 2);
  ::close(fd);
  size_t damaged = 0;
  int refused = 0;
  try {
    damaged = read_audio(sound("damaged.mp3"), {.sample_rate = 0}).samples.size();
  } catch (const xib::Error&) {
  }
  std::vector<uint8_t> mp3_in_wav = xib::test::file_bytes(sound("speech_22k_mp3.wav"));
  for (size_t i = 600; i < 1000; ++i) mp3_in_wav[i] ^= static_cast<uint8_t>(i * 37);
  for (const Bad& b : kBad) {
    try {
      read_audio(sound(b.name));
    } catch (const xib::Error&) {
      ++refused;
    }
  }
  try {
    decode_audio(mp3_in_wav, {}, "damaged_mp3.wav");
  } catch (const xib::Error&) {
  }
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  CHECK(xib::test::read_file(log).empty());
  CHECK(refused == static_cast<int>(std::size(kBad)));
  CHECK(damaged > 15000);  // of 22050, those frames the garbage hit lost: 17327, as the ffmpeg command line
  CHECK(damaged < 22050);
}

TEST_CASE("read_audio: the refusal says what each decoder said") {
  const std::string garbage = error_of<xib::FormatError>([] { read_audio(sound("bad_garbage.wav")); });
  CHECK(garbage.find("libsndfile:") != std::string::npos);
  CHECK(garbage.find("not tried") != std::string::npos);  // no signature of a libsndfile format
  CHECK(garbage.find("libav:") != std::string::npos);
  CHECK(garbage.find("Invalid data") != std::string::npos);
  CHECK(garbage.find("2048 bytes starting e1 3b") != std::string::npos);
  const std::string header = error_of<xib::FormatError>([] { read_audio(sound("bad_header_only.wav")); });
  CHECK(header.find("libsndfile:  opened it (WAV") != std::string::npos);
  CHECK(header.find("libav:       wav / pcm_s16le: decoded no audio") != std::string::npos);
  // Limits are refused before decoding, whichever decoder read the header.
  const std::string zero = error_of<xib::FormatError>([] { read_audio(sound("bad_zero_channels.wav")); });
  CHECK(zero.find("Channel count is zero") != std::string::npos);  // libsndfile's word, kept
  CHECK(zero.find("0 channels (libav: wav") != std::string::npos);
}

TEST_CASE("read_audio: max_channels refuses more channels, and admits them when raised") {
  CHECK(error_of<xib::FormatError>([] { read_audio(sound("bad_many_channels.wav")); }).find("raise max_channels") !=
        std::string::npos);
  const Audio a = read_audio(sound("bad_many_channels.wav"), {.sample_rate = 0, .max_channels = 128});
  CHECK(a.source_channels == 100);
  CHECK(a.samples.size() == 10);  // 2000 bytes of 100 16-bit channels
  CHECK(error_of<xib::FormatError>([] {
          read_audio(sound("stereo_16k.wav"), {.max_channels = 1});
        }).find("2 channels") != std::string::npos);
}

TEST_CASE("read_audio: a missing file, a folder or a FIFO is an IoError naming it") {
  const fs::path missing = sound("nope.wav");
  const std::string r = error_of<xib::IoError>([&] { read_audio(missing); });
  CHECK(r.find("no such file") != std::string::npos);
  CHECK(r.find(missing.string()) != std::string::npos);
  CHECK(error_of<xib::IoError>([] { read_audio(xib::test::sound_dir()); }).find("a folder") != std::string::npos);
  xib::test::TempDir d;
  const fs::path fifo = d / "pipe.wav";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  CHECK(error_of<xib::IoError>([&] { read_audio(fifo); }).find("a FIFO") != std::string::npos);  // never blocks
}

TEST_CASE("read_audio: a file without read permission is an IoError with the reason") {
  if (::geteuid() == 0) return xib::test::skip_test("root reads every file: permissions cannot be tested");
  xib::test::TempDir d;
  const fs::path f = d / "locked.wav";
  fs::copy_file(sound("speech_16k.wav"), f);
  ::chmod(f.c_str(), 0);
  const std::string r = error_of<xib::IoError>([&] { read_audio(f); });
  CHECK(r.find("Permission denied") != std::string::npos);
  CHECK(r.find("locked.wav") != std::string::npos);
}

TEST_CASE("read_audio: a window that starts after the end of the clip is a UsageError saying the length") {
  for (const std::string name :
       {"speech_16k.wav", "speech_22k.flac", "video_flac.mkv", "speech_16k.m4a", "speech_22k.mp3"}) {
    CAPTURE(name);
    const std::string r = error_of<xib::UsageError>([&] { read_audio(sound(name), {.start_seconds = 3}); });
    CAPTURE(r);
    CHECK(r.find("the window starts after the end of the clip") != std::string::npos);
    CHECK(r.find(name) != std::string::npos);
    CHECK(r.find("start_seconds below 1.0") != std::string::npos);  // each clip lasts 1.0x s
  }
  // The header claims 4 GiB of data; the file holds 0.1 s, and the message says so.
  const std::string lie = error_of<xib::UsageError>([] { read_audio(sound("huge_length.wav"), {.start_seconds = 1}); });
  CHECK(lie.find("start_seconds below 0.100 s") != std::string::npos);
}

TEST_CASE("AudioReadOptions: values out of range are ConfigErrors naming the option") {
  const auto refused = [](const AudioReadOptions& o, const char* key) {
    const std::string r = error_of<xib::ConfigError>([&] { read_audio(sound("speech_16k.wav"), o); });
    CAPTURE(r);
    CHECK(r.find(key) != std::string::npos);
  };
  refused({.sample_rate = -1}, "sample_rate");
  refused({.sample_rate = 1'000'000}, "sample_rate");
  refused({.start_seconds = -1}, "start_seconds");
  refused({.start_seconds = NAN}, "start_seconds");
  refused({.start_seconds = 0.5, .end_seconds = 0.2}, "end_seconds");
  refused({.max_seconds = 0}, "max_seconds");
  refused({.max_seconds = INFINITY}, "max_seconds");
  refused({.max_channels = 0}, "max_channels");
  const std::vector<uint8_t> none;
  CHECK(error_of<xib::ConfigError>([&] { decode_audio(none, {.sample_rate = -5}, "x"); }).find("sample_rate") !=
        std::string::npos);
}
