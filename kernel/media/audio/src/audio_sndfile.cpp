// libsndfile through its virtual I/O over a ByteSource (audio_decode.h): WAV (and RF64, Wave64),
// AIFF, FLAC, AU, CAF. Only content that starts like one of these is given to it (libsndfile also
// guesses headerless and obscure formats, which would turn junk into noise), and only these major
// formats are accepted once it has opened the file. Two of its formats go to libav instead, both
// found by the `wav` fuzz target:
//   Ogg (Vorbis, Opus)  libsndfile 1.2.0 leaks the Vorbis decoder's setup (vorbis_info_init)
//                       whenever a Vorbis header is malformed or cut short (ogg_vorbis_open
//                       returns before it installs its close function);
//   MPEG audio (MP3, and WAV files holding MP3)  libsndfile's mpg123 handle is not made quiet
//                       (no MPG123_QUIET), so damaged streams print notes on stderr.
// libav's native decoders read both as well.
#include <fmt/format.h>
#include <sndfile.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "audio_decode.h"
#include "xib/error.h"

namespace xib::media::audio_detail {

namespace {

constexpr int64_t kChunkFrames = 4096;

sf_count_t vio_length(void* user) { return static_cast<ByteSource*>(user)->size(); }

sf_count_t vio_seek(sf_count_t offset, int whence, void* user) {
  auto* src = static_cast<ByteSource*>(user);
  int64_t base = 0;
  if (whence == SEEK_CUR) base = src->tell();
  if (whence == SEEK_END) base = src->size();
  // Out of range: stay, and report where the source is (libsndfile then finds the data short).
  if (offset > std::numeric_limits<int64_t>::max() / 2 || offset < std::numeric_limits<int64_t>::min() / 2 ||
      !src->seek(base + offset)) {
    return -1;
  }
  return src->tell();
}

sf_count_t vio_read(void* out, sf_count_t n, void* user) {
  const int64_t got = static_cast<ByteSource*>(user)->read(out, n);
  return got < 0 ? 0 : got;
}

sf_count_t vio_write(const void*, sf_count_t, void*) { return 0; }

sf_count_t vio_tell(void* user) { return static_cast<ByteSource*>(user)->tell(); }

struct SndfileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};

std::string format_name(int format) {
  SF_FORMAT_INFO info{};
  info.format = format;
  if (sf_command(nullptr, SFC_GET_FORMAT_INFO, &info, sizeof info) != 0 || info.name == nullptr) {
    return fmt::format("format 0x{:x}", format);
  }
  return info.name;
}

bool accepted_major(int format) {
  switch (format & SF_FORMAT_TYPEMASK) {
    case SF_FORMAT_WAV:
    case SF_FORMAT_WAVEX:
    case SF_FORMAT_RF64:
    case SF_FORMAT_W64:
    case SF_FORMAT_AIFF:
    case SF_FORMAT_FLAC:
    case SF_FORMAT_AU:
    case SF_FORMAT_CAF:
      return true;
    default:
      return false;
  }
}

bool starts_with(std::span<const uint8_t> b, size_t offset, const char* magic) {
  const size_t n = std::strlen(magic);
  return b.size() >= offset + n && std::memcmp(b.data() + offset, magic, n) == 0;
}

/// The codec tag of a RIFF/RF64 WAVE file's first "fmt " chunk (the one libsndfile reads; the
/// sub-format's for WAVE_FORMAT_EXTENSIBLE), or -1 when there is none in the first 64 chunks.
int wave_format_tag(ByteSource& src, bool big_endian) {
  const auto u32 = [&](const uint8_t* p) {
    return big_endian ? uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3]
                      : uint32_t{p[3]} << 24 | uint32_t{p[2]} << 16 | uint32_t{p[1]} << 8 | p[0];
  };
  const auto u16 = [&](const uint8_t* p) { return big_endian ? p[0] << 8 | p[1] : p[1] << 8 | p[0]; };
  int64_t pos = 12;
  for (int chunk = 0; chunk < 64 && pos + 8 <= src.size(); ++chunk) {
    std::array<uint8_t, 34> b{};
    src.seek(pos);
    const int64_t got = src.read(b.data(), static_cast<int64_t>(b.size()));
    if (got < 8) return -1;
    const int64_t size = u32(b.data() + 4);
    if (std::memcmp(b.data(), "fmt ", 4) == 0) {
      if (size < 2 || got < 10) return -1;
      const int tag = u16(b.data() + 8);
      return tag == 0xFFFE && size >= 26 && got >= 34 ? u16(b.data() + 32) : tag;
    }
    pos += 8 + size + (size & 1);
  }
  return -1;
}

}  // namespace

bool sndfile_reads(ByteSource& src) {
  const std::vector<uint8_t> b = src.head(16);
  const bool riff = starts_with(b, 0, "RIFF") || starts_with(b, 0, "RF64") || starts_with(b, 0, "BW64");
  if ((riff || starts_with(b, 0, "RIFX")) && starts_with(b, 8, "WAVE")) {
    const int tag = wave_format_tag(src, !riff);
    src.seek(0);
    return tag != 0x0050 && tag != 0x0055;  // WAVE_FORMAT_MPEG, _MPEGLAYER3: libav's
  }
  if (starts_with(b, 0, "riff")) return true;  // Wave64: its RIFF GUID
  if (starts_with(b, 0, "FORM") && (starts_with(b, 8, "AIFF") || starts_with(b, 8, "AIFC"))) return true;
  for (const char* magic : {"fLaC", ".snd", "caff"}) {
    if (starts_with(b, 0, magic)) return true;
  }
  return false;
}

Attempt decode_with_sndfile(ByteSource& src, AudioSink& sink) {
  src.seek(0);
  SF_VIRTUAL_IO vio{vio_length, vio_seek, vio_read, vio_write, vio_tell};
  SF_INFO info{};
  std::unique_ptr<SNDFILE, SndfileCloser> f(sf_open_virtual(&vio, SFM_READ, &info, &src));
  if (!f) return {.decoded = false, .said = sf_strerror(nullptr)};
  const std::string kind = format_name(info.format & SF_FORMAT_TYPEMASK);
  const int sub = info.format & SF_FORMAT_SUBMASK;
  if (!accepted_major(info.format) || sub == SF_FORMAT_MPEG_LAYER_I || sub == SF_FORMAT_MPEG_LAYER_II ||
      sub == SF_FORMAT_MPEG_LAYER_III) {
    return {.decoded = false, .said = fmt::format("read it as {}, a format xib does not take from it", kind)};
  }
  const std::string decoder = fmt::format("libsndfile: {} / {}", kind, format_name(info.format & SF_FORMAT_SUBMASK));
  sink.begin(info.samplerate, info.channels, decoder);  // FormatError beyond the limits
  // Integer PCM as float in [-1, 1); float data as it is (the sink clips it).
  sf_command(f.get(), SFC_SET_NORM_FLOAT, nullptr, SF_TRUE);
  const bool length_known = info.frames > 0 && info.frames < std::numeric_limits<int64_t>::max() / 4;
  const int64_t first = sink.window_first();
  if (first > 0 && length_known && first >= info.frames) {
    sink.sought(info.frames);  // the window starts after the end the header states
    return {.decoded = true, .said = {}};
  }
  bool sought = false;
  if (first > 0 && info.seekable && sf_seek(f.get(), first, SEEK_SET) == first) {
    sink.sought(first, length_known ? info.frames : -1);  // nothing after it: finish() says so
    sought = true;
  } else if (first > 0 && sf_seek(f.get(), 0, SEEK_SET) != 0) {  // decode from the start instead
    return {.decoded = false, .said = "cannot seek to the window, nor back to the start"};
  }
  std::vector<float> buffer(static_cast<size_t>(kChunkFrames * info.channels));
  int64_t read_frames = 0;
  while (true) {
    const sf_count_t n = sf_readf_float(f.get(), buffer.data(), kChunkFrames);
    if (n <= 0) break;
    read_frames += n;
    if (!sink.push(buffer.data(), n, info.channels)) break;
  }
  if (read_frames == 0 && !sought) {
    const int err = sf_error(f.get());
    return {.decoded = false,
            .said = fmt::format("opened it ({}, {} Hz, {} channel{}) but decoded no frames{}", decoder.substr(12),
                                info.samplerate, info.channels, info.channels == 1 ? "" : "s",
                                err != SF_ERR_NO_ERROR ? std::string(": ") + sf_strerror(f.get()) : "")};
  }
  return {.decoded = true, .said = {}};
}

}  // namespace xib::media::audio_detail
