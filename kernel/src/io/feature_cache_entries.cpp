// The feature cache's entries (see xib/feature_cache.h): lookups that refuse entries made from
// another file, reads, writes, links between samples of one file, and the ids of a modality.
#include <H5Cpp.h>
#include <fmt/format.h>

#include "feature_cache_impl.h"
#include "hdf5_util.h"
#include "xib/feature_cache.h"

namespace xib {

namespace fs = std::filesystem;
using feature_cache_detail::kRebuildHint;
using feature_cache_detail::normal_file;
using feature_cache_detail::shape_text;

std::map<std::string, std::string>& FeatureCache::Impl::files_of(const std::string& modality) {
  auto it = by_file.find(modality);
  if (it != by_file.end()) return it->second;
  auto& m = by_file[modality];
  const H5::Group g = file->openGroup(modality);
  for (const auto& name : hdf5::member_names(g)) {
    const H5::DataSet d = g.openDataSet(name);
    if (auto f = hdf5::read_string_attr(d, "file", where(modality, name))) m.emplace(*f, name);
  }
  return m;
}

void FeatureCache::Impl::require_bound(const std::string& modality) const {
  if (!bound.count(modality)) {
    throw UsageError({.what = fmt::format("modality '{}' is not bound to the feature cache", modality),
                      .where = path.string(),
                      .hint = "call FeatureCache::bind(feature_identity(modality)) first"});
  }
}

const fs::path& FeatureCache::Impl::file_of(const std::string& modality, const Sample& s) const {
  auto it = s.inputs.find(modality);
  if (it == s.inputs.end() || it->second.size() != 1) {
    throw UsageError(
        {.what = fmt::format("sample '{}' needs exactly one {} file for the feature cache", s.id, modality),
         .where = fmt::format("sample '{}'", s.id),
         .expected = "one file",
         .got = std::to_string(it == s.inputs.end() ? 0 : it->second.size())});
  }
  return it->second.front();
}

void FeatureCache::Impl::check_shape(const FeatureIdentity& id, const std::vector<int64_t>& shape,
                                     const std::string& w) const {
  bool ok = shape.size() == id.feature_shape.size();
  for (size_t i = 0; ok && i < shape.size(); ++i) {
    ok = shape[i] > 0 && (id.feature_shape[i] < 0 || id.feature_shape[i] == shape[i]);
  }
  if (!ok) {
    throw ShapeError({.what = fmt::format("feature cache entry of modality '{}' has the wrong shape", id.modality),
                      .where = w,
                      .expected = fmt::format("{} (-1: any size)", shape_text(id.feature_shape)),
                      .got = shape_text(shape),
                      .hint = kRebuildHint});
  }
}
bool FeatureCache::has(const std::string& modality, const Sample& sample) const {
  std::lock_guard lock(impl_->mu);
  impl_->require_bound(modality);
  const std::string key = escape_feature_key(sample.id);
  const fs::path& file = impl_->file_of(modality, sample);
  if (!impl_->file || !impl_->file->nameExists(modality)) return false;
  try {
    const H5::Group g = impl_->file->openGroup(modality);
    if (!g.nameExists(key)) return false;
    const H5::DataSet d = g.openDataSet(key);
    const std::string w = impl_->where(modality, key);
    const std::string want = normal_file(file);
    const auto stored = hdf5::read_string_attr(d, "file", w);
    if (stored != want) {
      throw StaleCacheError(
          {.what = fmt::format("feature cache entry '{}' ({}) was made from another file", sample.id, modality),
           .where = w + " attribute file",
           .expected = want + " (the sample's)",
           .got = stored.value_or("no file attribute") + " (the cache's)",
           .hint = "the data changed since the cache was built: " + std::string(kRebuildHint)});
    }
    const auto bytes = hdf5::read_ints_attr(d, "file_bytes", w);
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    if (!ec && bytes && bytes->size() == 1 && static_cast<uintmax_t>((*bytes)[0]) != size) {
      throw StaleCacheError(
          {.what = fmt::format("feature cache entry '{}' ({}) was made from an older version of its file", sample.id,
                               modality),
           .where = w + " attribute file_bytes",
           .expected = fmt::format("{} bytes (the file now)", size),
           .got = fmt::format("{} bytes (when cached)", (*bytes)[0]),
           .hint = "the data changed since the cache was built: " + std::string(kRebuildHint)});
    }
    return true;
  } catch (const H5::Exception& e) {
    hdf5::failed("cannot read the feature cache", impl_->path, e);
  }
}

FeatureArray FeatureCache::read(const std::string& modality, const Sample& sample) const {
  std::lock_guard lock(impl_->mu);
  if (!has(modality, sample)) {
    throw NotFoundError(
        {.what = fmt::format("sample '{}' has no {} features in the feature cache", sample.id, modality),
         .where = impl_->where(modality, escape_feature_key(sample.id)),
         .hint = "build the cache: set feature_cache.build: true"});
  }
  const std::string key = escape_feature_key(sample.id);
  const std::string w = impl_->where(modality, key);
  FeatureArray out;
  try {
    const H5::DataSet d = impl_->file->openGroup(modality).openDataSet(key);
    if (d.getTypeClass() != H5T_FLOAT) {
      throw FormatError({.what = "a feature cache entry is not floating-point", .where = w, .hint = kRebuildHint});
    }
    const H5::DataSpace space = d.getSpace();
    std::vector<hsize_t> dims(static_cast<size_t>(space.getSimpleExtentNdims()));
    space.getSimpleExtentDims(dims.data());
    size_t n = 1;
    bool overflow = false;
    for (hsize_t x : dims) {
      out.shape.push_back(static_cast<int64_t>(x));
      overflow = overflow || __builtin_mul_overflow(n, static_cast<size_t>(x), &n);
    }
    impl_->check_shape(impl_->bound.at(modality), out.shape, w);
    // The values must be in the file: a damaged or crafted entry cannot make xib allocate more.
    const size_t element = d.getDataType().getSize();
    const hsize_t stored = d.getStorageSize();
    if (overflow || element == 0 || n > stored / element) {
      throw FormatError({.what = "a feature cache entry claims more values than the file holds for it",
                         .where = w,
                         .expected = fmt::format("{} bytes of values for shape {}", stored, shape_text(out.shape)),
                         .got = overflow ? std::string("a shape whose size overflows")
                                         : fmt::format("{} values of {} bytes", n, element),
                         .hint = kRebuildHint});
    }
    out.values.resize(n);
    d.read(out.values.data(), H5::PredType::NATIVE_FLOAT);
  } catch (const H5::Exception& e) {
    hdf5::failed("cannot read a feature cache entry", w, e);
  }
  return out;
}

void FeatureCache::write(const std::string& modality, const Sample& sample, const FeatureArray& features) {
  std::lock_guard lock(impl_->mu);
  if (impl_->mode == Mode::read) {
    throw UsageError({.what = "the feature cache was opened read-only",
                      .where = impl_->path.string(),
                      .hint = "open it with FeatureCache::Mode::build (feature_cache.build: true)"});
  }
  impl_->require_bound(modality);
  const std::string key = escape_feature_key(sample.id);
  const std::string w = impl_->where(modality, key);
  impl_->check_shape(impl_->bound.at(modality), features.shape, w);
  size_t n = 1;
  for (int64_t x : features.shape) n *= static_cast<size_t>(x);
  if (n != features.values.size()) {
    throw ShapeError({.what = "feature values do not fill their shape",
                      .where = w,
                      .expected = fmt::format("{} values for {}", n, shape_text(features.shape)),
                      .got = std::to_string(features.values.size())});
  }
  const std::string file = normal_file(impl_->file_of(modality, sample));
  std::error_code ec;
  const auto bytes = fs::file_size(file, ec);
  try {
    impl_->begin_write();
    H5::Group g = impl_->file->openGroup(modality);
    auto& files = impl_->files_of(modality);
    if (g.nameExists(key)) {
      if (H5Ldelete(g.getId(), key.c_str(), H5P_DEFAULT) < 0) {
        throw IoError({.what = "cannot replace a feature cache entry", .where = w});
      }
      for (auto it = files.begin(); it != files.end();) it = it->second == key ? files.erase(it) : std::next(it);
    }
    if (auto it = files.find(file); it != files.end()) {
      if (H5Lcreate_hard(g.getId(), it->second.c_str(), g.getId(), key.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0) {
        throw IoError({.what = "cannot link a feature cache entry", .where = w});
      }
      return;
    }
    std::vector<hsize_t> dims(features.shape.begin(), features.shape.end());
    H5::DataSet d =
        g.createDataSet(key, H5::PredType::IEEE_F32LE, H5::DataSpace(static_cast<int>(dims.size()), dims.data()));
    d.write(features.values.data(), H5::PredType::NATIVE_FLOAT);
    hdf5::write_string_attr(d, "file", file);
    hdf5::write_int_attr(d, "file_bytes", ec ? -1 : static_cast<int64_t>(bytes));
    files.emplace(file, key);
  } catch (const H5::Exception& e) {
    hdf5::failed("cannot write a feature cache entry", w, e);
  }
}

bool FeatureCache::link_same_file(const std::string& modality, const Sample& sample) {
  std::lock_guard lock(impl_->mu);
  if (impl_->mode == Mode::read || !impl_->file) return false;
  impl_->require_bound(modality);
  if (!impl_->file->nameExists(modality)) return false;
  const std::string file = normal_file(impl_->file_of(modality, sample));
  try {
    auto& files = impl_->files_of(modality);
    auto it = files.find(file);
    if (it == files.end()) return false;
    impl_->begin_write();  // reopens the copy: the link goes there
    H5::Group g = impl_->file->openGroup(modality);
    const std::string key = escape_feature_key(sample.id);
    if (g.nameExists(key)) H5Ldelete(g.getId(), key.c_str(), H5P_DEFAULT);
    if (H5Lcreate_hard(g.getId(), it->second.c_str(), g.getId(), key.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0) {
      throw IoError({.what = "cannot link a feature cache entry", .where = impl_->where(modality, key)});
    }
    return true;
  } catch (const H5::Exception& e) {
    hdf5::failed("cannot write the feature cache", impl_->path, e);
  }
}

std::vector<std::string> FeatureCache::ids(const std::string& modality) const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> out;
  if (!impl_->file || !impl_->file->nameExists(modality)) return out;
  try {
    for (const auto& name : hdf5::member_names(impl_->file->openGroup(modality)))
      out.push_back(unescape_feature_key(name));
  } catch (const H5::Exception& e) {
    hdf5::failed("cannot read the feature cache", impl_->path, e);
  }
  return out;
}

void FeatureCache::mark_undecodable(const std::string& modality, const std::string& id) {
  std::lock_guard lock(impl_->mu);
  impl_->undecodable.emplace(modality, id);
}

bool FeatureCache::undecodable(const std::string& modality, const std::string& id) const {
  std::lock_guard lock(impl_->mu);
  return impl_->undecodable.count({modality, id}) > 0;
}

}  // namespace xib
