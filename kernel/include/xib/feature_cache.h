// Feature cache: the frozen encoders' outputs in one HDF5 file, keyed by modality and sample id,
// so training (and evaluation) can read features instead of decoding files and running the
// encoders. Every modality group records what made its features — the encoder's name, its
// weights hash, the processor's preprocessing settings, the feature shape — and a cache that
// disagrees with the model using it is refused (StaleCacheError naming the attribute).
//
//   FeatureCache cache = FeatureCache::open("features.h5", FeatureCache::Mode::build);
//   fill_feature_cache(model, cache, samples, {.batch_size = 16});   // encode what is missing
//   EncodedFeatures f = encode_cached(model, cache, batch);           // instead of model.encode
//
// Layout (h5py: `h5py.File(p)["image"]["coco:391895"][()]` is the [T, D] float32 array):
//
//   (user block, 512 bytes) the seal: a checksum of the rest, verified before libhdf5 reads the
//                           file (xib/feature_cache_seal.h); a file changed outside xib is refused
//   /                       xib_format = "xib.feature_cache", format_version = 2, xib_version
//   /<modality>             modality, encoder, weights_id, preprocessing (JSON text),
//                           feature_shape (int64 [T, D], or [-1, T, D] for a sequence; -1 = varies)
//   /<modality>/<sample id> float32 [T, D] (sequence: [S, T, D]); attributes file (absolute path)
//                           and file_bytes (its size). '%' and '/' in ids are written %25 / %2F.
//                           Samples of one file share one array (HDF5 hard links), so the
//                           questions of one image store its features once.
//
// Writing never changes the file in place: the first write copies the cache (or starts a new
// one) under a temporary name beside it, and commit() fsyncs and renames it over the original.
// A crash loses the uncommitted entries, never the cache. Torch-free.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xib/config.h"
#include "xib/error.h"
#include "xib/sample.h"
#include "xib/tensor.h"

namespace xib {

class Modality;
class XInstructBlip;
struct EncodedFeatures;

/// A cache (or one of its entries) made by another encoder, other weights, other
/// preprocessing or from another file than the model and sample asking for it.
class StaleCacheError : public FormatError {
 public:
  using FormatError::FormatError;
  const char* kind() const noexcept override { return "StaleCacheError"; }
};

/// A recipe's `feature_cache:` section (kind: train: run.feature_cache).
struct FeatureCacheOptions {
  std::filesystem::path path = {};  ///< the HDF5 file (relative to the recipe); empty: no cache
  bool build = true;                ///< encode and add what is missing (false: all must be cached)
  int64_t batch_size = 0;           ///< encoder batch while building (0: the data batch size)

  template <class V>
  void fields(V& v) {
    v("path", path, "HDF5 file of frozen-encoder features (empty: off); features are computed without augmentation");
    v("build", build, "encode and store the samples missing from the cache before training");
    v("batch_size", batch_size, "encoder batch while building (0: the data batch size)");
  }
  void validate(Validator& v) const {
    v.require(batch_size >= 0, "batch_size", "0 (the data batch size) or a positive number", batch_size);
  }
  bool enabled() const { return !path.empty(); }
};

/// What must match between a cache's modality group and the model reading it.
struct FeatureIdentity {
  std::string modality = {};
  std::string encoder = {};                                 ///< Encoder::name()
  std::string weights_id = {};                              ///< Encoder::weights_id()
  nlohmann::json preprocessing = nlohmann::json::object();  ///< Processor::config()
  /// [T, D] ([-1, T, D] for a sequence); T = -1 when the encoder's token count varies.
  std::vector<int64_t> feature_shape = {};
};

/// The identity of one of a model's modalities (its encoder, processor and sequence flag).
FeatureIdentity feature_identity(Modality& modality);

/// One entry's float32 values, row-major in `shape`.
struct FeatureArray {
  std::vector<int64_t> shape = {};
  std::vector<float> values = {};
};

class FeatureCache {
 public:
  static constexpr int64_t kFormatVersion = 2;  ///< 2: the sealed user block (feature_cache_seal.h)
  static constexpr const char* kFormatName = "xib.feature_cache";
  enum class Mode { read, build };

  /// read: the file must exist (IoError). build: a missing file is created on the first write.
  /// A file that is not HDF5, or HDF5 without xib's format attributes, is a FormatError; so is
  /// a newer format version.
  static FeatureCache open(const std::filesystem::path& file, Mode mode);
  ~FeatureCache();  ///< drops uncommitted writes (their temporary file is removed)
  FeatureCache(FeatureCache&&) noexcept;
  FeatureCache& operator=(FeatureCache&&) noexcept;

  /// Checks a modality's group against `id`: a StaleCacheError naming every attribute that
  /// differs (expected: the model's value, got: the cache's) with a hint. An absent group is
  /// created (build mode) or a NotFoundError (read mode). Binding again is free.
  void bind(const FeatureIdentity& id);
  bool bound(const std::string& modality) const;
  /// The identity stored for a modality, if its group exists.
  std::optional<FeatureIdentity> stored_identity(const std::string& modality) const;

  /// Whether the sample's features for `modality` are stored. An entry stored from another
  /// file (or a file whose size changed) is a StaleCacheError. The modality must be bound.
  bool has(const std::string& modality, const Sample& sample) const;
  /// NotFoundError when absent; FormatError when the stored array does not fit the identity.
  FeatureArray read(const std::string& modality, const Sample& sample) const;
  /// Stores (or replaces) an entry; a sample whose file is already stored under another id
  /// becomes a link to that entry (`features` are then not written again).
  void write(const std::string& modality, const Sample& sample, const FeatureArray& features);
  /** The stored features: [T, D] (sequence: [S, T, D]) float32. */
  Tensor get(const std::string& modality, const Sample& sample) const;
  /** features [T, D] (sequence: [S, T, D]), any floating dtype, stored as float32. */
  void put(const std::string& modality, const Sample& sample, const Tensor& features);

  /// Build mode: when the sample's file is already stored under another id, adds the sample as
  /// a link to that entry and returns true (nothing to encode); false otherwise.
  bool link_same_file(const std::string& modality, const Sample& sample);

  /// Sample ids stored for a modality (unescaped), in HDF5's name order.
  std::vector<std::string> ids(const std::string& modality) const;
  /// Samples whose file failed to decode while filling (skip_undecodable); not stored.
  void mark_undecodable(const std::string& modality, const std::string& id);
  bool undecodable(const std::string& modality, const std::string& id) const;

  /// Publishes the writes: fsync the temporary file, rename it over the cache, fsync the
  /// folder. Without writes it does nothing. The cache stays open for reading.
  void commit();
  bool has_uncommitted_writes() const;
  const std::filesystem::path& path() const;
  Mode mode() const;

 private:
  struct Impl;
  explicit FeatureCache(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The HDF5 link name of a sample id ('%' → %25, '/' → %2F, a leading '.' → %2E) and back.
std::string escape_feature_key(const std::string& id);
std::string unescape_feature_key(const std::string& key);

/** XInstructBlip::encode() served from the cache: for every modality the samples carry, the
    stored [T, D] ([S, T, D]) arrays stacked → [B', T, D] ([B', S, T, D]). Binds the model's
    modalities (StaleCacheError on a mismatch). A sample marked undecodable while filling is
    skipped (EncodedFeatures::skipped_ids); any other sample that is missing is a NotFoundError
    whose hint says to build the cache. */
EncodedFeatures encode_cached(XInstructBlip& model, FeatureCache& cache, std::span<const Sample> samples);

struct FeatureFillOptions {
  int64_t batch_size = 16;  ///< samples per encoder call
  bool progress = true;     ///< draw a progress bar (xib/progress.h)
};

struct FeatureFillReport {
  int64_t entries = 0;      ///< distinct (modality, sample id) pairs asked for
  int64_t present = 0;      ///< already in the cache
  int64_t encoded = 0;      ///< computed by the encoder and stored
  int64_t linked = 0;       ///< stored as a link to another sample of the same file
  int64_t undecodable = 0;  ///< skipped (skip_undecodable): their file failed to decode
  double seconds = 0;
};

/// Encodes every distinct (modality, sample id) of `samples` missing from the cache with
/// model.encode(…, training=false) — eval preprocessing, no augmentation — in batches, stores
/// the features and commits. Read mode: a NotFoundError listing how many are missing.
FeatureFillReport fill_feature_cache(XInstructBlip& model, FeatureCache& cache, std::span<const Sample> samples,
                                     const FeatureFillOptions& options = {});

}  // namespace xib
