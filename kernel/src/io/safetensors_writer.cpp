// Writing safetensors files: header encoding (padded to 8 bytes like the reference writer) and
// an atomic file write (temp file, fsync, rename).
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (moved here in fmt 11)
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "safetensors_errors.h"
#include "xib/error.h"
#include "xib/io/safetensors.h"
#include "xib/json_text.h"

namespace xib::io {

namespace fs = std::filesystem;
using safetensors_detail::fail;
using safetensors_detail::where;
using json = nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Writer

namespace {

struct Chunk {
  const std::byte* data;
  size_t size;
};

/// Validates `records` and returns the length prefix + padded header; `chunks` gets the data.
std::string encode_header(const std::vector<TensorRecord>& records, const std::map<std::string, std::string>& metadata,
                          const std::string& target, std::vector<Chunk>& chunks) {
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  std::set<std::string_view> seen;
  uint64_t offset = 0;
  for (const TensorRecord& r : records) {
    if (r.name == "__metadata__")
      fail(target, r.name, "a tensor may not be called \"__metadata__\"", "another name", r.name);
    if (!seen.insert(r.name).second)
      fail(target, r.name, "duplicate tensor name", "each name once", fmt::format("'{}' twice", r.name));
    uint64_t numel = 0, bytes = 0;
    if (!checked_byte_size(r.shape, r.dtype, numel, bytes))
      fail(target, r.name, "bad shape", "non-negative sizes whose byte size fits in 64 bits",
           fmt::format("[{}]", fmt::join(r.shape, ", ")));
    if (!r.contiguous())
      fail(target, r.name, "tensor is not contiguous", "a contiguous (row-major) tensor",
           fmt::format("strides [{}] for shape [{}]", fmt::join(r.strides, ", "), fmt::join(r.shape, ", ")),
           "make it contiguous before writing");
    const uint64_t esize = dtype_size(r.dtype);
    uint64_t start = 0, stop = 0;
    if (r.storage_offset < 0 || __builtin_mul_overflow(static_cast<uint64_t>(r.storage_offset), esize, &start) ||
        __builtin_add_overflow(start, bytes, &stop) || stop > r.storage_bytes || (bytes > 0 && r.data == nullptr))
      fail(target, r.name, "tensor data out of range",
           fmt::format("{} bytes from element {} within {} storage bytes", bytes, r.storage_offset, r.storage_bytes),
           r.data ? "less storage" : "no data");
    chunks.push_back({r.data ? r.data + start : nullptr, static_cast<size_t>(bytes)});
    h[r.name] = {
        {"dtype", dtype_to_safetensors(r.dtype)}, {"shape", r.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text;
  try {
    text = h.dump();  // strict: a name that is not UTF-8 is refused, never altered
  } catch (const nlohmann::ordered_json::exception& e) {
    fail(target, {}, "tensor name or metadata is not valid UTF-8", "UTF-8 text", e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  for (size_t i = 0; i < 8; ++i) out[i] = static_cast<char>((static_cast<uint64_t>(text.size()) >> (8 * i)) & 0xff);
  return out + text;
}

[[noreturn]] void write_failed(const std::string& what, const fs::path& where, int err) {
  throw IoError({.what = what,
                 .where = where.string(),
                 .got = std::strerror(err),
                 .hint = err == ENOENT   ? "the folder does not exist; create it first"
                         : err == ENOSPC ? "free some disk space"
                                         : "check the folder's permissions"});
}

}  // namespace

std::string serialize_safetensors(const std::vector<TensorRecord>& records,
                                  const std::map<std::string, std::string>& metadata) {
  std::vector<Chunk> chunks;
  std::string out = encode_header(records, metadata, "<memory>", chunks);
  for (const Chunk& c : chunks)
    if (c.size) out.append(reinterpret_cast<const char*>(c.data), c.size);
  return out;
}

void write_safetensors(const fs::path& file, const std::vector<TensorRecord>& records,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<Chunk> chunks;
  const std::string header = encode_header(records, metadata, file.string(), chunks);
  const fs::path dir = file.parent_path().empty() ? fs::path(".") : file.parent_path();

  static std::atomic<unsigned> counter{0};
  fs::path tmp;
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    const auto tick = std::chrono::steady_clock::now().time_since_epoch().count();
    tmp = dir / fmt::format(".{}.tmp-{}-{}-{:x}", file.filename().string(), ::getpid(), counter++, tick & 0xffffff);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && (errno != EEXIST || attempt > 100))
      write_failed(fmt::format("cannot create a file in '{}' to write '{}'", dir.string(), file.string()), dir, errno);
  }
  // Until the rename succeeds, the temporary file goes on any way out.
  struct Cleanup {
    int& fd;
    const fs::path& tmp;
    bool done = false;
    ~Cleanup() {
      if (fd >= 0) ::close(fd);
      if (!done) ::unlink(tmp.c_str());
    }
  } cleanup{fd, tmp};

  auto write_all = [&](const void* p, size_t n) {
    const auto* c = static_cast<const char*>(p);
    while (n > 0) {
      const ssize_t w = ::write(fd, c, std::min<size_t>(n, size_t{1} << 30));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) write_failed(fmt::format("cannot write '{}'", file.string()), tmp, w < 0 ? errno : EIO);
      c += w;
      n -= static_cast<size_t>(w);
    }
  };
  write_all(header.data(), header.size());
  for (const Chunk& c : chunks)
    if (c.size) write_all(c.data, c.size);
  if (::fsync(fd) != 0) write_failed(fmt::format("cannot flush '{}' to disk", file.string()), tmp, errno);
  const int closed = ::close(fd);
  fd = -1;
  if (closed != 0) write_failed(fmt::format("cannot write '{}'", file.string()), tmp, errno);
  if (::rename(tmp.c_str(), file.c_str()) != 0)
    write_failed(fmt::format("cannot replace '{}'", file.string()), file, errno);
  cleanup.done = true;
  // Make the rename itself durable; a failure here leaves a complete file, so it is not an error.
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace xib::io
