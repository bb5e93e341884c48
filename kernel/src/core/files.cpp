// Whole-file reading and writing, and fsync (xib/files.h).
#include "xib/files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "xib/error.h"

namespace xib {

std::optional<std::string> unreadable_reason(const std::filesystem::path& file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(file, ec);
  if (!fs::exists(st)) return "no such file";
  if (fs::is_directory(st)) return "a folder";
  if (fs::is_fifo(st)) return "a FIFO (named pipe)";
  if (fs::is_socket(st)) return "a socket";
  if (fs::is_block_file(st)) return "a block device";
  if (fs::is_character_file(st)) return "a character device";
  if (!fs::is_regular_file(st)) return "not a regular file";
  if (::access(file.c_str(), R_OK) != 0) return std::strerror(errno);
  return std::nullopt;
}

std::string read_text_file(const std::filesystem::path& file, std::string_view what) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    throw IoError({.what = fmt::format("cannot read the {}: it does not exist", what),
                   .where = file.string(),
                   .expected = fmt::format("an existing {}", what),
                   .got = "no such file"});
  }
  if (std::filesystem::is_directory(file, ec)) {
    throw IoError({.what = fmt::format("cannot read the {}: it is a folder", what),
                   .where = file.string(),
                   .expected = "a regular file",
                   .got = "a folder"});
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw IoError(
        {.what = fmt::format("cannot read the {}", what), .where = file.string(), .got = std::strerror(errno)});
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad())
    throw IoError({.what = fmt::format("cannot read the {}", what), .where = file.string(), .got = "a read error"});
  return buffer.str();
}

nlohmann::json read_json_file(const std::filesystem::path& file, std::string_view what, std::string_view hint) {
  const std::string text = read_text_file(file, what);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError({.what = fmt::format("the {} is not valid JSON", what),
                       .where = file.string(),
                       .expected = "JSON",
                       .got = e.what(),
                       .hint = std::string(hint)});
  }
}

void fsync_path(const std::filesystem::path& p, bool directory) {
  auto fail = [&](const std::string& what, int err) {
    throw IoError({.what = what,
                   .where = p.string(),
                   .got = std::strerror(err),
                   .hint = err == ENOSPC ? "free some disk space" : "check the folder's permissions"});
  };
  const int fd = ::open(p.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) fail(fmt::format("cannot open '{}' to flush it", p.string()), errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL) fail(fmt::format("cannot flush '{}' to disk", p.string()), err);
}

void write_text_file(const std::filesystem::path& file, std::string_view text) {
  auto fail = [&](const std::string& what, int err) {
    throw IoError({.what = what,
                   .where = file.string(),
                   .got = std::strerror(err),
                   .hint = "check that the folder exists, is writable and the disk is not full"});
  };
  std::error_code ec;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  const std::filesystem::path tmp = file.string() + fmt::format(".tmp-{}", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create a temporary file", errno);
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      fail("cannot write", err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail("cannot flush to disk", err);
  }
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail("cannot move the temporary file into place", err);
  }
}

}  // namespace xib
