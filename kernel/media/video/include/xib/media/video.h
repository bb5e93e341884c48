// Video files in (and a small writer out), torch-free, by FFmpeg's libav: libavformat demuxes
// (allow-listed: MP4/MOV, Matroska/WebM, AVI, GIF), libavcodec decodes (H.264, MPEG-4 part 2, VP8,
// VP9, MJPEG, GIF, …, one thread), libswscale converts to 8-bit RGB with SWS_BILINEAR, the flags
// of `ffmpeg -sws_flags bilinear -pix_fmt rgb24`: frames are bit-exact against that command.
//
//   VideoInfo info = probe_video("clip.mp4");               // 64×48, 20 frames, 10 fps, "h264"
//   std::vector<int64_t> want = {0, 10, 19};
//   std::vector<Image> frames = read_video_frames("clip.mp4", want);
//
// Frames are numbered 0… in presentation order. The frame count is never taken from the header
// alone: probe and read demux every packet of the video stream once (no decoding) and count those
// not marked to be discarded (edit lists); each packet of the supported codecs is one frame. The
// header's count and duration are checked against the limits before that pass, and the pass
// itself stops at max_frames packets or max_seconds. A frame is read by seeking to the keyframe
// at or before the first wanted frame's timestamp and decoding forward, matching decoded frames
// to indices by timestamp; when timestamps are missing or a wanted frame does not come out after
// the seek (open GOPs), it decodes from the start and counts frames instead.
//
// Rotation: a display matrix of 90°, 180° or 270° (clockwise, as players show it) is applied to
// the frames, and VideoInfo's width and height are the displayed ones; flips are ignored.
// Window: with start_seconds/end_seconds, the clip is the frames whose time since the first
// frame lies in [start, end); frames, seconds and indices then refer to the window.
//
// Errors: a missing or unreadable file is an IoError naming it. Empty, garbage, truncated
// content, no video stream, no frames, a size of 0 or over max_pixels, more than max_frames
// frames or more than max_seconds (by header or by counting) are FormatErrors naming the file,
// with libav's own words (its log is routed, never printed). An index outside the clip is a
// UsageError giving the frame count; options out of range are a ConfigError. Nothing aborts.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "xib/config.h"
#include "xib/media/image.h"

namespace xib::media {

struct VideoReadOptions {
  int64_t max_frames = 100000;       ///< streams claiming or holding more frames are refused
  int64_t max_pixels = 4096 * 4096;  ///< per frame (width × height), refused before decoding
  double max_seconds = 3600;         ///< longer streams are refused (by header, and by counting)
  double start_seconds = 0;          ///< the window's start, seconds after the first frame
  double end_seconds = 0;            ///< the window's end (0: the end of the clip)

  template <class V>
  void fields(V& v) {
    v("max_frames", max_frames, "refuse streams with more frames than this");
    v("max_pixels", max_pixels, "refuse frames larger than this (width × height)");
    v("max_seconds", max_seconds, "refuse streams longer than this many seconds");
    v("start_seconds", start_seconds, "start of the window, seconds after the first frame");
    v("end_seconds", end_seconds, "end of the window (0: the end of the clip)");
  }
  void validate(Validator& v) const;
};

struct VideoInfo {
  int64_t width = 0, height = 0;  ///< as displayed (rotation applied)
  int64_t frames = 0;             ///< decodable frames (in the window), counted by a demux pass
  double fps = 0;                 ///< the stream's average (else real) frame rate; 0 when unknown
  double seconds = 0;             ///< frames / fps (0 when fps is unknown)
  int rotation = 0;               ///< 0, 90, 180, 270: clockwise, as players show it
  std::string container = {};     ///< libavformat's name: "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "avi", "gif"
  std::string codec = {};         ///< "h264", "mpeg4", "vp8", "vp9", "mjpeg", "gif"
};

/// Opens, probes, checks the limits and counts the frames (see above).
VideoInfo probe_video(const std::filesystem::path& file, const VideoReadOptions& options = {});
/// The same from bytes in memory; `name` stands for the file in messages.
VideoInfo probe_video(std::span<const uint8_t> bytes, const VideoReadOptions& options, std::string_view name);

/// The frames at the given 0-based indices, in the order given (unsorted and repeated indices
/// allowed), RGB, rotation applied. UsageError for an index outside [0, frames).
std::vector<Image> read_video_frames(const std::filesystem::path& file, std::span<const int64_t> indices,
                                     const VideoReadOptions& options = {});
/// The same from bytes in memory (fuzzing, tests).
std::vector<Image> decode_video_frames(std::span<const uint8_t> bytes, std::span<const int64_t> indices,
                                       const VideoReadOptions& options, std::string_view name);

/// RGB frames (all of one size) → an MP4 at `fps`: H.264 (libx264, yuv420p, CRF 18) when libavcodec
/// has it, else MPEG-4 part 2 (q 2). Odd sizes are padded to even ones by repeating the last column
/// and row. Atomic: written to a temporary file beside `file`, then renamed. UsageError for no frames,
/// frames of different or zero size, fps ≤ 0; IoError when it cannot be written.
void write_video(const std::filesystem::path& file, std::span<const Image> frames, double fps);

}  // namespace xib::media
