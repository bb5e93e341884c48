// The byte source of the video decoder (video_decode.h) and the options' validation.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "video_decode.h"
#include "xib/error.h"
#include "xib/files.h"
#include "xib/media/video.h"

namespace xib::media {

void VideoReadOptions::validate(Validator& v) const {
  v.require(max_frames >= 1 && max_frames <= 100'000'000, "max_frames", "1 … 1e8", max_frames);
  v.require(max_pixels >= 1 && max_pixels <= int64_t{1} << 30, "max_pixels", "1 … 2^30", max_pixels);
  v.require(std::isfinite(max_seconds) && max_seconds > 0 && max_seconds <= 1e7, "max_seconds", "0 < seconds ≤ 1e7",
            max_seconds);
  v.require(std::isfinite(start_seconds) && start_seconds >= 0 && start_seconds <= 1e7, "start_seconds",
            "0 … 1e7 seconds", start_seconds);
  v.require(std::isfinite(end_seconds) && (end_seconds == 0 || (end_seconds > start_seconds && end_seconds <= 1e7)),
            "end_seconds", "0 (the end of the clip) or after start_seconds", end_seconds);
}

namespace video_detail {

ByteSource::ByteSource(const std::filesystem::path& file) {
  if (auto why = unreadable_reason(file)) {
    throw IoError({.what = "cannot read the video file",
                   .where = file.string(),
                   .expected = "a readable video file",
                   .got = *why,
                   .hint = "check the path and the file's permissions"});
  }
  fd_ = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd_ < 0 || ::fstat(fd_, &st) != 0) {
    const int e = errno;
    if (fd_ >= 0) ::close(fd_);
    throw IoError({.what = "cannot read the video file",
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
    if (r <= 0) {
      io_error_ = r < 0 ? std::strerror(errno) : "the file became shorter while it was read";
      return -1;
    }
    got += r;
  }
  pos_ += got;
  return got;
}

}  // namespace video_detail
}  // namespace xib::media
