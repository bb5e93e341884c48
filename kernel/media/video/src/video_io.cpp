// libav plumbing of the video library (video_decode.h): the log kept for messages, the
// AVIOContext callbacks over a ByteSource, and the refusal of nested opens.
extern "C" {
#include <libavformat/avformat.h>
#include <libavutil/log.h>
}

#include <fmt/format.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

#include "video_decode.h"

namespace xib::media::video_detail {

namespace {
thread_local char g_last_log[512];

void log_callback(void* avcl, int level, const char* format, va_list args) {
  if (level > AV_LOG_ERROR) return;
  int prefix = 1;
  char line[sizeof g_last_log];
  if (av_log_format_line2(avcl, level, format, args, line, sizeof line, &prefix) < 0) return;
  size_t n = std::strlen(line);
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ')) line[--n] = '\0';
  const char* text = line;
  std::string context;
  if (line[0] == '[') {  // "[mov,mp4 @ 0x55d8…] moov atom not found" → "mov,mp4: moov atom not found"
    const char* at = std::strstr(line, " @ 0x");
    const char* close = std::strstr(line, "] ");
    if (at != nullptr && close != nullptr && at < close) {
      context.assign(line + 1, static_cast<size_t>(at - line - 1));
      text = close + 2;
    }
  }
  if (*text == '\0') return;
  std::snprintf(g_last_log, sizeof g_last_log, "%s%s%s", context.c_str(), context.empty() ? "" : ": ", text);
}

}  // namespace

void quiet_libav() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_callback(log_callback); });
  g_last_log[0] = '\0';
}

std::string last_libav_log() { return g_last_log; }

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

}  // namespace xib::media::video_detail
