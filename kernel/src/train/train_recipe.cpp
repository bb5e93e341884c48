// `kind: train` (xib/train/train_options.h): builds the model, optimizer, schedule and data
// stream, resumes from the run folder, and runs the training loop (xib/train/trainer.h) — data
// on a worker thread, the single-process update, and the observers for stops, metrics,
// progress, checkpoints and the report.
#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "../plugin/builtins.h"
#include "xib/aligner.h"
#include "xib/device.h"
#include "xib/encoder.h"
#include "xib/feature_cache.h"
#include "xib/files.h"
#include "xib/json_text.h"
#include "xib/log.h"
#include "xib/modality.h"
#include "xib/recipe.h"
#include "xib/runtime.h"
#include "xib/train/checkpoint.h"
#include "xib/train/lr_schedule.h"
#include "xib/train/rng_state.h"
#include "xib/train/run_report.h"
#include "xib/train/train_options.h"
#include "xib/train/trainer.h"
#include "xib/trained_run.h"

namespace xib::train {

void RunOptions::validate(Validator& v) const {
  v.require(steps > 0, "steps", "a positive number", steps);
  v.require(accumulate > 0, "accumulate", "a positive number", accumulate);
  v.require(max_grad_norm >= 0, "max_grad_norm", "0 (off) or a positive number", max_grad_norm);
  if (steps > 0) schedule().validate(v);  // lr, min_lr, warm-up, decay: keys of run: itself
  v.require(checkpoint_every >= 0, "checkpoint_every", "0 (only at the end) or a positive number", checkpoint_every);
  v.require(keep_checkpoints >= 0, "keep_checkpoints", "0 (all) or a positive number", keep_checkpoints);
  v.require(stop_after >= 0, "stop_after", "0 (off) or a positive number", stop_after);
  v.require(threads >= 0, "threads", "0 (every available core) or a positive number", threads);
  v.one_of("precision", precision, {"f32", "bf16"});
  v.require(is_device_spelling(device), "device", "cpu, cuda or cuda:N", device);
  v.require(!out.empty(), "out", "a folder", "an empty path");
}

namespace {

/// The aligners' dropout streams and the global ones (the processors' come from the resume
/// point of the batch source).
void restore_rngs(XInstructBlip& model, const NamedTensors& tensors) {
  restore_rng_state(tensors);
  restore_processor_rngs(model, tensors);
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
                       .expected = json_text(stored),
                       .got = json_text(frozen),
                       .hint = fmt::format("use the same models, or start a new run: set run.out to another folder "
                                           "or run.resume=false with run.overwrite=true (which replaces {})",
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
  const std::unique_ptr<UpdateStrategy> update = single_process_update();

  // What the run does with its folder is decided first, from the folder alone; nothing in it
  // changes until the first step is done, so a bad recipe or a failing step loses nothing.
  const RunFolderPlan plan = plan_run_folder(o.out, o.resume, o.overwrite);
  const auto started = std::chrono::steady_clock::now();
  XInstructBlip model = XInstructBlip::from_recipe(source.section("model"));
  model.to(device);  // before the optimizer, whose state lives beside the parameters
  DataOptions data = recipe.data;
  data.stream.rank = update->rank();
  data.stream.world_size = update->world_size();
  DataStream stream = make_data_stream(data);
  NamedTensors params = model.trainable_parameters();
  AdamW optimizer(params, o.optimizer);
  const LrSchedule schedule(o.schedule());
  TrainState state{.recipe = recipe,
                   .source = source,
                   .model = model,
                   .params = params,
                   .optimizer = optimizer,
                   .schedule = schedule,
                   .device = device,
                   .bf16 = bf16,
                   .rank = update->rank(),
                   .world_size = update->world_size(),
                   .run_dir = o.out,
                   // What identifies the frozen parts: a run resumed with other frozen models would
                   // silently train against different features (xib/trained_run.h).
                   .frozen = frozen_model_identities(model),
                   .effective = [&] {
                     YAML::Node n = to_yaml(recipe);
                     n["kind"] = "train";
                     return n;
                   }()};

  if (plan.start == RunStart::resume) {
    Checkpoint ckpt = read_checkpoint(*plan.checkpoint);
    check_resumable(ckpt, state.frozen, state.run_dir);
    copy_named_tensors(take_prefix(ckpt.tensors, "model/"), params, "trainable parameters");
    optimizer.load_state(take_prefix(ckpt.tensors, "optim/"));
    restore_rngs(model, take_prefix(ckpt.tensors, ""));
    stream.restore(ckpt.meta.at("data"));
    state.step = state.start_step = ckpt.step;
    log::info("resuming {} from step {} ({})", state.run_dir.string(), state.step,
              plan.checkpoint->filename().string());
  } else if (plan.start == RunStart::replace) {
    log::info("{}: the previous run ({}) is replaced when this run's first step is done", state.run_dir.string(),
              join_names(plan.previous));
  }
  std::optional<FeatureCache> feature_cache = prepare_feature_cache(model, stream, o.feature_cache);
  const bool writes_files = state.rank == 0;

  log::info("{}", optimizer.groups().describe(o.optimizer.weight_decay));
  RunSummary summary{.recipe = source.name(),
                     .description = recipe.description,
                     .run_dir = state.run_dir,
                     .total_steps = o.steps,
                     .start_step = state.step,
                     .batch_size = recipe.data.stream.batch_size * state.world_size * o.accumulate,
                     .trainable_values = count_values(params),
                     .optimizer = optimizer.groups().describe(o.optimizer.weight_decay),
                     .device = device.str(),
                     .precision = o.precision,
                     .frozen = state.frozen};
  for (const auto& name : model.modality_names()) {
    NamedTensors mine;
    for (const auto& [n, p] : params) {
      if (n.rfind(name + ".", 0) == 0) mine.emplace_back(n, p);
    }
    summary.modalities.push_back(
        {name, model.modality(name).aligner().type(), model.modality(name).encoder().name(), count_values(mine)});
  }

  // Observers run in this order after each step; only rank 0 writes files.
  std::vector<std::unique_ptr<TrainObserver>> owned;
  owned.push_back(stop_observer(o.stop_after));
  if (writes_files) {
    owned.push_back(run_folder_observer(plan, yaml_text(state.effective)));
    owned.push_back(metrics_observer(/*append=*/plan.start == RunStart::resume));
    owned.push_back(progress_observer(o.steps));
    owned.push_back(checkpoint_observer(o.checkpoint_every, o.keep_checkpoints, o.steps, summary));
    owned.push_back(report_observer(summary, o.steps));
  }
  // Crash tests: $XIB_TEST_KILL_AFTER_STEP=N kills the process after step N (docs/contributing.md).
  if (const char* kill = std::getenv("XIB_TEST_KILL_AFTER_STEP"); kill && *kill) {
    owned.push_back(kill_after_step_observer(std::strtoll(kill, nullptr, 10)));
  }
  std::vector<TrainObserver*> observers;
  for (auto& ob : owned) observers.push_back(ob.get());

  summary.setup_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  {
    // On the CPU the encoders and the step share the cores: encode in the loop there.
    BatchPrefetcher batches(model, stream, feature_cache ? &*feature_cache : nullptr,
                            {.encode_in_loop = device.is_cpu()});
    run_training_loop(state, *update, batches, observers, o.steps, o.accumulate, o.max_grad_norm);
  }
  if (!state.folder_begun && state.step >= o.steps) {
    std::cerr << fmt::format(
        "xib: the run is already at step {} of {}; nothing to do (raise run.steps to train on, or "
        "run.resume=false with run.overwrite=true to start over)\n",
        state.step, o.steps);
  } else if (!state.folder_begun) {
    std::cerr << fmt::format("xib: stopped by {} before the first step; the run folder {} is unchanged\n",
                             state.stop_reason.empty() ? "a stop request" : state.stop_reason, state.run_dir.string());
  } else if (!summary.stopped_by.empty()) {
    std::cerr << fmt::format(
        "xib: stopped by {} at step {}/{}; checkpoint {} written. Run the same recipe again "
        "to resume.\n",
        summary.stopped_by, state.step, o.steps, summary.last_checkpoint.filename().string());
  } else {
    std::cerr << fmt::format("xib: trained {} steps; run folder {}\n", state.step, state.run_dir.string());
  }
  // A signal's stop is reported as the shell would (128 + signal), after a clean save.
  return state.stop_signal ? 128 + state.stop_signal : 0;
}

}  // namespace xib::train

namespace xib {

void register_train_recipe(Registrations& reg) {
  reg.add<RecipeRunner>("train", recipe_kind<train::TrainRecipe>(&train::run_train),
                        "train the aligners of a model against its frozen LLM (resumable)");
}

}  // namespace xib
