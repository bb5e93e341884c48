// FFmpeg's libav through a custom AVIOContext over a ByteSource (audio_decode.h): what
// libsndfile does not read — Ogg, M4A/AAC, the audio of MP4/MKV/WebM/AVI videos, and the rest of the
// allow-list below. Hardened for hostile input: only the allow-listed demuxers, no nested opens
// (playlists, references: io_open refuses them), one decoding thread, limits checked on the
// stream's parameters before decoding and on every frame, and libav's log collected (never
// printed) for the error messages.
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
}

#include <fmt/format.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "audio_decode.h"
#include "xib/error.h"

namespace xib::media::audio_detail {

namespace {

constexpr int kIoBufferSize = 32 * 1024;
/// Demuxer names (any of a demuxer's comma-separated names matches).
constexpr const char* kDemuxers = "mov,matroska,webm,avi,asf,mpegts,aac,ac3,eac3,mp3,ogg,flac,wav,w64,aiff,caf,amr,au";

thread_local char g_last_log[512];

void log_callback(void* avcl, int level, const char* format, va_list args) {
  if (level > AV_LOG_ERROR) return;
  int prefix = 1;
  char line[sizeof g_last_log];
  if (av_log_format_line2(avcl, level, format, args, line, sizeof line, &prefix) < 0) return;
  size_t n = std::strlen(line);
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ')) line[--n] = '\0';
  // "[wav @ 0x55d8…] Invalid sample rate: 0" → "wav: Invalid sample rate: 0" (no address in messages).
  const char* text = line;
  std::string_view context;
  if (line[0] == '[') {
    const char* at = std::strstr(line, " @ 0x");
    const char* close = std::strstr(line, "] ");
    if (at != nullptr && close != nullptr && at < close) {
      context = std::string_view(line + 1, static_cast<size_t>(at - line - 1));
      text = close + 2;
    }
  }
  if (*text == '\0') return;
  std::snprintf(g_last_log, sizeof g_last_log, "%.*s%s%s", static_cast<int>(context.size()), context.data(),
                context.empty() ? "" : ": ", text);
}

/// libav's log goes to log_callback (process-wide, once): nothing reaches the terminal.
void quiet_libav() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_callback(log_callback); });
  g_last_log[0] = '\0';
}

std::string av_error(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, buf, sizeof buf);
  std::string s = buf;
  if (g_last_log[0] != '\0' && std::strstr(g_last_log, buf) == nullptr) s += fmt::format(" ({})", g_last_log);
  return s;
}

int io_read(void* opaque, uint8_t* buf, int n) {
  const int64_t got = static_cast<ByteSource*>(opaque)->read(buf, n);
  if (got < 0) return AVERROR(EIO);
  return got == 0 ? AVERROR_EOF : static_cast<int>(got);
}

int64_t io_seek(void* opaque, int64_t offset, int whence) {
  auto* src = static_cast<ByteSource*>(opaque);
  if (whence & AVSEEK_SIZE) return src->size();
  whence &= ~AVSEEK_FORCE;
  int64_t base = 0;
  if (whence == SEEK_CUR)
    base = src->tell();
  else if (whence == SEEK_END)
    base = src->size();
  else if (whence != SEEK_SET)
    return AVERROR(EINVAL);
  if (offset > INT64_MAX / 2 || offset < INT64_MIN / 2 || !src->seek(base + offset)) return AVERROR(EINVAL);
  return src->tell();
}

int refuse_open(AVFormatContext*, AVIOContext**, const char*, int, AVDictionary**) { return AVERROR(EPERM); }

struct IoContextFree {
  void operator()(AVIOContext* io) const {
    av_freep(&io->buffer);
    avio_context_free(&io);
  }
};
struct FormatClose {
  void operator()(AVFormatContext* f) const { avformat_close_input(&f); }
};
struct CodecFree {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct FrameFree {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};

/// One sample of `format` as float ([-1, 1) for integers).
float sample_at(const uint8_t* p, AVSampleFormat format, size_t i) {
  switch (format) {
    case AV_SAMPLE_FMT_U8:
    case AV_SAMPLE_FMT_U8P:
      return (static_cast<float>(p[i]) - 128.0f) / 128.0f;
    case AV_SAMPLE_FMT_S16:
    case AV_SAMPLE_FMT_S16P: {
      int16_t v;
      std::memcpy(&v, p + i * 2, 2);
      return static_cast<float>(v) / 32768.0f;
    }
    case AV_SAMPLE_FMT_S32:
    case AV_SAMPLE_FMT_S32P: {
      int32_t v;
      std::memcpy(&v, p + i * 4, 4);
      return static_cast<float>(static_cast<double>(v) / 2147483648.0);
    }
    case AV_SAMPLE_FMT_S64:
    case AV_SAMPLE_FMT_S64P: {
      int64_t v;
      std::memcpy(&v, p + i * 8, 8);
      return static_cast<float>(static_cast<double>(v) / 9223372036854775808.0);
    }
    case AV_SAMPLE_FMT_FLT:
    case AV_SAMPLE_FMT_FLTP: {
      float v;
      std::memcpy(&v, p + i * 4, 4);
      return v;
    }
    case AV_SAMPLE_FMT_DBL:
    case AV_SAMPLE_FMT_DBLP: {
      double v;
      std::memcpy(&v, p + i * 8, 8);
      return static_cast<float>(v);
    }
    default:
      return 0.0f;
  }
}

/// The streams of a file, for the "no audio stream" message: "video (h264), data".
std::string describe_streams(const AVFormatContext* fmt) {
  std::string s;
  for (unsigned i = 0; i < fmt->nb_streams; ++i) {
    const AVCodecParameters* p = fmt->streams[i]->codecpar;
    const char* type = av_get_media_type_string(p->codec_type);
    if (!s.empty()) s += ", ";
    s += fmt::format("{} ({})", type != nullptr ? type : "unknown", avcodec_get_name(p->codec_id));
  }
  return s.empty() ? "no streams" : s;
}

class LibavDecoder {
 public:
  LibavDecoder(ByteSource& src, AudioSink& sink) : src_(src), sink_(sink) {}

  Attempt run() {
    quiet_libav();
    src_.seek(0);
    auto* buffer = static_cast<uint8_t*>(av_malloc(kIoBufferSize));
    if (buffer == nullptr) throw std::bad_alloc();
    io_.reset(avio_alloc_context(buffer, kIoBufferSize, 0, &src_, io_read, nullptr, io_seek));
    if (!io_) {
      av_free(buffer);
      throw std::bad_alloc();
    }
    AVFormatContext* fmt = avformat_alloc_context();
    if (fmt == nullptr) throw std::bad_alloc();
    fmt->pb = io_.get();
    fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    fmt->format_whitelist = av_strdup(kDemuxers);
    fmt->protocol_whitelist = av_strdup("none");
    fmt->io_open = refuse_open;
    // On failure avformat_open_input frees `fmt` (not our I/O context).
    int err = avformat_open_input(&fmt, sink_.name().c_str(), nullptr, nullptr);
    if (err < 0) return refused("cannot open it", err);
    fmt_.reset(fmt);
    err = avformat_find_stream_info(fmt, nullptr);
    if (err < 0) return refused("cannot read its streams", err);
    const AVCodec* codec = nullptr;
    const int index = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    const std::string container = fmt->iformat->name;
    if (index == AVERROR_STREAM_NOT_FOUND) {
      // av_find_best_stream() passes over audio streams without channels or rate: say so.
      for (unsigned i = 0; i < fmt->nb_streams; ++i) {
        const AVCodecParameters* p = fmt->streams[i]->codecpar;
        if (p->codec_type == AVMEDIA_TYPE_AUDIO) {
          check_stream(sink_.name(), fmt::format("libav: {} / {}", container, avcodec_get_name(p->codec_id)),
                       p->sample_rate, p->ch_layout.nb_channels, sink_.options().max_channels);
        }
      }
      throw FormatError({.what = "the file has no audio stream",
                         .where = sink_.name(),
                         .expected = "an audio track",
                         .got = fmt::format("{}: {}", container, describe_streams(fmt)),
                         .hint = "a video without sound has nothing to decode"});
    }
    const AVCodecParameters* par = index >= 0 ? fmt->streams[index]->codecpar : nullptr;
    if (index < 0 || codec == nullptr) {
      throw FormatError(
          {.what = "no decoder for the file's audio",
           .where = sink_.name(),
           .expected = "a codec libavcodec decodes",
           .got = fmt::format("{} / {}", container, par != nullptr ? avcodec_get_name(par->codec_id) : "unknown codec"),
           .hint = "re-encode it (`ffmpeg -i FILE out.flac`)"});
    }
    decoder_ = fmt::format("libav: {} / {}", container, codec->name);
    // The stream's parameters, before decoding anything.
    check_stream(sink_.name(), decoder_, par->sample_rate, par->ch_layout.nb_channels, sink_.options().max_channels);
    for (unsigned i = 0; i < fmt->nb_streams; ++i) {
      if (static_cast<int>(i) != index) fmt->streams[i]->discard = AVDISCARD_ALL;
    }
    codec_.reset(avcodec_alloc_context3(codec));
    if (!codec_) throw std::bad_alloc();
    err = avcodec_parameters_to_context(codec_.get(), par);
    if (err >= 0) {
      codec_->thread_count = 1;
      err = avcodec_open2(codec_.get(), codec, nullptr);
    }
    if (err < 0) return refused(fmt::format("cannot open its {} decoder", codec->name), err);
    return decode(index);
  }

 private:
  Attempt refused(std::string_view what, int err) {
    return {.decoded = false, .said = fmt::format("{}: {}", what, av_error(err))};
  }

  Attempt decode(int index) {
    packet_.reset(av_packet_alloc());
    frame_.reset(av_frame_alloc());
    if (!packet_ || !frame_) throw std::bad_alloc();
    int last_error = 0;
    bool more = true;
    while (more) {
      const int r = av_read_frame(fmt_.get(), packet_.get());
      if (r < 0) {
        if (r != AVERROR_EOF) last_error = r;
        break;
      }
      if (packet_->stream_index == index) {
        const int s = avcodec_send_packet(codec_.get(), packet_.get());
        if (s < 0 && s != AVERROR(EAGAIN)) last_error = s;  // a damaged packet: go on with the next
        more = receive(last_error);
      }
      av_packet_unref(packet_.get());
    }
    if (more && avcodec_send_packet(codec_.get(), nullptr) >= 0) receive(last_error);  // drain
    if (frames_ == 0) {
      return {.decoded = false,
              .said = fmt::format("{}: decoded no audio{}", decoder_.substr(7),
                                  last_error != 0 ? ": " + av_error(last_error) : std::string())};
    }
    return {.decoded = true, .said = {}};
  }

  /// Every frame the decoder has ready, into the sink; false once the sink wants no more.
  bool receive(int& last_error) {
    while (true) {
      const int r = avcodec_receive_frame(codec_.get(), frame_.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return true;
      if (r < 0) {
        last_error = r;
        return true;
      }
      const bool more = take(*frame_);
      av_frame_unref(frame_.get());
      if (!more) return false;
    }
  }

  bool take(const AVFrame& f) {
    const int64_t channels = f.ch_layout.nb_channels;
    const int64_t rate = f.sample_rate;
    if (frames_ == 0) {
      sink_.begin(rate, channels, decoder_);
      rate_ = rate;
    } else {
      check_stream(sink_.name(), decoder_, rate, channels, sink_.options().max_channels);
      if (rate != rate_) {
        throw FormatError({.what = "the sample rate changes within the audio stream",
                           .where = sink_.name(),
                           .expected = fmt::format("{} Hz throughout", rate_),
                           .got = fmt::format("{} Hz from frame {} on ({})", rate, sink_.position(), decoder_),
                           .hint = "re-encode the file at one rate (`ffmpeg -i FILE -ar 16000 out.flac`)"});
      }
    }
    ++frames_;
    const auto format = static_cast<AVSampleFormat>(f.format);
    const int64_t n = f.nb_samples;
    if (n <= 0) return !sink_.done();
    if (av_get_bytes_per_sample(format) == 0) {
      throw FormatError({.what = "the decoder gave samples of an unknown format",
                         .where = sink_.name(),
                         .got = fmt::format("sample format {} ({})", f.format, decoder_)});
    }
    const bool planar = av_sample_fmt_is_planar(format) != 0;
    const auto c = static_cast<size_t>(channels);
    if (f.extended_data == nullptr) return !sink_.done();
    interleaved_.resize(static_cast<size_t>(n) * c);
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
      for (size_t k = 0; k < c; ++k) {
        interleaved_[i * c + k] =
            planar ? sample_at(f.extended_data[k], format, i) : sample_at(f.extended_data[0], format, i * c + k);
      }
    }
    return sink_.push(interleaved_.data(), n, channels);
  }

  ByteSource& src_;
  AudioSink& sink_;
  // Freed in reverse order: the format context before the I/O context it reads through.
  std::unique_ptr<AVIOContext, IoContextFree> io_;
  std::unique_ptr<AVFormatContext, FormatClose> fmt_;
  std::unique_ptr<AVCodecContext, CodecFree> codec_;
  std::unique_ptr<AVPacket, PacketFree> packet_;
  std::unique_ptr<AVFrame, FrameFree> frame_;
  std::string decoder_;
  int64_t frames_ = 0, rate_ = 0;
  std::vector<float> interleaved_;
};

}  // namespace

Attempt decode_with_libav(ByteSource& src, AudioSink& sink) { return LibavDecoder(src, sink).run(); }

}  // namespace xib::media::audio_detail
