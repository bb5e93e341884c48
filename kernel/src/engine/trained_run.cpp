// Loading a trained run folder read-only: config.yaml's model, a verified checkpoint, the frozen
// models' identity check, the aligner parameters copied in.
#include "xib/trained_run.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "xib/encoder.h"
#include "xib/files.h"
#include "xib/json_text.h"
#include "xib/language_model.h"
#include "xib/log.h"
#include "xib/modality.h"
#include "xib/runtime.h"
#include "xib/tokenizer.h"
#include "xib/train/checkpoint.h"

namespace xib {

namespace fs = std::filesystem;
using json = nlohmann::json;

json frozen_model_identities(XInstructBlip& model) {
  json j;
  LanguageModel& lm = model.lm();
  j["llm"] = {{"name", lm.name()},
              {"hidden_size", lm.hidden_size()},
              {"vocab_size", lm.vocab_size()},
              {"tokenizer", model.tokenizer().name()}};
  for (const auto& name : model.modality_names()) {
    Encoder& e = model.modality(name).encoder();
    j["encoders"][name] = {{"name", e.name()}, {"weights_id", e.weights_id()}, {"width", e.width()}};
  }
  return j;
}

int64_t trainable_values(const XInstructBlip& model) {
  int64_t n = 0;
  for (const auto& [name, p] : model.trainable_parameters()) n += p.numel();
  return n;
}

namespace {

/// The newest checkpoint up to the one `latest` names that verifies, or the one of `step`;
/// read-only (unlike find_latest_checkpoint(), which also removes stale temporary folders).
fs::path choose_checkpoint(const fs::path& run_dir, int64_t step) {
  // Folders after `latest` belong to an abandoned run (xib/train/checkpoint.h): only an explicit
  // step reaches them.
  const train::RunCheckpoints found = train::run_checkpoints(run_dir);
  std::vector<std::pair<int64_t, fs::path>> all = found.own;
  if (step > 0) all.insert(all.end(), found.after_latest.begin(), found.after_latest.end());
  std::sort(all.begin(), all.end());
  std::vector<std::string> steps;
  for (const auto& [s, dir] : all) steps.push_back(dir.filename().string());
  if (step > 0) {
    for (const auto& [s, dir] : all) {
      if (s == step) return dir;
    }
    throw NotFoundError({.what = fmt::format("the run has no checkpoint of step {}", step),
                         .where = (run_dir / "checkpoints").string(),
                         .expected = train::checkpoint_dir_name(step),
                         .got = steps.empty() ? "no checkpoints" : join_names(steps),
                         .hint = "leave the step out (0) for the newest complete checkpoint"});
  }
  std::vector<std::pair<std::string, std::string>> skipped;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    const auto problems = train::verify_checkpoint(it->second);
    if (problems.empty()) return it->second;
    log::warn("skipping checkpoint '{}': {}", it->second.string(), problems.front());
    skipped.emplace_back(it->second.filename().string(), problems.front());
  }
  throw NotFoundError({.what = "the run folder has no complete checkpoint",
                       .where = run_dir.string(),
                       .expected = "checkpoints/step-…/{checkpoint.json, state.safetensors} written by `kind: train`",
                       .got = all.empty() ? "no checkpoints" : fmt::format("{} damaged checkpoint(s)", all.size()),
                       .hint = "train it first (xib run the training recipe), or let it reach its first checkpoint",
                       .details = std::move(skipped)});
}

/// Top-level differences of two frozen-model records, for the message.
std::vector<std::pair<std::string, std::string>> frozen_differences(const json& stored, const json& now) {
  std::vector<std::pair<std::string, std::string>> out;
  const json flat_stored = stored.flatten(), flat_now = now.flatten();
  for (const auto& item : flat_stored.items()) {
    const auto it = flat_now.find(item.key());
    if (it != flat_now.end() && *it == item.value()) continue;
    out.emplace_back(item.key(), fmt::format("trained with {}, now {}", json_text(item.value()),
                                             it == flat_now.end() ? std::string("absent") : it->dump()));
  }
  for (const auto& item : flat_now.items()) {
    if (!flat_stored.contains(item.key()))
      out.emplace_back(item.key(), fmt::format("trained without it, now {}", json_text(item.value())));
  }
  return out;
}

}  // namespace

TrainedRun load_trained_run(const fs::path& run_dir, int64_t step) {
  std::error_code ec;
  if (!fs::is_directory(run_dir, ec)) {
    throw NotFoundError({.what = "run folder not found",
                         .where = run_dir.string(),
                         .expected = "the `out:` folder of a `kind: train` recipe (config.yaml, checkpoints/)",
                         .got = fs::exists(run_dir, ec) ? "not a folder" : "no such folder",
                         .hint = "train first: xib run <training recipe>, then point at its run.out folder"});
  }
  const fs::path config_file = run_dir / "config.yaml";
  if (!fs::is_regular_file(config_file, ec)) {
    throw NotFoundError({.what = "not a run folder: it has no config.yaml",
                         .where = run_dir.string(),
                         .expected = "a folder written by `kind: train` (config.yaml, checkpoints/)",
                         .got = "no config.yaml",
                         .hint = "point at the training recipe's run.out folder"});
  }
  const fs::path ckpt_dir = choose_checkpoint(run_dir, step);
  train::Checkpoint ckpt = train::read_checkpoint(ckpt_dir, "model/");

  // Relative paths of the model section belong to the training recipe's folder.
  fs::path base = run_dir.parent_path();
  if (const auto it = ckpt.meta.find("recipe_dir"); it != ckpt.meta.end() && it->is_string()) {
    base = fs::path(it->get<std::string>());
  }
  auto config = ConfigSource::from_string(read_text_file(config_file, "run config"), config_file.string(), base);
  if (!config->section("model").present()) {
    throw FormatError({.what = "the run's config.yaml has no model: section",
                       .where = config_file.string(),
                       .expected = "the effective training recipe, with model:",
                       .hint = "the file was changed or not written by `kind: train`"});
  }

  // The trainer seeded everything before building the model: seeding alike rebuilds parts
  // made from random numbers (an encoder with random_init, say) exactly as they were trained.
  int64_t seed = 42;
  if (const ConfigSection s = config->section("run.seed"); s.present()) config_detail::from_yaml(s, seed);
  seed_everything(static_cast<uint64_t>(seed));
  TrainedRun run{.dir = run_dir,
                 .checkpoint = ckpt_dir,
                 .step = ckpt.step,
                 .config = config,
                 .frozen = {},
                 // The checkpoint holds every tensor of the aligners (copy_named_tensors refuses it
                 // otherwise), so the weights training started from are not read again: a run loads
                 // even where they are absent, and without the time to load them.
                 .model = XInstructBlip::from_recipe(config->section("model"), {.load_aligner_init = false})};
  run.frozen = frozen_model_identities(run.model);
  const json stored = ckpt.meta.value("frozen_models", json());
  if (!stored.is_null() && stored != run.frozen) {
    throw ConfigError({.what = "the frozen models differ from the ones this run was trained with",
                       .where = ckpt_dir.string(),
                       .expected = json_text(stored),
                       .got = json_text(run.frozen),
                       .hint = "the run's aligners only fit the LLM and encoders they were trained against: restore "
                               "those model files (or their model-cache entries)",
                       .details = frozen_differences(stored, run.frozen)});
  }
  const train::NamedTensors stored_params = train::take_prefix(ckpt.tensors, "model/");
  try {
    train::copy_named_tensors(stored_params, run.model.trainable_parameters(),
                              fmt::format("aligner parameters of {}", ckpt_dir.string()));
  } catch (const ShapeError& e) {
    ErrorInfo info = e.info();
    info.hint =
        "the checkpoint does not hold the aligners config.yaml describes: it was damaged, or config.yaml was edited "
        "after training";
    throw ShapeError(std::move(info));
  }
  run.model.set_training(false);
  log::info("loaded run {} at step {} ({})", run_dir.string(), run.step, ckpt_dir.filename().string());
  return run;
}

}  // namespace xib
