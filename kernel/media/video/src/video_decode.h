// Internals of the video decoder (xib/media/video.h): the byte source libav reads through.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

struct AVFormatContext;
struct AVIOContext;
struct AVDictionary;

namespace xib::media::video_detail {

/// Random-access bytes: a file read in place (pread) or a buffer in memory (not copied).
class ByteSource {
 public:
  explicit ByteSource(const std::filesystem::path& file);  ///< IoError naming it when unreadable
  explicit ByteSource(std::span<const uint8_t> bytes);
  ~ByteSource();
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  int64_t size() const { return size_; }
  int64_t tell() const { return pos_; }
  bool seek(int64_t pos);              ///< false (and no move) outside [0, size]
  int64_t read(void* out, int64_t n);  ///< the count (0 at the end), -1 on a failed read (io_error())
  const std::string& io_error() const { return io_error_; }

 private:
  int fd_ = -1;
  const uint8_t* data_ = nullptr;
  int64_t size_ = 0, pos_ = 0;
  std::string io_error_;
};

/// libav's log goes to a callback that keeps the last error line for the messages (process-wide,
/// once; the audio library installs the same kind): nothing reaches the terminal.
void quiet_libav();
/// The last error line libav logged on this thread since quiet_libav() ("" when none).
std::string last_libav_log();
/// libav's words for an error code, with the last logged line when it adds to them.
std::string av_error(int code);

// AVIOContext callbacks over a ByteSource (the opaque pointer), and an io_open that refuses
// every nested open (playlists, references to other files).
int io_read(void* opaque, uint8_t* buf, int n);
int64_t io_seek(void* opaque, int64_t offset, int whence);
int refuse_open(AVFormatContext*, AVIOContext**, const char*, int, AVDictionary**);

}  // namespace xib::media::video_detail
