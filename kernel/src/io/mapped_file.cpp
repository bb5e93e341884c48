#include "mapped_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "xib/error.h"

namespace xib::io {

MappedFile::MappedFile(const std::filesystem::path& file, std::string_view kind) {
  const std::string source = file.string();
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw IoError({.what = fmt::format("cannot open {} '{}'", kind, source),
                   .where = source,
                   .got = std::strerror(err),
                   .hint = err == ENOENT ? "check the path" : "check the file's permissions"});
  }
  struct stat st {};
  const bool stat_ok = ::fstat(fd, &st) == 0;
  const int stat_err = errno;
  if (!stat_ok || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError({.what = fmt::format("cannot read {} '{}'", kind, source),
                   .where = source,
                   .expected = "a regular file",
                   .got = stat_ok ? "not a regular file" : std::strerror(stat_err)});
  }
  const auto size = static_cast<size_t>(st.st_size);
  if (size > 0) {
    void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    if (addr == MAP_FAILED) {
      ::close(fd);
      throw IoError(
          {.what = fmt::format("cannot map {} '{}'", kind, source), .where = source, .got = std::strerror(err)});
    }
    data_ = static_cast<const std::byte*>(addr);
    size_ = size;
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
}

std::string first_bytes_text(std::span<const std::byte> bytes) {
  std::string hex, text;
  for (const std::byte b : bytes) {
    const auto c = static_cast<unsigned char>(b);
    hex += fmt::format("{}{:02x}", hex.empty() ? "" : " ", c);
    text += std::isprint(c) ? static_cast<char>(c) : '.';
  }
  return fmt::format("first bytes {} (\"{}\")", hex, text);
}

}  // namespace xib::io
