// probe_video / read_video_frames (xib/media/video.h): libav through a custom AVIOContext over a
// ByteSource. Hardened like the audio decoder: allow-listed demuxers, no nested opens, one
// decoding thread, limits checked on the header before anything is decoded and while counting,
// libav's log collected (never printed) for the error messages.
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>
}

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "video_decode.h"
#include "xib/error.h"
#include "xib/media/video.h"

namespace xib::media {
namespace video_detail {
namespace {

constexpr int kIoBufferSize = 32 * 1024;
constexpr const char* kDemuxers = "mov,matroska,webm,avi,gif";

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
struct SwsFree {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};

double to_seconds(int64_t ts, AVRational tb) { return static_cast<double>(ts) * av_q2d(tb); }

/// An RGB image turned `degrees` (90, 180, 270) clockwise.
Image rotate(const Image& in, int degrees) {
  if (degrees == 0) return in;
  const int w = in.width, h = in.height;
  Image out{.width = degrees == 180 ? w : h,
            .height = degrees == 180 ? h : w,
            .channels = 3,
            .rgb = std::vector<uint8_t>(in.rgb.size())};
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      int sx = 0, sy = 0;
      if (degrees == 90) {
        sx = y, sy = h - 1 - x;
      } else if (degrees == 180) {
        sx = w - 1 - x, sy = h - 1 - y;
      } else {
        sx = w - 1 - y, sy = x;
      }
      std::memcpy(&out.rgb[(static_cast<size_t>(y) * out.width + x) * 3],
                  &in.rgb[(static_cast<size_t>(sy) * w + sx) * 3], 3);
    }
  }
  return out;
}

/// One open video: the demuxer, the chosen stream, the packet table of the demux pass, a decoder.
class Video {
 public:
  Video(ByteSource& src, const VideoReadOptions& options, std::string name)
      : src_(src), options_(options), name_(std::move(name)) {}

  /// Opens and checks the header; counts the packets when `count`.
  void open(bool count) {
    quiet_libav();
    if (src_.size() == 0) {
      fail("cannot decode video: the file is empty", "a video file", "0 bytes",
           "the file was not written completely; fetch or render it again");
    }
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
    int err = avformat_open_input(&fmt, name_.c_str(), nullptr, nullptr);  // frees fmt on failure
    if (err < 0) {
      check_io();
      fail("cannot decode video: libav cannot open the file", "MP4, MOV, MKV, WebM, AVI or animated GIF", av_error(err),
           "the file is corrupt, truncated or not a video: check it with `ffprobe FILE`");
    }
    fmt_.reset(fmt);
    // The header's claims, before anything is decoded.
    for (unsigned i = 0; i < fmt->nb_streams; ++i) {
      if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) check_header(fmt->streams[i]);
    }
    err = avformat_find_stream_info(fmt, nullptr);
    check_io();
    if (err < 0) {
      fail("cannot decode video: libav cannot read the file's streams", "a readable video stream", av_error(err),
           "the file is corrupt or truncated");
    }
    const AVCodec* codec = nullptr;
    index_ = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (index_ < 0) {
      fail("the file has no video stream", "a video track",
           fmt::format("{} streams in {}", fmt->nb_streams, fmt->iformat->name),
           "an audio file or an image is not a video");
    }
    stream_ = fmt->streams[index_];
    check_header(stream_);
    const AVCodecParameters* par = stream_->codecpar;
    info_.container = fmt->iformat->name;
    info_.codec = avcodec_get_name(par->codec_id);
    if (codec == nullptr) {
      fail("no decoder for the file's video", "a codec libavcodec decodes", info_.codec,
           "re-encode it (`ffmpeg -i FILE out.mp4`)");
    }
    if (par->width <= 0 || par->height <= 0) {
      fail("the video's frames have no size", "width and height ≥ 1",
           fmt::format("{}×{} ({})", par->width, par->height, info_.codec), "the file is corrupt");
    }
    rotation_ = read_rotation();
    info_.rotation = rotation_;
    info_.width = rotation_ % 180 == 0 ? par->width : par->height;
    info_.height = rotation_ % 180 == 0 ? par->height : par->width;
    AVRational rate = stream_->avg_frame_rate;
    if (rate.num <= 0 || rate.den <= 0) rate = stream_->r_frame_rate;
    info_.fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0.0;
    for (unsigned i = 0; i < fmt->nb_streams; ++i) {
      if (static_cast<int>(i) != index_) fmt->streams[i]->discard = AVDISCARD_ALL;
    }
    codec_.reset(avcodec_alloc_context3(codec));
    if (!codec_) throw std::bad_alloc();
    err = avcodec_parameters_to_context(codec_.get(), par);
    if (err >= 0) {
      codec_->thread_count = 1;
      codec_->pkt_timebase = stream_->time_base;
      err = avcodec_open2(codec_.get(), codec, nullptr);
    }
    if (err < 0) fail(fmt::format("cannot open the {} decoder", codec->name), "", av_error(err), "the file is corrupt");
    packet_.reset(av_packet_alloc());
    frame_.reset(av_frame_alloc());
    if (!packet_ || !frame_) throw std::bad_alloc();
    if (count) count_packets();
  }

  const VideoInfo& info() const { return info_; }

  /// The frames at `indices` (into the window).
  std::vector<Image> read(std::span<const int64_t> indices) {
    for (int64_t i : indices) {
      if (i < 0 || i >= info_.frames) {
        throw UsageError({.what = fmt::format("frame index {} is outside the video", i),
                          .where = name_,
                          .expected = fmt::format("0 … {} (the clip{} has {} frames)", info_.frames - 1,
                                                  window_ ? "'s window" : "", info_.frames),
                          .got = std::to_string(i)});
      }
    }
    std::map<int64_t, Image> got;  // absolute index → frame
    for (int64_t i : indices) got.emplace(first_ + i, Image{});
    if (got.empty()) return {};
    bool complete = !sorted_pts_.empty() && decode_seeking(got);
    if (!complete) {
      // From the start, counting frames in output order.
      Video again(src_, options_, name_);
      again.open(false);
      again.decode_counting(got);
    }
    std::vector<Image> out;
    out.reserve(indices.size());
    for (int64_t i : indices) out.push_back(got.at(first_ + i));
    return out;
  }

 private:
  [[noreturn]] void fail(std::string what, std::string expected, std::string got, std::string hint) const {
    throw FormatError({.what = std::move(what),
                       .where = name_,
                       .expected = std::move(expected),
                       .got = std::move(got),
                       .hint = std::move(hint)});
  }

  void check_io() const {
    if (!src_.io_error().empty()) {
      throw IoError({.what = "cannot read the video file", .where = name_, .got = src_.io_error()});
    }
  }

  void check_size(int64_t w, int64_t h) const {
    if (w > 0 && h > 0 && w * h > options_.max_pixels) {
      fail("the video's frames are too large", fmt::format("at most {} pixels (max_pixels)", options_.max_pixels),
           fmt::format("{}×{}", w, h), "raise max_pixels if the file is trusted, or downscale it with ffmpeg");
    }
  }

  void check_header(const AVStream* st) const {
    const AVCodecParameters* p = st->codecpar;
    check_size(p->width, p->height);
    if (st->nb_frames > options_.max_frames) {
      fail("the video has too many frames", fmt::format("at most {} (max_frames)", options_.max_frames),
           fmt::format("{} frames claimed by the header", st->nb_frames), "raise max_frames if the file is trusted");
    }
    double seconds = st->duration != AV_NOPTS_VALUE && st->duration > 0 ? to_seconds(st->duration, st->time_base) : 0;
    if (fmt_->duration != AV_NOPTS_VALUE && fmt_->duration > 0) {
      seconds = std::max(seconds, static_cast<double>(fmt_->duration) / AV_TIME_BASE);
    }
    if (seconds > options_.max_seconds) {
      fail("the video is too long", fmt::format("at most {} s (max_seconds)", options_.max_seconds),
           fmt::format("{:.1f} s claimed by the header", seconds), "raise max_seconds, or cut the clip");
    }
  }

  int read_rotation() const {
    size_t size = 0;
    const uint8_t* m = av_stream_get_side_data(stream_, AV_PKT_DATA_DISPLAYMATRIX, &size);
    if (m == nullptr || size < 9 * sizeof(int32_t)) return 0;
    const double a = -av_display_rotation_get(reinterpret_cast<const int32_t*>(m));  // as ffmpeg's autorotate
    if (!std::isfinite(a)) return 0;
    const int r = static_cast<int>(std::lround(a / 90.0)) % 4;
    return ((r + 4) % 4) * 90;
  }

  /// The demux pass: the presentation timestamps of the stream's packets (but those to discard).
  void count_packets() {
    std::vector<int64_t> pts;
    bool missing = false;
    int64_t first_dts = AV_NOPTS_VALUE;
    while (true) {
      const int r = av_read_frame(fmt_.get(), packet_.get());
      if (r < 0) break;  // the end, or what follows is unreadable: the frames before it count
      const AVPacket& p = *packet_;
      if (p.stream_index == index_ && !(p.flags & AV_PKT_FLAG_DISCARD)) {
        if (static_cast<int64_t>(pts.size()) >= options_.max_frames) {
          fail("the video has too many frames", fmt::format("at most {} (max_frames)", options_.max_frames),
               "more, by counting its packets", "raise max_frames if the file is trusted");
        }
        const int64_t ts = p.pts != AV_NOPTS_VALUE ? p.pts : p.dts;
        missing = missing || ts == AV_NOPTS_VALUE;
        if (first_dts == AV_NOPTS_VALUE) first_dts = ts;
        if (ts != AV_NOPTS_VALUE && first_dts != AV_NOPTS_VALUE &&
            to_seconds(ts - first_dts, stream_->time_base) > options_.max_seconds) {
          fail("the video is too long", fmt::format("at most {} s (max_seconds)", options_.max_seconds),
               "more, by its packets' timestamps", "raise max_seconds, or cut the clip");
        }
        pts.push_back(ts);
        if (p.flags & AV_PKT_FLAG_KEY) keyframes_.push_back({ts, p.dts != AV_NOPTS_VALUE ? p.dts : ts});
      }
      av_packet_unref(packet_.get());
    }
    check_io();
    const auto total = static_cast<int64_t>(pts.size());
    if (total == 0) {
      fail("the video has no frames", "at least one frame", fmt::format("0 packets in its {} stream", info_.codec),
           "the file is truncated or empty");
    }
    if (!missing) {
      std::sort(pts.begin(), pts.end());
      if (std::adjacent_find(pts.begin(), pts.end()) == pts.end()) sorted_pts_ = pts;
    }
    // The window, by time since the first frame.
    first_ = 0;
    int64_t end = total;
    window_ = options_.start_seconds > 0 || options_.end_seconds > 0;
    if (window_) {
      auto time = [&](int64_t i) {
        if (!sorted_pts_.empty()) return to_seconds(sorted_pts_[i] - sorted_pts_[0], stream_->time_base);
        return info_.fps > 0 ? static_cast<double>(i) / info_.fps : 0.0;
      };
      while (first_ < total && time(first_) < options_.start_seconds - 1e-9) ++first_;
      if (options_.end_seconds > 0) {
        end = first_;
        while (end < total && time(end) < options_.end_seconds - 1e-9) ++end;
      }
      if (first_ >= end) {
        throw UsageError(
            {.what = "the window holds no frame of the video",
             .where = name_,
             .expected = fmt::format("a window within the clip's {} frames ({:.3f} s)", total, time(total - 1)),
             .got = fmt::format("[{}, {}) s", options_.start_seconds, options_.end_seconds)});
      }
    }
    info_.frames = end - first_;
    info_.seconds = info_.fps > 0 ? static_cast<double>(info_.frames) / info_.fps : 0.0;
  }

  /// Seeks to the keyframe before the first wanted frame and decodes forward, matching frames by
  /// timestamp. False when a wanted frame did not come out.
  bool decode_seeking(std::map<int64_t, Image>& got) {
    const int64_t want_pts = sorted_pts_[got.begin()->first];
    std::pair<int64_t, int64_t> key = {sorted_pts_.front(), sorted_pts_.front()};
    for (const auto& k : keyframes_) {
      if (k.first <= want_pts) key = k;
    }
    if (av_seek_frame(fmt_.get(), index_, std::min(key.first, key.second), AVSEEK_FLAG_BACKWARD) < 0) return false;
    avcodec_flush_buffers(codec_.get());
    size_t found = 0;
    auto take = [&](const AVFrame& f) {
      const int64_t ts = f.best_effort_timestamp;
      if (ts == AV_NOPTS_VALUE || ts < key.first) return;
      const auto it = std::lower_bound(sorted_pts_.begin(), sorted_pts_.end(), ts);
      if (it == sorted_pts_.end() || *it != ts) return;
      const auto g = got.find(it - sorted_pts_.begin());
      if (g != got.end() && g->second.empty()) {
        g->second = convert(f);
        ++found;
      }
    };
    decode_loop(take, [&] { return found == got.size(); });
    return found == got.size();
  }

  /// Decodes from the start; the n-th frame out is frame n.
  void decode_counting(std::map<int64_t, Image>& got) {
    int64_t n = 0;
    size_t found = 0;
    const int64_t last = got.rbegin()->first;
    auto take = [&](const AVFrame& f) {
      const auto g = got.find(n++);
      if (g != got.end()) {
        g->second = convert(f);
        ++found;
      }
    };
    decode_loop(take, [&] { return n > last; });
    if (found != got.size()) {
      fail("cannot decode video: frames counted in the file do not decode", fmt::format("frames up to {}", last),
           fmt::format("{} frames decoded{}", n, !last_libav_log().empty() ? ": " + last_libav_log() : ""),
           "the file is corrupt or truncated");
    }
  }

  template <class Take, class Done>
  void decode_loop(Take take, Done done) {
    bool draining = false;
    int64_t packets = 0;
    while (!done()) {
      if (!draining) {
        const int r = av_read_frame(fmt_.get(), packet_.get());
        if (r < 0) {
          draining = true;
          avcodec_send_packet(codec_.get(), nullptr);
        } else {
          if (packet_->stream_index == index_) {
            if (++packets > options_.max_frames + 64) break;   // never past the limits
            avcodec_send_packet(codec_.get(), packet_.get());  // a damaged packet: go on with the next
          }
          av_packet_unref(packet_.get());
        }
      }
      while (!done()) {
        const int r = avcodec_receive_frame(codec_.get(), frame_.get());
        if (r == AVERROR_EOF) return;
        if (r < 0) break;  // EAGAIN (more input), or a damaged frame
        take(*frame_);
        av_frame_unref(frame_.get());
      }
    }
    check_io();
  }

  /// An RGB image of the frame (SWS_BILINEAR), rotation applied.
  Image convert(const AVFrame& f) {
    if (f.width <= 0 || f.height <= 0) fail("a frame has no size", "width and height ≥ 1", "0", "the file is corrupt");
    check_size(f.width, f.height);
    sws_.reset(sws_getCachedContext(sws_.release(), f.width, f.height, static_cast<AVPixelFormat>(f.format), f.width,
                                    f.height, AV_PIX_FMT_RGB24, SWS_BILINEAR, nullptr, nullptr, nullptr));
    if (!sws_) {
      fail("cannot convert a frame to RGB", "a pixel format libswscale converts",
           av_get_pix_fmt_name(static_cast<AVPixelFormat>(f.format))
               ? av_get_pix_fmt_name(static_cast<AVPixelFormat>(f.format))
               : "unknown",
           "re-encode the file");
    }
    // An aligned buffer as ffmpeg's filters use (the SIMD paths then match the CLI's), then packed rows.
    uint8_t* data[4] = {};
    int lines[4] = {};
    if (av_image_alloc(data, lines, f.width, f.height, AV_PIX_FMT_RGB24, 64) < 0) throw std::bad_alloc();
    std::unique_ptr<uint8_t, void (*)(uint8_t*)> keep(data[0], [](uint8_t* p) { av_free(p); });
    sws_scale(sws_.get(), f.data, f.linesize, 0, f.height, data, lines);
    Image img{.width = f.width,
              .height = f.height,
              .channels = 3,
              .rgb = std::vector<uint8_t>(static_cast<size_t>(f.width) * f.height * 3)};
    for (int y = 0; y < f.height; ++y) {
      std::memcpy(&img.rgb[static_cast<size_t>(y) * f.width * 3], data[0] + static_cast<ptrdiff_t>(y) * lines[0],
                  static_cast<size_t>(f.width) * 3);
    }
    return rotate(img, rotation_);
  }

  ByteSource& src_;
  VideoReadOptions options_;
  std::string name_;
  // Freed in reverse order: the format context before the I/O context it reads through.
  std::unique_ptr<AVIOContext, IoContextFree> io_;
  std::unique_ptr<AVFormatContext, FormatClose> fmt_;
  std::unique_ptr<AVCodecContext, CodecFree> codec_;
  std::unique_ptr<AVPacket, PacketFree> packet_;
  std::unique_ptr<AVFrame, FrameFree> frame_;
  std::unique_ptr<SwsContext, SwsFree> sws_;
  AVStream* stream_ = nullptr;
  int index_ = -1, rotation_ = 0;
  VideoInfo info_;
  std::vector<int64_t> sorted_pts_;                     // [frames] presentation timestamps, ascending
  std::vector<std::pair<int64_t, int64_t>> keyframes_;  // (pts, dts) of keyframes, decode order
  int64_t first_ = 0;                                   // the window's first frame
  bool window_ = false;
};

void validate(const VideoReadOptions& options) {
  Validator v(ConfigSection{});
  options.validate(v);
  v.finish();
}

}  // namespace

}  // namespace video_detail

VideoInfo probe_video(const std::filesystem::path& file, const VideoReadOptions& options) {
  video_detail::validate(options);
  video_detail::ByteSource src(file);
  video_detail::Video v(src, options, file.string());
  v.open(true);
  return v.info();
}

VideoInfo probe_video(std::span<const uint8_t> bytes, const VideoReadOptions& options, std::string_view name) {
  video_detail::validate(options);
  video_detail::ByteSource src(bytes);
  video_detail::Video v(src, options, std::string(name));
  v.open(true);
  return v.info();
}

std::vector<Image> read_video_frames(const std::filesystem::path& file, std::span<const int64_t> indices,
                                     const VideoReadOptions& options) {
  video_detail::validate(options);
  video_detail::ByteSource src(file);
  video_detail::Video v(src, options, file.string());
  v.open(true);
  return v.read(indices);
}

std::vector<Image> decode_video_frames(std::span<const uint8_t> bytes, std::span<const int64_t> indices,
                                       const VideoReadOptions& options, std::string_view name) {
  video_detail::validate(options);
  video_detail::ByteSource src(bytes);
  video_detail::Video v(src, options, std::string(name));
  v.open(true);
  return v.read(indices);
}

}  // namespace xib::media
