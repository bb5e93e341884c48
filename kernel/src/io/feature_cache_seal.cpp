// The feature cache's seal (xib/feature_cache_seal.h): the checksummed header in the HDF5 user
// block, written at commit and verified before libhdf5 opens the file. XXH3-128 from libxxhash's
// header (inlined: no library to link), read in 1 MiB chunks. Torch-free.
#include "xib/feature_cache_seal.h"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "xib/error.h"

namespace xib {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kFirstLine = "xib feature cache\n";
/// The first bytes of an HDF5 superblock (at the start of a plain file, after the user block here).
constexpr std::string_view kHdf5Signature("\x89HDF\r\n\x1a\n", 8);
constexpr std::string_view kHint =
    "delete the file to rebuild it, or set feature_cache.path to another file (one cache per encoder setup)";

[[noreturn]] void cannot_read(const fs::path& file, const std::string& what, int err) {
  throw IoError({.what = what, .where = file.string(), .got = err ? std::strerror(err) : "a short read"});
}

[[noreturn]] void malformed(const std::string& shown, const std::string& got) {
  throw FormatError({.what = fmt::format("the feature cache '{}' has a malformed seal", shown),
                     .where = shown + " (user block)",
                     .expected = "'xib feature cache', then 'checksum: xxh3-128 <32 hex digits>' and 'bytes: <count>'",
                     .got = got,
                     .hint = std::string(kHint)});
}

std::string printable(std::string_view s) {
  std::string out;
  for (const char c : s.substr(0, 60)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? std::string(1, c) : fmt::format("\\x{:02x}", u);
  }
  return out + (s.size() > 60 ? "…" : "");
}

}  // namespace

std::string format_feature_cache_seal(const FeatureCacheSeal& seal) {
  std::string text = fmt::format("{}checksum: {} {}\nbytes: {}\n", kFirstLine, seal.algorithm, seal.digest, seal.bytes);
  text.resize(kFeatureCacheUserBlock, '\0');
  return text;
}

bool has_feature_cache_seal(std::string_view head) { return head.starts_with(kFirstLine); }

FeatureCacheSeal parse_feature_cache_seal(std::string_view block, const std::string& shown) {
  if (!has_feature_cache_seal(block)) malformed(shown, "no 'xib feature cache' line");
  const size_t end = block.find('\0');
  const size_t stop = end == std::string_view::npos ? block.size() : end;
  std::string_view text = block.substr(kFirstLine.size(), stop - kFirstLine.size());
  if (end == std::string_view::npos && block.size() < kFeatureCacheUserBlock) {
    malformed(shown, fmt::format("a user block of {} bytes", block.size()));
  }
  FeatureCacheSeal seal;
  bool have_checksum = false, have_bytes = false;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    if (nl == std::string_view::npos) malformed(shown, fmt::format("an unfinished line '{}'", printable(text)));
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    if (line.starts_with("checksum: ") && !have_checksum) {
      const std::string_view v = line.substr(10);
      const size_t sp = v.find(' ');
      seal.algorithm = std::string(v.substr(0, sp));
      seal.digest = sp == std::string_view::npos ? std::string() : std::string(v.substr(sp + 1));
      if (seal.algorithm != "xxh3-128") {
        throw FormatError({.what = fmt::format("the feature cache '{}' is sealed with an unknown checksum", shown),
                           .where = shown + " (user block)",
                           .expected = "xxh3-128",
                           .got = printable(seal.algorithm),
                           .hint = "it was written by a newer xib; " + std::string(kHint)});
      }
      const bool hex =
          seal.digest.size() == 32 && seal.digest.find_first_not_of("0123456789abcdef") == std::string::npos;
      if (!hex) malformed(shown, fmt::format("checksum '{}'", printable(seal.digest)));
      have_checksum = true;
    } else if (line.starts_with("bytes: ") && !have_bytes) {
      const std::string_view v = line.substr(7);
      const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), seal.bytes);
      if (ec != std::errc() || ptr != v.data() + v.size() || v.empty()) {
        malformed(shown, fmt::format("bytes '{}'", printable(v)));
      }
      have_bytes = true;
    } else {
      malformed(shown, fmt::format("the line '{}'", printable(line)));
    }
  }
  if (!have_checksum || !have_bytes) malformed(shown, have_checksum ? "no 'bytes:' line" : "no 'checksum:' line");
  return seal;
}

FeatureCacheSeal compute_feature_cache_seal(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) cannot_read(file, "cannot open the feature cache", errno);
  in.seekg(static_cast<std::streamoff>(kFeatureCacheUserBlock));
  if (!in) cannot_read(file, "the feature cache is shorter than its user block", 0);
  XXH3_state_t* state = XXH3_createState();
  if (state == nullptr) throw std::bad_alloc();
  XXH3_128bits_reset(state);
  std::vector<char> buf(size_t{1} << 20);
  uint64_t bytes = 0;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<size_t>(in.gcount());
    XXH3_128bits_update(state, buf.data(), n);
    bytes += n;
  }
  const bool failed = in.bad();
  const XXH128_hash_t h = XXH3_128bits_digest(state);
  XXH3_freeState(state);
  if (failed) cannot_read(file, "cannot read the feature cache", errno);
  return {.digest = fmt::format("{:016x}{:016x}", h.high64, h.low64), .bytes = bytes};
}

void seal_feature_cache(const fs::path& file) {
  {  // The HDF5 part must start after the user block, or the seal would overwrite it.
    std::ifstream in(file, std::ios::binary);
    if (!in) cannot_read(file, "cannot open the feature cache", errno);
    std::string sig(8, '\0');
    in.seekg(static_cast<std::streamoff>(kFeatureCacheUserBlock));
    in.read(sig.data(), 8);
    if (!in || sig != kHdf5Signature) {
      throw FormatError({.what = "only an HDF5 file with a 512-byte user block can be sealed as a feature cache",
                         .where = file.string(),
                         .expected = "the HDF5 signature at byte 512",
                         .got = "none there",
                         .hint = "create the file with a user block (h5py: h5py.File(path, 'w', userblock_size=512))"});
    }
  }
  const FeatureCacheSeal seal = compute_feature_cache_seal(file);
  std::fstream out(file, std::ios::binary | std::ios::in | std::ios::out);
  if (!out) cannot_read(file, "cannot open the feature cache to seal it", errno);
  const std::string block = format_feature_cache_seal(seal);
  out.write(block.data(), static_cast<std::streamsize>(block.size()));
  out.flush();
  if (!out) {
    throw IoError(
        {.what = "cannot write the feature cache's seal", .where = file.string(), .got = std::strerror(errno)});
  }
}

void verify_feature_cache(const fs::path& file, const fs::path& shown) {
  std::ifstream in(file, std::ios::binary);
  if (!in) cannot_read(file, "cannot open the feature cache", errno);
  std::string head(kFeatureCacheUserBlock, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  if (in.bad()) cannot_read(file, "cannot read the feature cache", errno);
  in.close();
  const std::string name = shown.string();
  if (!has_feature_cache_seal(head)) {
    const bool hdf5 = head.starts_with(kHdf5Signature);
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    throw FormatError(
        {.what = hdf5 ? fmt::format("'{}' is an HDF5 file but not a sealed xib feature cache", name)
                      : fmt::format("'{}' is not an HDF5 file, so not an xib feature cache", name),
         .where = name,
         .expected = "an HDF5 file written by xib, starting with its sealed header ('xib feature cache', a checksum)",
         .got = hdf5 ? "an HDF5 file without xib's header (written by another program, or a cache of format 1)"
                     : fmt::format("a {}-byte file without the HDF5 signature", ec ? 0 : size),
         .hint = "set feature_cache.path to a new file name: xib never overwrites a file that is not its own "
                 "cache" +
                 std::string(hdf5 ? " (a format-1 cache of an older xib: delete it to rebuild it)" : "")});
  }
  if (head.size() < kFeatureCacheUserBlock) {
    throw FormatError({.what = fmt::format("the feature cache '{}' is shorter than its header", name),
                       .where = name,
                       .expected = fmt::format("{} bytes of header, then the HDF5 part", kFeatureCacheUserBlock),
                       .got = fmt::format("{} bytes in all", head.size()),
                       .hint = "it was cut short; " + std::string(kHint)});
  }
  const FeatureCacheSeal want = parse_feature_cache_seal(head, name);
  const FeatureCacheSeal got = compute_feature_cache_seal(file);
  if (got.bytes != want.bytes) {
    throw FormatError(
        {.what = fmt::format("the feature cache '{}' is {} than when xib sealed it", name,
                             got.bytes < want.bytes ? "shorter" : "longer"),
         .where = name,
         .expected = fmt::format("{} bytes after the user block", want.bytes),
         .got = fmt::format("{} bytes", got.bytes),
         .hint = "it was cut short (a full disk, an interrupted copy), or extended or changed by another program "
                 "(xib re-seals what it writes); " +
                 std::string(kHint)});
  }
  if (got.digest != want.digest) {
    throw FormatError(
        {.what = fmt::format("the feature cache '{}' does not match its checksum", name),
         .where = name,
         .expected = "xxh3-128 " + want.digest,
         .got = "xxh3-128 " + got.digest,
         .hint = "it was damaged or changed by another program (xib re-seals what it writes); " + std::string(kHint)});
  }
}

}  // namespace xib
