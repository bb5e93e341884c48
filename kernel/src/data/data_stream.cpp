// DataStream: LAVIS-style mixing of several datasets (one dataset per batch, drawn ∝ √size by
// default; upstream MultiIterLoader with ratios) over per-dataset shuffled epochs, resumable
// exactly from state(). Every random choice is forked from the seed by position (batch index;
// dataset index and epoch), so the stream is a pure function of (seed, position).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

#include "xib/dataset.h"
#include "xib/error.h"
#include "xib/json_text.h"

namespace xib {

namespace {

constexpr const char* kStateFormat = "xib.data_stream";
constexpr int64_t kStateVersion = 1;
// Independent generator families under one seed.
constexpr uint64_t kBatchStreams = 1;
constexpr uint64_t kOrderStreams = 2;

[[noreturn]] void bad_state(const std::string& what, const std::string& expected, const std::string& got) {
  throw FormatError(ErrorInfo{.what = "malformed data stream state: " + what,
                              .where = "DataStream::restore",
                              .expected = expected,
                              .got = got,
                              .hint = "pass the JSON that DataStream::state() wrote, unchanged"});
}

const nlohmann::json& member(const nlohmann::json& j, const std::string& key, const std::string& at) {
  if (!j.is_object()) bad_state(at + " is not an object", "a JSON object", j.type_name());
  auto it = j.find(key);
  if (it == j.end()) bad_state("missing key '" + key + "' in " + at, "key '" + key + "'", "no such key");
  return *it;
}

int64_t integer(const nlohmann::json& j, const std::string& key, const std::string& at, int64_t min = 0) {
  const nlohmann::json& v = member(j, key, at);
  if (!v.is_number_integer()) bad_state(at + "." + key + " is not an integer", "an integer", json_text(v));
  const int64_t x = v.get<int64_t>();
  if (x < min) bad_state(at + "." + key + " is out of range", fmt::format("an integer >= {}", min), json_text(v));
  return x;
}

std::string text(const nlohmann::json& j, const std::string& key, const std::string& at) {
  const nlohmann::json& v = member(j, key, at);
  if (!v.is_string()) bad_state(at + "." + key + " is not a string", "a string", json_text(v));
  return v.get<std::string>();
}

bool flag(const nlohmann::json& j, const std::string& key, const std::string& at) {
  const nlohmann::json& v = member(j, key, at);
  if (!v.is_boolean()) bad_state(at + "." + key + " is not a boolean", "true or false", json_text(v));
  return v.get<bool>();
}

}  // namespace

std::vector<std::string> mixing_rules() { return {"sqrt", "size", "uniform"}; }

void DataStreamOptions::validate(Validator& v) const {
  v.require(batch_size > 0, "batch_size", "a positive number", batch_size);
  v.one_of("mixing", mixing, mixing_rules());
  v.require(world_size > 0, "world_size", "a positive number of processes", world_size);
  v.require(rank >= 0 && rank < world_size, "rank", fmt::format("a rank in [0, {})", world_size), rank);
}

std::vector<double> mixing_weights(std::span<const size_t> sizes, std::string_view mixing) {
  const std::vector<std::string> rules = mixing_rules();
  if (std::find(rules.begin(), rules.end(), mixing) == rules.end()) {
    throw UsageError(
        ErrorInfo{.what = fmt::format("unknown mixing rule '{}'", mixing), .expected = "one of: " + join_names(rules)});
  }
  std::vector<double> w;
  w.reserve(sizes.size());
  for (size_t n : sizes) {
    if (n == 0) throw UsageError("mixing_weights: a dataset of size 0 cannot be drawn from");
    const double x = static_cast<double>(n);
    w.push_back(mixing == "sqrt" ? std::sqrt(x) : mixing == "size" ? x : 1.0);
  }
  const double total = std::accumulate(w.begin(), w.end(), 0.0);
  for (double& x : w) x /= total;
  return w;
}

DataStream::DataStream(std::vector<std::shared_ptr<const Dataset>> datasets, DataStreamOptions options)
    : datasets_(std::move(datasets)), options_(std::move(options)) {
  if (datasets_.empty()) {
    throw UsageError(ErrorInfo{.what = "a data stream needs at least one dataset",
                               .expected = "one or more datasets",
                               .got = "none",
                               .hint = "list the training datasets under data.train"});
  }
  if (options_.batch_size <= 0) {
    throw UsageError(ErrorInfo{.what = "data stream batch_size must be positive",
                               .expected = "a positive number",
                               .got = std::to_string(options_.batch_size)});
  }
  if (options_.world_size <= 0 || options_.rank < 0 || options_.rank >= options_.world_size) {
    throw UsageError(ErrorInfo{.what = "data stream rank outside the world",
                               .expected = "world_size >= 1 and 0 <= rank < world_size",
                               .got = fmt::format("rank {}, world_size {}", options_.rank, options_.world_size)});
  }
  std::set<std::string> names;
  std::vector<size_t> sizes;
  for (size_t i = 0; i < datasets_.size(); ++i) {
    if (!datasets_[i]) throw UsageError(fmt::format("data stream: dataset {} is null", i));
    const std::string name = datasets_[i]->name();
    if (!names.insert(name).second) {
      throw UsageError(ErrorInfo{.what = fmt::format("two datasets are both named '{}'", name),
                                 .expected = "distinct dataset names",
                                 .got = name,
                                 .hint = "give each dataset section its own name:"});
    }
    if (datasets_[i]->size() == 0) {
      throw UsageError(ErrorInfo{.what = fmt::format("dataset '{}' is empty", name),
                                 .expected = "at least one sample",
                                 .got = "0 samples",
                                 .hint = "check its annotation file (and limit:)"});
    }
    sizes.push_back(datasets_[i]->size());
  }
  weights_ = mixing_weights(sizes, options_.mixing);
  cursors_.resize(datasets_.size());
  for (size_t i = 0; i < datasets_.size(); ++i) reorder(i);
}

void DataStream::reorder(size_t dataset) {
  Cursor& c = cursors_[dataset];
  const size_t n = datasets_[dataset]->size();
  c.order.resize(n);
  std::iota(c.order.begin(), c.order.end(), size_t{0});
  if (!options_.shuffle) return;
  Rng rng =
      Rng(static_cast<uint64_t>(options_.seed)).fork(kOrderStreams).fork(dataset).fork(static_cast<uint64_t>(c.epoch));
  for (size_t i = n; i > 1; --i) std::swap(c.order[i - 1], c.order[rng.below(i)]);  // Fisher–Yates
}

size_t DataStream::choose_dataset(Rng& rng) const {
  const double u = rng.uniform();
  double acc = 0.0;
  for (size_t i = 0; i < weights_.size(); ++i) {
    acc += weights_[i];
    if (u < acc) return i;
  }
  return weights_.size() - 1;  // rounding: the cumulative sum may end just below 1
}

std::vector<Sample> DataStream::next_batch() {
  Rng batch_rng = Rng(static_cast<uint64_t>(options_.seed)).fork(kBatchStreams).fork(static_cast<uint64_t>(batches_));
  const size_t d = choose_dataset(batch_rng);
  Cursor& c = cursors_[d];
  std::vector<Sample> batch;
  batch.reserve(static_cast<size_t>(options_.batch_size));
  // Walk the whole global batch (every rank's cursor moves alike); keep this rank's slice.
  const int64_t first = options_.rank * options_.batch_size, end = first + options_.batch_size;
  for (int64_t j = 0; j < global_batch_size(); ++j) {
    if (j >= first && j < end) {
      Rng sample_rng = batch_rng.fork(static_cast<uint64_t>(j));
      batch.push_back(datasets_[d]->get(c.order[c.position], sample_rng));
      if (batch.back().dataset.empty()) batch.back().dataset = datasets_[d]->name();
    }
    if (++c.position == c.order.size()) {  // epoch done: the next one has its own order
      ++c.epoch;
      c.position = 0;
      reorder(d);
    }
  }
  ++batches_;
  return batch;
}

std::vector<int64_t> DataStream::epochs() const {
  std::vector<int64_t> out;
  for (const Cursor& c : cursors_) out.push_back(c.epoch);
  return out;
}

nlohmann::json DataStream::state() const {
  nlohmann::json ds = nlohmann::json::array();
  for (size_t i = 0; i < datasets_.size(); ++i) {
    ds.push_back({{"name", datasets_[i]->name()},
                  {"size", datasets_[i]->size()},
                  {"epoch", cursors_[i].epoch},
                  {"position", cursors_[i].position}});
  }
  return {{"format", kStateFormat},    {"version", kStateVersion},
          {"seed", options_.seed},     {"batch_size", global_batch_size()},
          {"mixing", options_.mixing}, {"shuffle", options_.shuffle},
          {"batches", batches_},       {"datasets", ds}};
}

void DataStream::restore(const nlohmann::json& state) {
  // Parse everything first; change nothing unless the whole state fits.
  if (text(state, "format", "state") != kStateFormat) {
    bad_state("not a data stream state", std::string("format '") + kStateFormat + "'",
              json_text(member(state, "format", "state")));
  }
  if (const int64_t version = integer(state, "version", "state"); version != kStateVersion) {
    bad_state("unsupported version", std::to_string(kStateVersion), std::to_string(version));
  }
  const int64_t seed = integer(state, "seed", "state", std::numeric_limits<int64_t>::min());
  const int64_t batch_size = integer(state, "batch_size", "state", 1);
  const std::string mixing = text(state, "mixing", "state");
  const bool shuffle = flag(state, "shuffle", "state");
  const int64_t batches = integer(state, "batches", "state");
  const nlohmann::json& ds = member(state, "datasets", "state");
  if (!ds.is_array()) bad_state("state.datasets is not a list", "a JSON array", ds.type_name());

  std::vector<std::string> differences;
  auto differ = [&](const std::string& what, const auto& ours, const auto& theirs) {
    differences.push_back(fmt::format("{}: this stream {}, the state {}", what, ours, theirs));
  };
  if (seed != options_.seed) differ("seed", options_.seed, seed);
  if (batch_size != global_batch_size()) {
    differ(options_.world_size > 1 ? "batch_size (global: world_size × batch_size)" : "batch_size", global_batch_size(),
           batch_size);
  }
  if (mixing != options_.mixing) differ("mixing", options_.mixing, mixing);
  if (shuffle != options_.shuffle) differ("shuffle", options_.shuffle, shuffle);
  if (ds.size() != datasets_.size()) differ("number of datasets", datasets_.size(), ds.size());

  std::vector<Cursor> cursors(datasets_.size());
  for (size_t i = 0; i < ds.size(); ++i) {
    const std::string at = fmt::format("state.datasets[{}]", i);
    const std::string name = text(ds[i], "name", at);
    const int64_t size = integer(ds[i], "size", at, 1);
    const int64_t epoch = integer(ds[i], "epoch", at);
    const int64_t position = integer(ds[i], "position", at);
    if (position >= size)
      bad_state(at + ".position is past the end", fmt::format("< size ({})", size), std::to_string(position));
    if (i >= datasets_.size()) continue;
    if (name != datasets_[i]->name()) differ(fmt::format("dataset {} name", i), datasets_[i]->name(), name);
    if (static_cast<size_t>(size) != datasets_[i]->size())
      differ(fmt::format("dataset {} ('{}') size", i, name), datasets_[i]->size(), size);
    cursors[i].epoch = epoch;
    cursors[i].position = static_cast<size_t>(position);
  }
  if (!differences.empty()) {
    ErrorInfo info{.what = "the data stream state belongs to another stream",
                   .where = "DataStream::restore",
                   .expected = "a state of a stream with the same datasets (names, sizes, order) and options",
                   .got = fmt::format("{} difference(s)", differences.size()),
                   .hint = "resume with the recipe's data: section unchanged, or start the data stream afresh"};
    for (const std::string& d : differences) info.details.emplace_back("differs", d);
    throw UsageError(std::move(info));
  }
  cursors_ = std::move(cursors);
  batches_ = batches;
  for (size_t i = 0; i < datasets_.size(); ++i) reorder(i);
}

}  // namespace xib
