// Datasets and the training data stream. A Dataset is an indexed collection of Samples
// (xib/sample.h) of one task; readers of real layouts (LAVIS annotation JSON: `caption`, `qa`)
// live in datasets/ and register under the kind "dataset", chosen by a recipe section's
// `reader:` key. A DataStream mixes several datasets into batches the way LAVIS's
// MultiIterLoader does: each batch comes from one dataset, drawn with probability ∝ √(size)
// (SPEC "Training"); each dataset walks through its own shuffled epochs. Everything is a pure
// function of the seed and the position, so state() / restore() resume a run exactly.
// Torch-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "xib/config.h"
#include "xib/runtime.h"
#include "xib/sample.h"

namespace xib {

class Dataset {
 public:
  static constexpr const char* kKind = "dataset";
  virtual ~Dataset() = default;

  /// The dataset's name in the recipe ("coco_caption"); Sample::dataset and ids carry it.
  virtual std::string name() const = 0;
  /// Number of samples (annotation entries), > 0 for a usable dataset.
  virtual size_t size() const = 0;
  /// Modalities its samples carry ("image"; a DisCRn pair carries two).
  virtual std::vector<std::string> modalities() const = 0;
  /// "caption", "qa", … (Sample::task of every sample).
  virtual std::string task() const = 0;
  /// Sample `index` (< size(), else an Error). `rng` draws whatever is random per example
  /// (the instruction template, the training answer), so the same rng state gives the same
  /// sample.
  virtual Sample get(size_t index, Rng& rng) const = 0;
};

/// The dataset a recipe section describes: `reader:` picks the registered factory (the
/// datasets plugin provides `caption` and `qa`), which binds the whole section to its own
/// options. A missing or unknown reader is an error listing the registered ones.
std::shared_ptr<Dataset> create_dataset(const ConfigSection& section);

/// How a DataStream batches and mixes (recipe `data:` keys next to `train:`).
struct DataStreamOptions {
  int64_t batch_size = 8;  ///< samples per batch of one process (B)
  int64_t seed = 42;
  /// sqrt: P(dataset) ∝ √size (upstream); size: ∝ size; uniform: equal.
  std::string mixing = "sqrt";
  /// false: every epoch walks a dataset in file order.
  bool shuffle = true;
  /// Data-parallel training (set by the trainer, not recipe keys): process `rank` of
  /// `world_size` takes samples [rank·B, (rank+1)·B) of each global batch of world_size·B.
  int64_t rank = 0;
  int64_t world_size = 1;

  template <class V>
  void fields(V& v) {
    v("batch_size", batch_size, "samples per batch (all from one dataset)");
    v("seed", seed, "seeds the epoch orders, the dataset choice and per-sample randomness");
    v("mixing", mixing, "dataset probability: sqrt (∝ √size) | size | uniform");
    v("shuffle", shuffle, "shuffle each epoch (false: file order)");
  }
  void validate(Validator& v) const;
};

/// The mixing rules DataStreamOptions::mixing accepts.
std::vector<std::string> mixing_rules();
/// Normalised probabilities of drawing each dataset (sizes > 0); `mixing` one of mixing_rules().
std::vector<double> mixing_weights(std::span<const size_t> sizes, std::string_view mixing);

/// The recipe's `data:` section: the training datasets (reader sections) plus the stream keys.
struct DataOptions {
  std::vector<ConfigSection> train;  ///< each handed to create_dataset()
  DataStreamOptions stream;

  template <class V>
  void fields(V& v) {
    v("train", train, "training datasets: one section per dataset, each with a reader: key");
    stream.fields(v);
  }
  void validate(Validator& v) const;
};

/// Endless batches from several datasets. Global batch b picks one dataset (∝ its mixing weight,
/// from a generator forked from the seed by b) and takes world_size·batch_size consecutive
/// entries of that dataset's current epoch order (sample j's own randomness forked from that
/// generator by j); at the end of an epoch the dataset reshuffles (its order for epoch e is
/// forked from the seed by dataset index and e) and its epoch counter grows. Each process keeps
/// the slice of its rank: with world_size W, global batch b of every rank is exactly batch b of
/// one process at batch W·B, split in W, and positions count global samples.
class DataStream {
 public:
  /// Datasets must be non-empty, non-null, with distinct names. Throws UsageError otherwise.
  DataStream(std::vector<std::shared_ptr<const Dataset>> datasets, DataStreamOptions options);

  /// The next batch: this rank's batch_size samples of the next global batch (one dataset).
  std::vector<Sample> next_batch();

  /// Everything needed to continue exactly here: the options that shape the order (batch_size is
  /// the global batch, world_size·B), the datasets' names and sizes, batches drawn, and each
  /// dataset's epoch and position. Every rank's state is the same.
  nlohmann::json state() const;
  /// Continue from a state() of a stream over the same datasets with the same options.
  /// A malformed state is a FormatError; one from other datasets, sizes or options a
  /// UsageError naming every difference.
  void restore(const nlohmann::json& state);

  /// Probability of each dataset, in construction order.
  const std::vector<double>& weights() const { return weights_; }
  /// Completed epochs per dataset.
  std::vector<int64_t> epochs() const;
  /// Batches drawn so far (global batches: every rank draws each one).
  int64_t batches() const { return batches_; }
  /// world_size · batch_size.
  int64_t global_batch_size() const { return options_.batch_size * options_.world_size; }
  const std::vector<std::shared_ptr<const Dataset>>& datasets() const { return datasets_; }
  const DataStreamOptions& options() const { return options_; }

 private:
  struct Cursor {
    int64_t epoch = 0;
    size_t position = 0;        // next entry of `order` to hand out
    std::vector<size_t> order;  // this epoch's permutation of [0, size)
  };
  void reorder(size_t dataset);  // fill cursors_[dataset].order for its current epoch
  size_t choose_dataset(Rng& rng) const;

  std::vector<std::shared_ptr<const Dataset>> datasets_;
  DataStreamOptions options_;
  std::vector<double> weights_;
  std::vector<Cursor> cursors_;
  int64_t batches_ = 0;
};

/// A stream over the datasets of a `data:` section (each made by create_dataset()).
DataStream make_data_stream(const DataOptions& options);

}  // namespace xib
