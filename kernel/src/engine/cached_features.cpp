// The feature cache's tensor side and model glue (see xib/feature_cache.h): entries as tensors,
// encode() served from the cache, and filling the cache with the frozen encoders.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "xib/error.h"
#include "xib/feature_cache.h"
#include "xib/log.h"
#include "xib/modality.h"
#include "xib/progress.h"
#include "xib/xinstructblip.h"

namespace xib {

namespace {

/// The model's modalities the samples carry, in model order (NotFoundError for unknown ones).
std::vector<std::string> modalities_of(XInstructBlip& model, std::span<const Sample> samples) {
  std::set<std::string> used;
  for (const auto& s : samples) {
    for (const auto& [name, files] : s.inputs) {
      model.modality(name);  // NotFoundError listing the model's modalities
      used.insert(name);
    }
  }
  std::vector<std::string> out;
  for (const auto& name : model.modality_names()) {
    if (used.count(name)) out.push_back(name);
  }
  return out;
}

void bind_all(XInstructBlip& model, FeatureCache& cache, const std::vector<std::string>& modalities) {
  for (const auto& name : modalities) {
    if (!cache.bound(name)) cache.bind(feature_identity(model.modality(name)));
  }
}

/// `s` with only its file of `modality` (what the encoder needs).
Sample only(const Sample& s, const std::string& modality) {
  Sample out;
  out.id = s.id;
  out.inputs[modality] = s.inputs.at(modality);
  out.dataset = s.dataset;
  return out;
}

}  // namespace

Tensor FeatureCache::get(const std::string& modality, const Sample& sample) const {
  FeatureArray a = read(modality, sample);
  Tensor t = torch::empty(a.shape, torch::kFloat32);
  std::memcpy(t.data_ptr<float>(), a.values.data(), a.values.size() * sizeof(float));
  return t;
}

void FeatureCache::put(const std::string& modality, const Sample& sample, const Tensor& features) {
  const Tensor t = features.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  FeatureArray a;
  a.shape.assign(t.sizes().begin(), t.sizes().end());
  a.values.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
  write(modality, sample, a);
}

EncodedFeatures encode_cached(XInstructBlip& model, FeatureCache& cache, std::span<const Sample> samples) {
  if (samples.empty()) throw UsageError({.what = "encode_cached() got no samples", .where = cache.path().string()});
  const auto mods = modalities_of(model, samples);
  if (mods.empty()) {
    throw UsageError({.what = "no sample of the batch has an input file",
                      .where = fmt::format("sample '{}'", samples.front().id),
                      .expected = "inputs for one of: " + join_names(model.modality_names())});
  }
  bind_all(model, cache, mods);
  EncodedFeatures out;
  std::vector<std::vector<Tensor>> rows(mods.size());
  for (size_t si = 0; si < samples.size(); ++si) {
    const Sample& s = samples[si];
    std::vector<Tensor> row;
    bool skipped = false;
    for (const auto& m : mods) {
      if (cache.has(m, s)) {  // also: exactly one file, the one the entry was made from
        row.push_back(cache.get(m, s));
      } else if (cache.undecodable(m, s.id)) {
        skipped = true;
        break;
      } else {
        throw NotFoundError(
            {.what = fmt::format("sample '{}' has no {} features in the feature cache", s.id, m),
             .where = fmt::format("{}:/{}/{}", cache.path().string(), m, escape_feature_key(s.id)),
             .expected = "an entry for every sample of the data",
             .got = "none",
             .hint = cache.mode() == FeatureCache::Mode::build
                         ? "fill the cache with the samples first (fill_feature_cache; training does it from its "
                           "datasets)"
                         : "set feature_cache.build: true to encode and store the missing samples"});
      }
    }
    if (skipped) {
      out.skipped_ids.push_back(s.id);
      out.skipped_reasons.push_back("undecodable (as the feature cache recorded)");
      continue;
    }
    out.kept.push_back(si);
    for (size_t k = 0; k < mods.size(); ++k) rows[k].push_back(row[k]);
  }
  if (out.kept.empty()) return out;
  for (size_t k = 0; k < mods.size(); ++k) {
    const Tensor& first = rows[k].front();
    for (size_t r = 1; r < rows[k].size(); ++r) {
      if (rows[k][r].sizes() != first.sizes()) {
        throw ShapeError({.what = fmt::format("cached {} features of one batch differ in shape", mods[k]),
                          .where = fmt::format("sample '{}'", samples[out.kept[r]].id),
                          .expected = fmt::format("{} (as sample '{}')", shape_of(first), samples[out.kept[0]].id),
                          .got = shape_of(rows[k][r]),
                          .hint = model.modality(mods[k]).is_sequence()
                                      ? "sequences of one batch need the same number of segments"
                                      : ""});
      }
    }
    out.by_modality[mods[k]] = torch::stack(rows[k]);
  }
  return out;
}

FeatureFillReport fill_feature_cache(XInstructBlip& model, FeatureCache& cache, std::span<const Sample> samples,
                                     const FeatureFillOptions& options) {
  if (options.batch_size <= 0) {
    throw UsageError({.what = "the feature cache's encoder batch must be positive",
                      .where = "FeatureFillOptions.batch_size",
                      .got = std::to_string(options.batch_size)});
  }
  const auto started = std::chrono::steady_clock::now();
  const auto mods = modalities_of(model, samples);
  bind_all(model, cache, mods);

  // Distinct (modality, id): one file per id, the first sample of each id stands for all.
  FeatureFillReport report;
  std::map<std::string, std::vector<Sample>> missing;  // modality → samples to store, data order
  std::map<std::pair<std::string, std::string>, std::filesystem::path> seen;
  for (const auto& s : samples) {
    for (const auto& [m, files] : s.inputs) {
      if (files.size() != 1) {
        throw UsageError({.what = fmt::format("sample '{}' has {} {} files", s.id, files.size(), m),
                          .where = fmt::format("sample '{}'", s.id),
                          .expected = "exactly one file per modality"});
      }
      auto [it, fresh] = seen.emplace(std::make_pair(m, s.id), files.front());
      if (!fresh) {
        if (it->second != files.front()) {
          throw UsageError({.what = fmt::format("two samples share the id '{}' but not their {} file", s.id, m),
                            .where = fmt::format("sample '{}'", s.id),
                            .expected = fmt::format("one file per sample id: {}", it->second.string()),
                            .got = files.front().string(),
                            .hint = "the feature cache keys features by sample id: give the datasets distinct "
                                    "names or the entries distinct ids"});
        }
        continue;
      }
      ++report.entries;
      if (cache.has(m, s)) {
        ++report.present;
      } else {
        missing[m].push_back(only(s, m));
      }
    }
  }
  int64_t to_do = 0;
  for (const auto& [m, list] : missing) to_do += static_cast<int64_t>(list.size());
  if (to_do > 0 && cache.mode() == FeatureCache::Mode::read) {
    const auto& [m, list] = *missing.begin();
    throw NotFoundError(
        {.what = fmt::format("{} of {} samples are missing from the read-only feature cache", to_do, report.entries),
         .where = cache.path().string(),
         .expected = "every sample of the data cached",
         .got = fmt::format("no {} features of sample '{}' (and {} more)", m, list.front().id, to_do - 1),
         .hint = "set feature_cache.build: true to encode and store them"});
  }
  if (to_do == 0) {
    log::info("feature cache {}: all {} entries already there", cache.path().string(), report.entries);
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return report;
  }

  std::optional<Progress> bar;
  if (options.progress) {
    Progress::Options o;
    o.label = "feature cache";
    o.total = to_do;
    o.unit = "sample";
    bar.emplace(o);
  }
  for (auto& [m, list] : missing) {
    // Samples of a file already stored become links; the others are encoded, one per file.
    std::vector<Sample> queue;
    std::map<std::string, std::vector<const Sample*>> followers;  // file → later samples of it
    std::set<std::string> queued;
    for (const auto& s : list) {
      const std::string file = s.inputs.at(m).front().string();
      if (queued.count(file)) {
        followers[file].push_back(&s);
      } else if (cache.link_same_file(m, s)) {
        ++report.linked;
        if (bar) bar->advance();
      } else {
        queued.insert(file);
        queue.push_back(s);
      }
    }
    auto finish = [&](const Sample& s, bool stored) {
      const std::string file = s.inputs.at(m).front().string();
      std::vector<const Sample*> group = {&s};
      for (const Sample* f : followers[file]) group.push_back(f);
      for (size_t i = 0; i < group.size(); ++i) {
        if (!stored) {
          cache.mark_undecodable(m, group[i]->id);
          ++report.undecodable;
        } else if (i > 0) {
          cache.link_same_file(m, *group[i]);
          ++report.linked;
        }
      }
      if (bar) bar->advance(static_cast<int64_t>(group.size()));
    };
    auto encode_batch = [&](std::span<const Sample> batch) {
      const EncodedFeatures f = model.encode(batch, /*training=*/false);
      std::set<size_t> kept(f.kept.begin(), f.kept.end());
      for (size_t r = 0; r < f.kept.size(); ++r) {
        cache.put(m, batch[f.kept[r]], f.by_modality.at(m)[static_cast<int64_t>(r)]);
        ++report.encoded;
        finish(batch[f.kept[r]], true);
      }
      for (size_t i = 0; i < batch.size(); ++i) {
        if (!kept.count(i)) finish(batch[i], false);
      }
    };
    for (size_t at = 0; at < queue.size(); at += static_cast<size_t>(options.batch_size)) {
      const size_t n = std::min(queue.size() - at, static_cast<size_t>(options.batch_size));
      const std::span<const Sample> batch(queue.data() + at, n);
      try {
        encode_batch(batch);
      } catch (const ShapeError&) {
        if (n == 1 || !model.modality(m).is_sequence()) throw;
        // Sequences of different lengths cannot share a batch: one at a time.
        for (size_t i = 0; i < n; ++i) encode_batch(batch.subspan(i, 1));
      }
    }
  }
  if (bar) bar->finish();
  cache.commit();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  log::info("feature cache {}: {} entries, {} already there, {} encoded, {} linked to a shared file{} ({:.1f} s)",
            cache.path().string(), report.entries, report.present, report.encoded, report.linked,
            report.undecodable ? fmt::format(", {} undecodable (skipped)", report.undecodable) : "", report.seconds);
  return report;
}

}  // namespace xib
