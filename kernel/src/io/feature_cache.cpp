// The feature cache's file (see xib/feature_cache.h): opening and format checks, identities
// (bind), the temporary copy that commit() renames into place, and the HDF5 names of ids.
// Entries are in feature_cache_entries.cpp; the tensor side and the model glue in
// src/engine/cached_features.cpp. Torch-free.
#include "xib/feature_cache.h"

#include <H5Cpp.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <tuple>

#include "feature_cache_impl.h"
#include "hdf5_util.h"
#include "xib/build_info.h"
#include "xib/encoder.h"
#include "xib/feature_cache_seal.h"
#include "xib/files.h"
#include "xib/json_text.h"
#include "xib/modality.h"

namespace xib {

namespace fs = std::filesystem;
using feature_cache_detail::kRebuildHint;
using feature_cache_detail::shape_text;

namespace feature_cache_detail {
std::string shape_text(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }
std::string normal_file(const fs::path& file) {
  std::error_code ec;
  const fs::path absolute = fs::absolute(file, ec);
  if (ec || file.empty()) {
    throw UsageError({.what = "a sample's file has no usable path for the feature cache",
                      .expected = "a file path",
                      .got = file.empty() ? std::string("an empty path") : file.string() + " (" + ec.message() + ")"});
  }
  return absolute.lexically_normal().string();
}
}  // namespace feature_cache_detail

namespace {

void check_modality_name(const std::string& m) {
  if (m.empty() || m.find('/') != std::string::npos || m[0] == '.') {
    throw UsageError({.what = fmt::format("'{}' cannot name a feature cache group", m),
                      .expected = "a modality name without '/' that does not start with '.'"});
  }
}

}  // namespace

std::string escape_feature_key(const std::string& id) {
  if (id.empty()) {
    throw UsageError(
        {.what = "a sample without an id cannot be cached", .expected = "Sample::id set (datasets name every sample)"});
  }
  std::string out;
  for (size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    if (c == '%')
      out += "%25";
    else if (c == '/')
      out += "%2F";
    else if (c == '.' && i == 0)
      out += "%2E";
    else
      out += c;
  }
  return out;
}

std::string unescape_feature_key(const std::string& key) {
  std::string out;
  for (size_t i = 0; i < key.size(); ++i) {
    if (key[i] == '%' && i + 2 < key.size() && std::isxdigit(static_cast<unsigned char>(key[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(key[i + 2]))) {
      out += static_cast<char>(std::stoi(key.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += key[i];
    }
  }
  return out;
}

FeatureIdentity feature_identity(Modality& modality) {
  Encoder& e = modality.encoder();
  const int64_t tokens = e.num_tokens().value_or(-1);
  FeatureIdentity id{.modality = modality.name(),
                     .encoder = e.name(),
                     .weights_id = e.weights_id(),
                     .preprocessing = modality.processor().config(),
                     .feature_shape = {tokens, e.width()}};
  if (modality.is_sequence()) id.feature_shape.insert(id.feature_shape.begin(), -1);
  return id;
}

H5::H5File FeatureCache::Impl::open_checked(const fs::path& file_path, const fs::path& shown, unsigned flags) {
  // libhdf5 is not hardened against hostile or damaged files: it only ever sees a verified one.
  verify_feature_cache(file_path, shown);
  H5::H5File f;
  try {
    f = H5::H5File(file_path.string(), flags);
  } catch (const H5::Exception& e) {
    hdf5::failed("cannot open the feature cache", shown, e);
  }
  const std::string root = shown.string() + ":/";
  const auto format = hdf5::read_string_attr(f, "xib_format", root);
  if (!format || *format != kFormatName) {
    const auto names = hdf5::attribute_names(f);
    throw FormatError({.what = fmt::format("'{}' is an HDF5 file but not an xib feature cache", shown.string()),
                       .where = root,
                       .expected = fmt::format("root attributes xib_format = '{}' and format_version", kFormatName),
                       .got = format ? fmt::format("xib_format = '{}'", *format)
                                     : fmt::format("no xib_format attribute (root attributes: {})",
                                                   names.empty() ? "none" : join_names(names)),
                       .hint = "set feature_cache.path to a new file name: xib never overwrites a file that is "
                               "not its own cache"});
  }
  const auto version = hdf5::read_ints_attr(f, "format_version", root);
  // Format 1 had no seal, so a file that got here is of format 2 or later.
  if (!version || version->size() != 1 || (*version)[0] < 2 || (*version)[0] > kFormatVersion) {
    throw FormatError(
        {.what = fmt::format("feature cache '{}' has a format version this xib cannot read", shown.string()),
         .where = root + " attribute format_version",
         .expected = fmt::format("2 … {}", kFormatVersion),
         .got = version && version->size() == 1 ? std::to_string((*version)[0]) : "no single integer",
         .hint = fmt::format("it was written by another xib (xib_version {}); {}",
                             hdf5::read_string_attr(f, "xib_version", root).value_or("unknown"), kRebuildHint)});
  }
  return f;
}

std::optional<FeatureIdentity> FeatureCache::Impl::stored(const std::string& modality) const {
  if (!file || !file->nameExists(modality)) return std::nullopt;
  const H5::Group g = file->openGroup(modality);
  const std::string w = where(modality);
  FeatureIdentity id{.modality = modality};
  const auto encoder = hdf5::read_string_attr(g, "encoder", w);
  const auto weights = hdf5::read_string_attr(g, "weights_id", w);
  const auto pre = hdf5::read_string_attr(g, "preprocessing", w);
  const auto shape = hdf5::read_ints_attr(g, "feature_shape", w);
  if (!encoder || !weights || !pre || !shape) {
    throw FormatError({.what = fmt::format("feature cache group '{}' lacks its identity attributes", modality),
                       .where = w,
                       .expected = "attributes encoder, weights_id, preprocessing, feature_shape",
                       .got = join_names(hdf5::attribute_names(g)),
                       .hint = kRebuildHint});
  }
  id.encoder = *encoder;
  id.weights_id = *weights;
  id.feature_shape = *shape;
  try {
    id.preprocessing = nlohmann::json::parse(*pre);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError({.what = "the feature cache's preprocessing attribute is not JSON",
                       .where = w + " attribute preprocessing",
                       .got = e.what(),
                       .hint = kRebuildHint});
  }
  return id;
}

void FeatureCache::Impl::begin_write() {
  if (!temp.empty()) return;
  static std::atomic<unsigned> counter{0};
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const fs::path t = dir / fmt::format(".{}.partial-{}-{}", path.filename().string(), ::getpid(), counter++);
  std::error_code ec;
  fs::create_directories(dir, ec);
  try {
    if (file) {
      file->close();
      file.reset();
      if (!fs::copy_file(path, t, fs::copy_options::overwrite_existing, ec)) {
        hdf5::io_failed(fmt::format("cannot copy the feature cache to '{}' to add entries", t.string()), t, ec.value());
      }
      temp = t;
      file = H5::H5File(t.string(), H5F_ACC_RDWR);
    } else {
      // A user block at the start holds the seal that commit() writes (xib/feature_cache_seal.h).
      H5::FileCreatPropList create;
      create.setUserblock(kFeatureCacheUserBlock);
      file = H5::H5File(t.string(), H5F_ACC_EXCL, create);
      temp = t;
      hdf5::write_string_attr(*file, "xib_format", kFormatName);
      hdf5::write_int_attr(*file, "format_version", kFormatVersion);
      hdf5::write_string_attr(*file, "xib_version", XIB_VERSION);
    }
  } catch (const H5::Exception& e) {
    hdf5::failed("cannot write the feature cache", t, e);
  }
}

FeatureCache::FeatureCache(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FeatureCache::FeatureCache(FeatureCache&&) noexcept = default;
FeatureCache& FeatureCache::operator=(FeatureCache&&) noexcept = default;

FeatureCache::~FeatureCache() {
  if (!impl_ || impl_->temp.empty()) return;
  try {
    impl_->file.reset();
  } catch (...) {
  }
  std::error_code ec;
  fs::remove(impl_->temp, ec);
}

FeatureCache FeatureCache::open(const fs::path& file, Mode mode) {
  H5::Exception::dontPrint();
  auto impl = std::make_unique<Impl>();
  impl->path = file;
  impl->mode = mode;
  std::error_code ec;
  const auto status = fs::status(file, ec);
  if (!fs::exists(status)) {
    if (mode == Mode::read) {
      throw IoError({.what = "the feature cache does not exist",
                     .where = file.string(),
                     .hint = "build it first: set feature_cache.build: true"});
    }
    return FeatureCache(std::move(impl));
  }
  if (fs::is_directory(status)) {
    throw IoError({.what = "the feature cache path is a folder",
                   .where = file.string(),
                   .expected = "an HDF5 file",
                   .hint = "set feature_cache.path to a file name (features.h5)"});
  }
  impl->file = Impl::open_checked(file, file, H5F_ACC_RDONLY);
  return FeatureCache(std::move(impl));
}

void FeatureCache::bind(const FeatureIdentity& id) {
  std::lock_guard lock(impl_->mu);
  check_modality_name(id.modality);
  if (id.feature_shape.size() < 2 || id.feature_shape.back() <= 0) {
    throw UsageError({.what = "a feature identity needs a shape [T, D] or [-1, T, D] with D > 0",
                      .where = impl_->where(id.modality),
                      .got = shape_text(id.feature_shape)});
  }
  std::optional<FeatureIdentity> have;
  if (auto it = impl_->bound.find(id.modality); it != impl_->bound.end()) {
    have = it->second;
  } else {
    try {
      have = impl_->stored(id.modality);
    } catch (const H5::Exception& e) {
      hdf5::failed("cannot read the feature cache", impl_->path, e);
    }
  }
  if (have) {
    std::vector<std::tuple<std::string, std::string, std::string>> diffs;  // attribute, model's, cache's
    if (have->encoder != id.encoder) diffs.emplace_back("encoder", id.encoder, have->encoder);
    if (have->weights_id != id.weights_id) diffs.emplace_back("weights_id", id.weights_id, have->weights_id);
    if (have->preprocessing != id.preprocessing) {
      diffs.emplace_back("preprocessing", json_text(id.preprocessing), json_text(have->preprocessing));
    }
    if (have->feature_shape != id.feature_shape) {
      diffs.emplace_back("feature_shape", shape_text(id.feature_shape), shape_text(have->feature_shape));
    }
    if (!diffs.empty()) {
      std::vector<std::string> names;
      for (const auto& [a, e, g] : diffs) names.push_back(a);
      ErrorInfo info{.what = fmt::format(
                         "feature cache '{}' is stale for modality '{}': its {} differ{} from the model's",
                         impl_->path.string(), id.modality, join_names(names, " and "), names.size() == 1 ? "s" : ""),
                     .where = fmt::format("{} attribute {}", impl_->where(id.modality), std::get<0>(diffs.front())),
                     .expected = std::get<1>(diffs.front()) + " (the model's)",
                     .got = std::get<2>(diffs.front()) + " (the cache's)",
                     .hint = kRebuildHint};
      for (size_t i = 1; i < diffs.size(); ++i) {
        const auto& [a, e, g] = diffs[i];
        info.details.emplace_back(a, fmt::format("model {}, cache {}", e, g));
      }
      throw StaleCacheError(std::move(info));
    }
    impl_->bound[id.modality] = id;
    return;
  }
  if (impl_->mode == Mode::read) {
    std::vector<std::string> groups;
    if (impl_->file) groups = hdf5::member_names(*impl_->file);
    throw NotFoundError({.what = fmt::format("the feature cache has no features of modality '{}'", id.modality),
                         .where = impl_->path.string(),
                         .expected = fmt::format("a group /{}", id.modality),
                         .got = groups.empty() ? "no groups" : "groups " + join_names(groups),
                         .hint = "build it: set feature_cache.build: true"});
  }
  try {
    impl_->begin_write();
    H5::Group g = impl_->file->createGroup(id.modality);
    hdf5::write_string_attr(g, "modality", id.modality);
    hdf5::write_string_attr(g, "encoder", id.encoder);
    hdf5::write_string_attr(g, "weights_id", id.weights_id);
    hdf5::write_string_attr(g, "preprocessing", json_text(id.preprocessing));
    hdf5::write_ints_attr(g, "feature_shape", id.feature_shape);
  } catch (const H5::Exception& e) {
    hdf5::failed("cannot write the feature cache", impl_->temp, e);
  }
  impl_->bound[id.modality] = id;
  impl_->by_file[id.modality];  // a new group has no entries yet
}

bool FeatureCache::bound(const std::string& modality) const {
  std::lock_guard lock(impl_->mu);
  return impl_->bound.count(modality) > 0;
}

std::optional<FeatureIdentity> FeatureCache::stored_identity(const std::string& modality) const {
  std::lock_guard lock(impl_->mu);
  try {
    return impl_->stored(modality);
  } catch (const H5::Exception& e) {
    hdf5::failed("cannot read the feature cache", impl_->path, e);
  }
}

void FeatureCache::commit() {
  std::lock_guard lock(impl_->mu);
  if (impl_->temp.empty()) return;
  const fs::path temp = impl_->temp;
  try {
    impl_->file->flush(H5F_SCOPE_GLOBAL);
    impl_->file->close();
    impl_->file.reset();
  } catch (const H5::Exception& e) {
    hdf5::failed("cannot finish writing the feature cache", temp, e);
  }
  seal_feature_cache(temp);
  fsync_path(temp, false);
  if (::rename(temp.c_str(), impl_->path.c_str()) != 0) {
    hdf5::io_failed(fmt::format("cannot rename '{}' to '{}'", temp.string(), impl_->path.string()), impl_->path, errno);
  }
  impl_->temp.clear();
  fsync_path(impl_->path.has_parent_path() ? impl_->path.parent_path() : fs::path("."), true);
  impl_->file = Impl::open_checked(impl_->path, impl_->path, H5F_ACC_RDONLY);
}

bool FeatureCache::has_uncommitted_writes() const {
  std::lock_guard lock(impl_->mu);
  return !impl_->temp.empty();
}

const fs::path& FeatureCache::path() const { return impl_->path; }
FeatureCache::Mode FeatureCache::mode() const { return impl_->mode; }

}  // namespace xib
