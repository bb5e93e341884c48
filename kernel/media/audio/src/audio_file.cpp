// Audio files (xib/media/audio_file.h): the options, the byte source, and the choice between
// libsndfile and libav with the error that names what each of them said.
#include "xib/media/audio_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "audio_decode.h"
#include "xib/error.h"
#include "xib/files.h"

namespace xib::media {

void AudioReadOptions::validate(Validator& v) const {
  constexpr double kMaxStart = 1e7;  // about 116 days
  v.require(sample_rate >= 0 && sample_rate <= kMaxAudioSampleRate, "sample_rate",
            fmt::format("0 (the file's rate) or 1 … {} Hz", kMaxAudioSampleRate), sample_rate);
  v.require(std::isfinite(start_seconds) && start_seconds >= 0 && start_seconds <= kMaxStart, "start_seconds",
            "0 … 1e7 seconds", start_seconds);
  v.require(
      std::isfinite(end_seconds) && (end_seconds == 0 || (end_seconds > start_seconds && end_seconds <= kMaxStart)),
      "end_seconds", "0 (the end of the clip) or after start_seconds", end_seconds);
  v.require(std::isfinite(max_seconds) && max_seconds > 0 && max_seconds <= 1e6, "max_seconds", "0 < seconds ≤ 1e6",
            max_seconds);
  v.require(max_channels >= 1 && max_channels <= 1024, "max_channels", "1 … 1024", max_channels);
}

double Audio::seconds() const {
  return sample_rate > 0 ? static_cast<double>(samples.size()) / static_cast<double>(sample_rate) : 0.0;
}

namespace audio_detail {

ByteSource::ByteSource(const std::filesystem::path& file) {
  if (auto why = unreadable_reason(file)) {
    throw IoError({.what = "cannot read the audio file",
                   .where = file.string(),
                   .expected = "a readable audio file",
                   .got = *why,
                   .hint = "check the path and the file's permissions"});
  }
  fd_ = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd_ < 0 || ::fstat(fd_, &st) != 0) {
    const int e = errno;
    if (fd_ >= 0) ::close(fd_);
    throw IoError({.what = "cannot read the audio file",
                   .where = file.string(),
                   .got = std::strerror(e),
                   .hint = "check the file's permissions"});
  }
  size_ = static_cast<int64_t>(st.st_size);
}

ByteSource::ByteSource(std::span<const uint8_t> bytes)
    : data_(bytes.data()), size_(static_cast<int64_t>(bytes.size())) {}

ByteSource::~ByteSource() {
  if (fd_ >= 0) ::close(fd_);
}

bool ByteSource::seek(int64_t pos) {
  if (pos < 0 || pos > size_) return false;
  pos_ = pos;
  return true;
}

int64_t ByteSource::read(void* out, int64_t n) {
  n = std::clamp<int64_t>(n, 0, size_ - pos_);
  if (n == 0) return 0;
  if (fd_ < 0) {
    std::memcpy(out, data_ + pos_, static_cast<size_t>(n));
    pos_ += n;
    return n;
  }
  int64_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd_, static_cast<char*>(out) + got, static_cast<size_t>(n - got), pos_ + got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      io_error_ = std::strerror(errno);
      return -1;
    }
    if (r == 0) {  // the file shrank while being read
      io_error_ = "the file became shorter while it was read";
      return -1;
    }
    got += r;
  }
  pos_ += got;
  return got;
}

std::vector<uint8_t> ByteSource::head(int64_t n) {
  const int64_t keep = pos_;
  std::vector<uint8_t> out(static_cast<size_t>(std::clamp<int64_t>(n, 0, size_)));
  pos_ = 0;
  const int64_t got = read(out.data(), static_cast<int64_t>(out.size()));
  out.resize(static_cast<size_t>(std::max<int64_t>(got, 0)));
  pos_ = keep;
  return out;
}

namespace {

std::string describe_start(std::span<const uint8_t> b, int64_t size) {
  std::string hex;
  for (size_t i = 0; i < std::min<size_t>(b.size(), 12); ++i) hex += fmt::format("{:02x} ", b[i]);
  std::string text;
  for (size_t i = 0; i < std::min<size_t>(b.size(), 12); ++i) text += std::isprint(b[i]) ? char(b[i]) : '.';
  return fmt::format("{} bytes starting {}(\"{}\")", size, hex, text);
}

void check_io(const ByteSource& src, std::string_view name) {
  if (!src.io_error().empty()) {
    throw IoError({.what = "cannot read the audio file", .where = std::string(name), .got = src.io_error()});
  }
}

Audio decode(ByteSource& src, const AudioReadOptions& options, std::string_view name) {
  {
    Validator v(ConfigSection{});
    options.validate(v);
    v.finish();
  }
  const std::string where(name);
  if (src.size() == 0) {
    throw FormatError({.what = "cannot decode audio: the file is empty",
                       .where = where,
                       .expected = "an audio file",
                       .got = "0 bytes",
                       .hint = "the file was not written completely; fetch or render it again"});
  }
  const std::vector<uint8_t> head = src.head(16);
  check_io(src, name);
  AudioSink sink(options, name);
  std::string sndfile_said = "not tried: no WAV, AIFF, FLAC, AU or CAF signature (or a WAV holding MPEG audio)";
  if (sndfile_reads(src)) {
    Attempt a = decode_with_sndfile(src, sink);
    check_io(src, name);
    if (a.decoded) return sink.finish();
    sndfile_said = std::move(a.said);
  }
  Attempt a;
  try {
    a = decode_with_libav(src, sink);
  } catch (const FormatError& e) {  // definitive (limits, no audio stream): add libsndfile's word
    check_io(src, name);
    ErrorInfo info = e.info();
    info.details.insert(info.details.begin(), {"libsndfile", sndfile_said});
    throw FormatError(std::move(info));
  }
  check_io(src, name);
  if (a.decoded) return sink.finish();
  throw FormatError({.what = "cannot decode audio: neither libsndfile nor libav reads this file",
                     .where = where,
                     .expected = "audio libsndfile (WAV, FLAC, AIFF, …) or libav (MP3, Ogg Vorbis/Opus, "
                                 "M4A/AAC, MP4, MKV/WebM, AVI, …) decodes",
                     .got = describe_start(head, src.size()),
                     .hint = "the file is corrupt, truncated or not audio: check it with `ffprobe FILE`, or "
                             "re-encode it (`ffmpeg -i FILE out.flac`)",
                     .details = {{"libsndfile", sndfile_said}, {"libav", a.said}}});
}

}  // namespace

}  // namespace audio_detail

Audio read_audio(const std::filesystem::path& file, const AudioReadOptions& options) {
  audio_detail::ByteSource src(file);
  return audio_detail::decode(src, options, file.string());
}

Audio decode_audio(std::span<const uint8_t> bytes, const AudioReadOptions& options, std::string_view name) {
  audio_detail::ByteSource src(bytes);
  return audio_detail::decode(src, options, name);
}

}  // namespace xib::media
