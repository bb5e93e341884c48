// `kind: train` (xib/train/train_options.h): the training loop — data stream → frozen encoders →
// aligners → prompt → frozen LLM loss → AdamW on the aligners — with resumable, crash-safe
// checkpoints, clean stops on SIGINT/SIGTERM, progress, JSONL metrics, plots and a report.
#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <iostream>

#include "../plugin/builtins.h"
#include "run_report.h"
#include "xib/aligner.h"
#include "xib/device.h"
#include "xib/encoder.h"
#include "xib/feature_cache.h"
#include "xib/language_model.h"
#include "xib/log.h"
#include "xib/metrics.h"
#include "xib/modality.h"
#include "xib/plot.h"
#include "xib/progress.h"
#include "xib/recipe.h"
#include "xib/runtime.h"
#include "xib/stop_signal.h"
#include "xib/tokenizer.h"
#include "xib/train/checkpoint.h"
#include "xib/train/grad_clip.h"
#include "xib/train/lr_schedule.h"
#include "xib/train/rng_state.h"
#include "xib/train/train_options.h"
#include "xib/trained_run.h"

namespace xib::train {

void RunOptions::validate(Validator& v) const {
  v.require(steps > 0, "steps", "a positive number", steps);
  v.require(accumulate > 0, "accumulate", "a positive number", accumulate);
  v.require(max_grad_norm >= 0, "max_grad_norm", "0 (off) or a positive number", max_grad_norm);
  v.require(lr > 0, "lr", "a positive number", lr);
  v.require(min_lr >= 0 && min_lr <= lr, "min_lr", "between 0 and lr", min_lr);
  v.require(warmup_steps >= 0, "warmup_steps", "0 or more", warmup_steps);
  v.require(warmup_start_lr >= 0, "warmup_start_lr", "0 or more", warmup_start_lr);
  v.one_of("decay", decay, {"cosine", "linear", "constant"});
  v.require(steps_per_epoch >= 0, "steps_per_epoch", "0 or more", steps_per_epoch);
  v.require(checkpoint_every >= 0, "checkpoint_every", "0 (only at the end) or a positive number", checkpoint_every);
  v.require(keep_checkpoints >= 0, "keep_checkpoints", "0 (all) or a positive number", keep_checkpoints);
  v.require(stop_after >= 0, "stop_after", "0 (off) or a positive number", stop_after);
  v.one_of("precision", precision, {"f32", "bf16"});
  v.require(is_device_spelling(device), "device", "cpu, cuda or cuda:N", device);
  v.require(!out.empty(), "out", "a folder", "an empty path");
}

namespace {

/// Augmentation streams of the modalities' processors, by modality.
std::vector<std::pair<std::string, Rng*>> augmentation_rngs(XInstructBlip& model) {
  std::vector<std::pair<std::string, Rng*>> out;
  for (const auto& name : model.modality_names()) {
    if (Rng* r = model.modality(name).processor().augmentation_rng()) out.emplace_back(name, r);
  }
  return out;
}

NamedTensors rng_tensors(XInstructBlip& model) {
  NamedTensors t = rng_state_tensors();
  for (auto& [name, rng] : augmentation_rngs(model)) t.emplace_back("rng/processor." + name, rng_state_tensor(*rng));
  for (const auto& name : model.modality_names()) {
    Tensor d = model.modality(name).aligner().dropout_rng_state();
    if (d.defined()) t.emplace_back("rng/aligner." + name, d);
  }
  return t;
}

void restore_rngs(XInstructBlip& model, const NamedTensors& tensors) {
  restore_rng_state(tensors);
  for (auto& [name, rng] : augmentation_rngs(model)) {
    const std::string key = "rng/processor." + name;
    bool found = false;
    for (const auto& [n, t] : tensors) {
      if (n == key) {
        set_rng_state_tensor(*rng, t);
        found = true;
      }
    }
    if (!found) log::warn("checkpoint has no augmentation state for modality '{}'; it restarts from its seed", name);
  }
  for (const auto& name : model.modality_names()) {
    Aligner& aligner = model.modality(name).aligner();
    if (!aligner.dropout_rng_state().defined()) continue;
    bool found = false;
    for (const auto& [n, t] : tensors) {
      if (n == "rng/aligner." + name) {
        aligner.set_dropout_rng_state(t);
        found = true;
      }
    }
    if (!found) log::warn("checkpoint has no dropout state for the aligner of '{}'; it restarts from its seed", name);
  }
}

/// The recipe's parts that must not change between a run and its resumption.
void check_resumable(const Checkpoint& ckpt, const nlohmann::json& frozen, const std::filesystem::path& run_dir) {
  const auto& stored = ckpt.meta.value("frozen_models", nlohmann::json());
  if (!stored.is_null() && stored != frozen) {
    throw ConfigError({.what = "cannot resume: the frozen models differ from the ones this run was trained with",
                       .where = ckpt.dir.string(),
                       .expected = stored.dump(),
                       .got = frozen.dump(),
                       .hint = fmt::format("use the same models, or start a new run: set run.out to another folder "
                                           "or run.resume=false (which overwrites {})",
                                           run_dir.string())});
  }
}

/// run.feature_cache: open the cache and store what the training datasets need that it lacks
/// (eval preprocessing: cached features mean no training-time augmentation). The fill draws from
/// its own generator and leaves the global random streams as they were, so the data order, the
/// dropout and a resumed run are those of an uncached run.
std::optional<FeatureCache> prepare_feature_cache(XInstructBlip& model, const DataStream& stream,
                                                  const FeatureCacheOptions& o) {
  if (!o.enabled()) return std::nullopt;
  FeatureCache cache = FeatureCache::open(o.path, o.build ? FeatureCache::Mode::build : FeatureCache::Mode::read);
  std::vector<Sample> samples;
  Rng rng(0);  // only the instruction/answer draws use it; files do not depend on it
  for (const auto& d : stream.datasets()) {
    for (size_t i = 0; i < d->size(); ++i) samples.push_back(d->get(i, rng));
  }
  const NamedTensors rngs = rng_state_tensors();
  const int64_t batch = o.batch_size > 0 ? o.batch_size : stream.options().batch_size;
  fill_feature_cache(model, cache, samples, {.batch_size = batch});
  restore_rng_state(rngs);
  log::info(
      "feature cache {}: training reads the frozen encoders' features from it; they were computed with the "
      "evaluation preprocessing, so there is no training-time augmentation",
      o.path.string());
  return cache;
}

int64_t count_values(const NamedTensors& t) {
  int64_t n = 0;
  for (const auto& [name, p] : t) n += p.numel();
  return n;
}

}  // namespace

int run_train(const TrainRecipe& recipe, const ConfigSource& source) {
  const RunOptions& o = recipe.run;
  const c10::Device device = parse_device(o.device, source.name() + ": run.device");
  const bool bf16 = o.precision == "bf16";
  if (bf16 && device.is_cpu()) {
    log::warn(
        "run.precision=bf16 on the CPU: autocast works there, but a CPU without native bf16 "
        "instructions runs it slower than f32; it is meant for GPU runs");
  }
  set_threads(o.threads);
  seed_everything(static_cast<uint64_t>(o.seed));
  const auto run_dir = o.out;

  // Everything is built before any file of the run changes, so a bad recipe loses nothing.
  const auto started = std::chrono::steady_clock::now();
  XInstructBlip model = XInstructBlip::from_recipe(source.section("model"));
  model.to(device);  // before the optimizer, whose state lives beside the parameters
  DataStream stream = make_data_stream(recipe.data);
  NamedTensors params = model.trainable_parameters();
  AdamW optimizer(params, o.optimizer);
  const LrSchedule schedule({.lr = o.lr,
                             .min_lr = o.min_lr,
                             .warmup_steps = o.warmup_steps,
                             .warmup_start_lr = o.warmup_start_lr,
                             .total_steps = o.steps,
                             .decay = o.decay,
                             .steps_per_epoch = o.steps_per_epoch});
  // What identifies the frozen parts: a run resumed with other frozen models would silently
  // train against different features (xib/trained_run.h).
  const nlohmann::json frozen = frozen_model_identities(model);
  const YAML::Node effective = [&] {
    YAML::Node n = to_yaml(recipe);
    n["kind"] = "train";
    return n;
  }();

  int64_t step = 0;
  if (o.resume) {
    std::vector<std::string> skipped;
    if (auto dir = find_latest_checkpoint(run_dir, &skipped)) {
      Checkpoint ckpt = read_checkpoint(*dir);
      check_resumable(ckpt, frozen, run_dir);
      copy_named_tensors(take_prefix(ckpt.tensors, "model/"), params, "trainable parameters");
      optimizer.load_state(take_prefix(ckpt.tensors, "optim/"));
      restore_rngs(model, take_prefix(ckpt.tensors, ""));
      stream.restore(ckpt.meta.at("data"));
      step = ckpt.step;
      log::info("resuming {} from step {} ({})", run_dir.string(), step, dir->filename().string());
    }
  }
  std::optional<FeatureCache> feature_cache = prepare_feature_cache(model, stream, o.feature_cache);
  const bool fresh = step == 0;
  write_text_file(run_dir / "config.yaml", yaml_text(effective));
  MetricsWriter metrics(run_dir / "metrics.jsonl", /*append=*/!fresh);

  log::info("{}", optimizer.groups().describe(o.optimizer.weight_decay));
  RunSummary summary{.recipe = source.name(),
                     .description = recipe.description,
                     .run_dir = run_dir,
                     .total_steps = o.steps,
                     .start_step = step,
                     .batch_size = recipe.data.stream.batch_size * o.accumulate,
                     .trainable_values = count_values(params),
                     .optimizer = optimizer.groups().describe(o.optimizer.weight_decay),
                     .device = device.str(),
                     .precision = o.precision,
                     .frozen = frozen};
  for (const auto& name : model.modality_names()) {
    NamedTensors mine;
    for (const auto& [n, p] : params) {
      if (n.rfind(name + ".", 0) == 0) mine.emplace_back(n, p);
    }
    summary.modalities.push_back(
        {name, model.modality(name).aligner().type(), model.modality(name).encoder().name(), count_values(mine)});
  }

  auto save = [&](int64_t at) {
    NamedTensors tensors = with_prefix(params, "model/");
    append(tensors, with_prefix(optimizer.state_tensors(), "optim/"));
    append(tensors, rng_tensors(model));
    nlohmann::json meta = {{"kind", "xib.train"},
                           {"recipe", yaml_text(effective)},
                           {"recipe_dir", source.base_dir().string()},  // relative model paths (trained_run.h)
                           {"frozen_models", frozen},
                           {"data", stream.state()},
                           {"trainable", summary.trainable_values}};
    const auto dir = write_checkpoint(run_dir, at, tensors, meta, {.keep_last = o.keep_checkpoints});
    summary.last_checkpoint = dir;
  };

  StopSignalScope stop;
  Progress::Options progress;
  progress.label = "train";
  progress.total = o.steps;
  progress.unit = "step";
  Progress bar(progress);
  bar.set_done(step);
  model.set_training(true);
  int64_t this_process = 0, last_saved = fresh ? -1 : step;
  std::vector<std::string> skipped_ids;  // samples whose file failed to decode (skip_undecodable)
  const auto loop_start = std::chrono::steady_clock::now();
  while (step < o.steps) {
    if (stop.requested()) break;
    const auto t0 = std::chrono::steady_clock::now();
    optimizer.zero_grad();
    double loss_sum = 0;
    int64_t samples = 0, step_skipped = 0;
    for (int64_t micro = 0; micro < o.accumulate; ++micro) {
      const std::vector<Sample> batch = stream.next_batch();
      const EncodedFeatures features =
          feature_cache ? encode_cached(model, *feature_cache, batch) : model.encode(batch, /*training=*/true);
      skipped_ids.insert(skipped_ids.end(), features.skipped_ids.begin(), features.skipped_ids.end());
      step_skipped += static_cast<int64_t>(features.skipped_ids.size());
      Tensor loss;
      {
        AutocastScope autocast(device.type(), at::kBFloat16, bf16);
        loss = model.loss(batch, features);
      }
      if (loss.requires_grad()) (loss / static_cast<double>(o.accumulate)).backward();
      loss_sum += loss.item<double>();
      samples += static_cast<int64_t>(features.kept.size());
    }
    // Without clipping the norm is still measured (a coefficient clamped to 1 changes nothing).
    const double grad_norm =
        clip_grad_norm(params, o.max_grad_norm > 0 ? o.max_grad_norm : std::numeric_limits<double>::max());
    const double lr = schedule.lr_at(step);
    optimizer.step(lr);
    ++step;
    ++this_process;
    const double loss = loss_sum / static_cast<double>(o.accumulate);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto epochs = stream.epochs();
    metrics.write({{"step", step},
                   {"loss", loss},
                   {"lr", lr},
                   {"grad_norm", grad_norm},
                   {"samples", samples},
                   {"samples_per_s", seconds > 0 ? samples / seconds : 0.0},
                   {"step_s", seconds},
                   {"epoch", epochs.empty() ? 0 : epochs.front()},
                   {"skipped", step_skipped}});
    if (!std::isfinite(loss)) {
      save(step);
      throw Error({.what = fmt::format("the loss is not finite at step {} ({})", step, loss),
                   .where = run_dir.string(),
                   .hint = "lower run.lr, set run.max_grad_norm, or check the data; a checkpoint of this step "
                           "was written for inspection"});
    }
    bar.set_metric("loss", loss);
    bar.set_metric("lr", lr);
    bar.set_done(step);
    if (o.checkpoint_every > 0 && step % o.checkpoint_every == 0 && step < o.steps) {
      save(step);
      last_saved = step;
    }
    if (o.stop_after > 0 && this_process >= o.stop_after && step < o.steps) stop.request();
  }
  bar.finish();
  if (last_saved != step) save(step);
  summary.end_step = step;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  summary.loop_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - loop_start).count();
  summary.steps_this_process = this_process;
  summary.skipped = static_cast<int64_t>(skipped_ids.size());
  summary.skipped_examples = skipped_ids;
  if (stop.requested() && step < o.steps) {
    summary.stopped_by = stop.signal() ? stop.signal_name() : "run.stop_after";
  }
  write_run_report(summary);
  if (!summary.stopped_by.empty()) {
    std::cerr << fmt::format(
        "xib: stopped by {} at step {}/{}; checkpoint {} written. Run the same recipe again "
        "to resume.\n",
        summary.stopped_by, step, o.steps, summary.last_checkpoint.filename().string());
  } else {
    std::cerr << fmt::format("xib: trained {} steps; run folder {}\n", step, run_dir.string());
  }
  // A signal's stop is reported as the shell would (128 + signal), after a clean save.
  return stop.signal() ? 128 + stop.signal() : 0;
}

}  // namespace xib::train

namespace xib {

void register_train_recipe(Registrations& reg) {
  reg.add<RecipeRunner>("train", recipe_kind<train::TrainRecipe>(&train::run_train),
                        "train the aligners of a model against its frozen LLM (resumable)");
}

}  // namespace xib
