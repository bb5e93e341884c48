// write_video (xib/media/video.h): RGB frames → MP4, H.264 (libx264) or else MPEG-4 part 2.
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <system_error>

#include "video_decode.h"
#include "xib/error.h"
#include "xib/media/video.h"

namespace xib::media {
namespace {

using video_detail::av_error;

class Writer {
 public:
  Writer(std::filesystem::path tmp, int width, int height, double fps) : tmp_(std::move(tmp)) {
    int err = avformat_alloc_output_context2(&fmt_, nullptr, "mp4", tmp_.c_str());
    if (err < 0 || fmt_ == nullptr) fail("cannot create an MP4 muxer", err);
    const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
    if (codec == nullptr) codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
    if (codec == nullptr) fail("no H.264 or MPEG-4 encoder in libavcodec", AVERROR_ENCODER_NOT_FOUND);
    enc_ = avcodec_alloc_context3(codec);
    if (enc_ == nullptr) throw std::bad_alloc();
    const AVRational rate = av_d2q(fps, 100000);
    enc_->width = width;
    enc_->height = height;
    enc_->pix_fmt = AV_PIX_FMT_YUV420P;
    enc_->time_base = av_inv_q(rate);
    enc_->framerate = rate;
    enc_->thread_count = 1;
    enc_->gop_size = 12;
    enc_->max_b_frames = 0;  // no reordering: no edit list shifting the first frame out
    if (fmt_->oformat->flags & AVFMT_GLOBALHEADER) enc_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary* opts = nullptr;
    if (codec->id == AV_CODEC_ID_H264) {
      av_dict_set(&opts, "crf", "18", 0);
      av_dict_set(&opts, "preset", "veryfast", 0);
    } else {
      enc_->flags |= AV_CODEC_FLAG_QSCALE;
      enc_->global_quality = FF_QP2LAMBDA * 2;
    }
    err = avcodec_open2(enc_, codec, &opts);
    av_dict_free(&opts);
    if (err < 0) fail(fmt::format("cannot open the {} encoder", codec->name), err);
    st_ = avformat_new_stream(fmt_, nullptr);
    if (st_ == nullptr) throw std::bad_alloc();
    st_->time_base = enc_->time_base;
    avcodec_parameters_from_context(st_->codecpar, enc_);
    err = avio_open(&fmt_->pb, tmp_.c_str(), AVIO_FLAG_WRITE);
    if (err < 0) fail("cannot open the file for writing", err, true);
    err = avformat_write_header(fmt_, nullptr);
    if (err < 0) fail("cannot write the MP4 header", err, true);
    frame_ = av_frame_alloc();
    pkt_ = av_packet_alloc();
    if (frame_ == nullptr || pkt_ == nullptr) throw std::bad_alloc();
    frame_->format = AV_PIX_FMT_YUV420P;
    frame_->width = width;
    frame_->height = height;
    if (av_frame_get_buffer(frame_, 0) < 0) throw std::bad_alloc();
    sws_ = sws_getContext(width, height, AV_PIX_FMT_RGB24, width, height, AV_PIX_FMT_YUV420P, SWS_BILINEAR, nullptr,
                          nullptr, nullptr);
    if (sws_ == nullptr) fail("cannot convert RGB to YUV", AVERROR(EINVAL));
  }
  ~Writer() {
    sws_freeContext(sws_);
    av_packet_free(&pkt_);
    av_frame_free(&frame_);
    avcodec_free_context(&enc_);
    if (fmt_ != nullptr) {
      if (fmt_->pb != nullptr) avio_closep(&fmt_->pb);
      avformat_free_context(fmt_);
    }
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  /// `rgb`: [height][width][3], rows packed.
  void add(const uint8_t* rgb) {
    if (av_frame_make_writable(frame_) < 0) throw std::bad_alloc();
    const uint8_t* src[1] = {rgb};
    const int lines[1] = {enc_->width * 3};
    sws_scale(sws_, src, lines, 0, enc_->height, frame_->data, frame_->linesize);
    frame_->pts = next_++;
    send(frame_);
  }

  void finish() {
    send(nullptr);
    const int err = av_write_trailer(fmt_);
    if (err < 0) fail("cannot finish the MP4 file", err, true);
    avio_closep(&fmt_->pb);
  }

 private:
  void send(const AVFrame* f) {
    int err = avcodec_send_frame(enc_, f);
    if (err < 0) fail("the encoder refused a frame", err);
    while ((err = avcodec_receive_packet(enc_, pkt_)) >= 0) {
      if (pkt_->duration <= 0) pkt_->duration = 1;  // one frame: else the edit list ends before the last one
      av_packet_rescale_ts(pkt_, enc_->time_base, st_->time_base);
      pkt_->stream_index = st_->index;
      err = av_interleaved_write_frame(fmt_, pkt_);
      if (err < 0) fail("cannot write a packet", err, true);
    }
    if (err != AVERROR(EAGAIN) && err != AVERROR_EOF) fail("the encoder failed", err);
  }

  [[noreturn]] void fail(const std::string& what, int err, bool io = false) const {
    ErrorInfo info{.what = what, .where = tmp_.string(), .got = av_error(err)};
    if (io) throw IoError(std::move(info));
    throw FormatError(std::move(info));
  }

  std::filesystem::path tmp_;
  AVFormatContext* fmt_ = nullptr;
  AVCodecContext* enc_ = nullptr;
  AVStream* st_ = nullptr;
  AVFrame* frame_ = nullptr;
  AVPacket* pkt_ = nullptr;
  SwsContext* sws_ = nullptr;
  int64_t next_ = 0;
};

}  // namespace

void write_video(const std::filesystem::path& file, std::span<const Image> frames, double fps) {
  if (frames.empty()) throw UsageError({.what = "write_video: no frames", .where = file.string()});
  if (!std::isfinite(fps) || fps <= 0 || fps > 1000) {
    throw UsageError({.what = "write_video: fps out of range",
                      .where = file.string(),
                      .expected = "0 < fps ≤ 1000",
                      .got = fmt::format("{}", fps)});
  }
  const int w = frames[0].width, h = frames[0].height;
  for (size_t i = 0; i < frames.size(); ++i) {
    const Image& f = frames[i];
    if (f.width != w || f.height != h || f.empty() || f.rgb.size() != static_cast<size_t>(w) * h * 3) {
      throw UsageError({.what = "write_video: frames must all be non-empty RGB of one size",
                        .where = file.string(),
                        .expected = fmt::format("{}×{} RGB", w, h),
                        .got = fmt::format("frame {}: {}×{}, {} bytes", i, f.width, f.height, f.rgb.size())});
    }
  }
  const int W = w + (w & 1), H = h + (h & 1);  // yuv420p needs even sizes: repeat the last column/row
  std::vector<uint8_t> padded(static_cast<size_t>(W) * H * 3);
  std::filesystem::path tmp = file;
  tmp += fmt::format(".tmp-{}", ::getpid());
  video_detail::quiet_libav();
  try {
    Writer writer(tmp, W, H, fps);
    for (const Image& f : frames) {
      for (int y = 0; y < H; ++y) {
        const int sy = std::min(y, h - 1);
        std::memcpy(&padded[static_cast<size_t>(y) * W * 3], &f.rgb[static_cast<size_t>(sy) * w * 3],
                    static_cast<size_t>(w) * 3);
        if (W != w)
          std::memcpy(&padded[(static_cast<size_t>(y) * W + w) * 3], &f.rgb[(static_cast<size_t>(sy) * w + w - 1) * 3],
                      3);
      }
      writer.add(padded.data());
    }
    writer.finish();
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw IoError({.what = "cannot write the video file", .where = file.string(), .got = ec.message()});
  }
}

}  // namespace xib::media
