// The feature cache's seal: libhdf5 is not hardened against hostile or damaged files, so xib
// never hands it a cache it has not verified. Every cache starts with a 512-byte HDF5 user block
// (libhdf5 and h5py skip it) that xib fills at commit with a text header:
//
//   xib feature cache\n
//   checksum: xxh3-128 <32 lowercase hex digits>\n     (of every byte after the user block)
//   bytes: <count of those bytes>\n
//   \0 … (padding to 512)
//
// Opening a cache reads the header, checks the size and the checksum, and only then opens the
// HDF5 part. A file changed by anything but xib (h5py included), cut short or damaged is refused
// with a FormatError naming what disagrees; seal_feature_cache() re-seals a file on purpose.
// Torch-free.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace xib {

/// Size of the user block that holds the seal (the HDF5 part starts after it).
inline constexpr uint64_t kFeatureCacheUserBlock = 512;

struct FeatureCacheSeal {
  std::string algorithm = "xxh3-128";
  std::string digest = {};  ///< 32 lowercase hex digits
  uint64_t bytes = 0;       ///< size of the HDF5 part
};

/// The header's text, padded with '\0' to kFeatureCacheUserBlock bytes.
std::string format_feature_cache_seal(const FeatureCacheSeal& seal);
/// Parses a user block (the file's first bytes, at most kFeatureCacheUserBlock of them).
/// FormatError naming `shown` for anything but a complete, well-formed header.
FeatureCacheSeal parse_feature_cache_seal(std::string_view block, const std::string& shown);
/// True when `head` (a file's first bytes) starts with the seal's first line.
bool has_feature_cache_seal(std::string_view head);

/// The seal `file` should carry: the checksum and size of everything after its user block.
/// IoError when it cannot be read.
FeatureCacheSeal compute_feature_cache_seal(const std::filesystem::path& file);
/// Writes the seal of `file` into its user block (the file must have been created with one).
void seal_feature_cache(const std::filesystem::path& file);
/** Verifies `file` before libhdf5 sees it: FormatError when it has no seal (not an xib cache,
    an HDF5 file written by another program, or a cache of format version 1), when the size
    differs (cut short or extended) or the checksum does not match (damaged or changed outside
    xib); IoError when it cannot be read. `shown` names the file in messages. */
void verify_feature_cache(const std::filesystem::path& file, const std::filesystem::path& shown);

}  // namespace xib
