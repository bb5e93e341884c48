// The feature cache's state (internal to src/io/feature_cache*.cpp): the open HDF5 file, the
// temporary copy while writing, the bound identities, and the file → entry index that lets
// samples of one file share an array.
#pragma once

#include <H5Cpp.h>
#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "xib/feature_cache.h"

namespace xib {

namespace feature_cache_detail {
inline constexpr const char* kRebuildHint =
    "delete the file to rebuild it, or set feature_cache.path to another file (one cache per encoder setup)";
/// "[3, 2]"
std::string shape_text(const std::vector<int64_t>& shape);
/// The stored form of a sample's file: absolute and lexically normal, so spellings agree.
std::string normal_file(const std::filesystem::path& file);
}  // namespace feature_cache_detail

struct FeatureCache::Impl {
  std::filesystem::path path;
  Mode mode = Mode::read;
  std::optional<H5::H5File> file;  // read-only on `path`, or read-write on `temp` while writing
  std::filesystem::path temp;      // non-empty while uncommitted writes exist
  std::map<std::string, FeatureIdentity> bound;
  std::map<std::string, std::map<std::string, std::string>> by_file;  // modality → file → link name
  std::set<std::pair<std::string, std::string>> undecodable;
  mutable std::recursive_mutex mu;

  /// "cache.h5:/image" or "cache.h5:/image/coco:1" for messages.
  std::string where(const std::string& modality, const std::string& key = {}) const {
    return key.empty() ? fmt::format("{}:/{}", path.string(), modality)
                       : fmt::format("{}:/{}/{}", path.string(), modality, key);
  }
  /// Opens `file_path` and checks that it is an xib feature cache of a version we read
  /// (FormatError otherwise); `shown` names it in messages.
  static H5::H5File open_checked(const std::filesystem::path& file_path, const std::filesystem::path& shown,
                                 unsigned flags);
  /// The identity stored in a modality's group, if the group exists.
  std::optional<FeatureIdentity> stored(const std::string& modality) const;
  /// The first write: copy the cache (or start one) under a temporary name, opened read-write.
  void begin_write();
  /// file → link name of the modality's entries (read once, then kept up to date).
  std::map<std::string, std::string>& files_of(const std::string& modality);
  void require_bound(const std::string& modality) const;
  /// The sample's one file of `modality` (UsageError otherwise).
  const std::filesystem::path& file_of(const std::string& modality, const Sample& s) const;
  /// ShapeError unless `shape` fits the identity's feature_shape (-1: any size).
  void check_shape(const FeatureIdentity& id, const std::vector<int64_t>& shape, const std::string& w) const;
};

}  // namespace xib
