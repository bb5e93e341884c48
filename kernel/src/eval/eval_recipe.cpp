// `kind: eval` (xib/eval/eval_recipe.h): load a trained run read-only (or build the recipe's
// model), read the test datasets in evaluation mode, answer them in batches with SPEC's
// generation settings per task (optionally the blind control), score, and write predictions,
// metrics.json and report.md into `out:`. Nothing is trained; the run folder is never written.
#include "xib/eval/eval_recipe.h"

#include <ATen/core/Tensor.h>  // XInstructBlip's header holds tensors by value
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <set>

#include "../plugin/builtins.h"
#include "eval_report.h"
#include "xib/aligner.h"
#include "xib/dataset.h"
#include "xib/device.h"
#include "xib/encoder.h"
#include "xib/eval/answers.h"
#include "xib/eval/caption_metrics.h"
#include "xib/eval/eval_files.h"
#include "xib/eval/vqa_metrics.h"
#include "xib/files.h"
#include "xib/language_model.h"
#include "xib/log.h"
#include "xib/modality.h"
#include "xib/plot.h"
#include "xib/progress.h"
#include "xib/recipe.h"
#include "xib/runtime.h"
#include "xib/trained_run.h"

namespace xib::eval {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// The LAVIS readers read references and the evaluation instruction only with evaluation: true.
ConfigSection in_evaluation_mode(const ConfigSection& section) {
  if (!section.present() || !section.node.IsMap() || section.child("evaluation").present()) return section;
  const ConfigSection reader = section.child("reader");
  if (!reader.present() || !reader.node.IsScalar()) return section;
  if (reader.node.Scalar() != "caption" && reader.node.Scalar() != "qa") return section;
  YAML::Node node = YAML::Clone(section.node);
  node["evaluation"] = true;
  return ConfigSection(section.source, node, section.path);
}

std::string without_prefix(const std::string& id, const std::string& dataset) {
  const std::string prefix = dataset + ":";
  return id.rfind(prefix, 0) == 0 ? id.substr(prefix.size()) : id;
}

/// Which inputs a sample carries ("image=/data/a.png"): equal keys, equal encoder features.
std::string input_key(const Sample& s) {
  std::string key;
  for (const auto& [modality, files] : s.inputs) {
    for (const auto& f : files) key += modality + "=" + f.string() + "\n";
  }
  return key;
}

/// The samples of one test section: the first `limit`; captioning keeps one sample per image
/// id (references of repeated ids merged), QA needs distinct question ids.
DatasetResult read_test_dataset(const ConfigSection& section, int64_t limit, const std::string& qa_metric) {
  const auto dataset = create_dataset(in_evaluation_mode(section));
  DatasetResult r;
  r.name = dataset->name();
  r.task = dataset->task();
  const auto tasks = eval_tasks();
  if (std::find(tasks.begin(), tasks.end(), r.task) == tasks.end()) {
    throw ConfigError({.what = fmt::format("cannot evaluate task '{}' of dataset '{}'", r.task, r.name),
                       .where = section.where(),
                       .expected = "a dataset whose task is one of: " + join_names(tasks),
                       .got = r.task,
                       .hint = "set the section's task: to caption or qa"});
  }
  const size_t n = limit > 0 ? std::min(dataset->size(), static_cast<size_t>(limit)) : dataset->size();
  Rng rng(0);  // evaluation samples draw nothing; a fixed stream keeps other readers reproducible
  std::map<std::string, size_t> by_id;
  for (size_t i = 0; i < n; ++i) {
    Sample s = dataset->get(i, rng);
    std::string id = without_prefix(s.id, r.name);
    if (auto it = by_id.find(id); it != by_id.end()) {
      if (r.task == "qa") {
        throw FormatError({.what = fmt::format("question id '{}' appears twice in dataset '{}'", id, r.name),
                           .where = section.where(),
                           .expected = "one entry per question id",
                           .got = fmt::format("entries {} and {} (after limit)", it->second, i)});
      }
      auto& refs = r.samples[it->second].references;
      for (auto& ref : s.references) {
        if (std::find(refs.begin(), refs.end(), ref) == refs.end()) refs.push_back(ref);
      }
      continue;
    }
    if (s.references.empty()) {
      throw FormatError({.what = fmt::format("sample '{}' of dataset '{}' has no references", s.id, r.name),
                         .where = section.where(),
                         .expected = "reference captions / accepted answers to score against"});
    }
    by_id.emplace(id, r.samples.size());
    r.ids.push_back(std::move(id));
    r.samples.push_back(std::move(s));
  }
  r.predictions.assign(r.samples.size(), std::nullopt);
  if (r.task == "qa") {
    r.qa_metric = qa_metric;
    if (qa_metric == "auto") {
      bool all_three = true;
      for (const auto& s : r.samples) all_three = all_three && s.references.size() >= 3;
      r.qa_metric = all_three ? "vqa" : "exact";
    }
  }
  return r;
}

/// Scores the answered samples of a dataset into r.scores.
void score(DatasetResult& r) {
  if (r.task == "caption") {
    std::map<std::string, std::string> predictions;
    std::map<std::string, std::vector<std::string>> references;
    for (size_t i = 0; i < r.samples.size(); ++i) {
      if (!r.predictions[i]) continue;
      predictions[r.ids[i]] = *r.predictions[i];
      references[r.ids[i]] = r.samples[i].references;
    }
    r.scores = caption_scores(predictions, references).to_json(/*with_images=*/true);
    return;
  }
  std::map<std::string, std::string> predictions;
  std::map<std::string, VqaReference> references;
  for (size_t i = 0; i < r.samples.size(); ++i) {
    if (!r.predictions[i]) continue;
    predictions[r.ids[i]] = *r.predictions[i];
    references[r.ids[i]] = VqaReference{.answers = r.samples[i].references};
  }
  r.scores = vqa_accuracy(predictions, references, {.metric = r.qa_metric}).to_json(/*with_questions=*/true);
}

/// Refuses an out: folder that would write into the run's checkpoints (or be the run folder).
void check_out_folder(const fs::path& out, const fs::path& run) {
  if (run.empty()) return;
  const fs::path o = fs::weakly_canonical(out), r = fs::weakly_canonical(run);
  const fs::path ckpt = r / "checkpoints";
  const auto inside = [](const fs::path& p, const fs::path& dir) {
    auto [a, b] = std::mismatch(dir.begin(), dir.end(), p.begin(), p.end());
    return a == dir.end();
  };
  if (o == r || inside(o, ckpt)) {
    throw ConfigError({.what = "the evaluation's out: folder is the run folder or inside its checkpoints",
                       .where = "out",
                       .expected = "a folder of its own (e.g. <run>/eval-test or next to the run)",
                       .got = out.string(),
                       .hint = "evaluation never writes into a run's own files"});
  }
}

json model_description(XInstructBlip& model) {
  json m = {{"llm", model.lm().name()}};
  m["modalities"] = json::object();
  for (const auto& name : model.modality_names()) {
    Modality& mod = model.modality(name);
    m["modalities"][name] = {{"encoder", mod.encoder().name()}, {"aligner", mod.aligner().type()}};
  }
  return m;
}

}  // namespace

int run_eval(const EvalRecipe& recipe, const ConfigSource& source) {
  const auto started = std::chrono::steady_clock::now();
  const c10::Device device = parse_device(recipe.device, source.name() + ": device");
  set_threads(recipe.threads);
  check_out_folder(recipe.out, recipe.run);

  // Datasets first: they are quick to check, the model is not.
  std::vector<DatasetResult> results;
  std::set<std::string> names;
  for (const auto& section : recipe.data.test) {
    results.push_back(read_test_dataset(section, recipe.limit, recipe.qa_metric));
    if (!names.insert(results.back().name).second) {
      throw ConfigError({.what = fmt::format("two test datasets are named '{}'", results.back().name),
                         .where = section.where(),
                         .expected = "distinct dataset names (their output files are named after them)",
                         .hint = "give one of them a name: key"});
    }
    if (recipe.control == "blind") {
      std::vector<std::string> keys;
      for (const auto& s : results.back().samples) keys.push_back(input_key(s));
      results.back().donors = blind_donors(keys, static_cast<uint64_t>(recipe.seed));
    }
  }

  EvalSummary summary{.recipe = source.name(),
                      .description = recipe.description,
                      .control = recipe.control,
                      .run = recipe.run,
                      .out = recipe.out,
                      .report_samples = recipe.report_samples};
  TrainedRun loaded = [&] {
    if (!recipe.run.empty()) return load_trained_run(recipe.run, recipe.step);
    seed_everything(static_cast<uint64_t>(recipe.seed));  // parts drawn at random come out the same each time
    TrainedRun t{.model = XInstructBlip::from_recipe(recipe.model)};
    t.model.set_training(false);
    return t;
  }();
  XInstructBlip& model = loaded.model;
  model.to(device);
  summary.checkpoint = loaded.checkpoint;
  summary.step = loaded.step;
  summary.trainable_values = trainable_values(model);
  summary.model = model_description(model);
  summary.generate = json::object();
  for (const auto& task : eval_tasks()) {
    const GenerateOptions& g = recipe.generate.for_task(task);
    summary.generate[task] = {{"num_beams", g.num_beams},
                              {"max_new_tokens", g.max_new_tokens},
                              {"min_new_tokens", g.min_new_tokens},
                              {"length_penalty", g.length_penalty},
                              {"repetition_penalty", g.repetition_penalty},
                              {"do_sample", g.do_sample}};
  }
  summary.load_seconds = seconds_since(started);

  int64_t total = 0;
  for (const auto& r : results) total += static_cast<int64_t>(r.samples.size());
  Progress::Options progress;
  progress.label = "eval";
  progress.total = total;
  progress.unit = "sample";
  Progress bar(progress);
  const auto batch = static_cast<size_t>(recipe.batch_size);
  for (auto& r : results) {
    const GenerateOptions& options = recipe.generate.for_task(r.task);
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t begin = 0; begin < r.samples.size(); begin += batch) {
      const size_t end = std::min(r.samples.size(), begin + batch);
      const std::span<const Sample> samples(r.samples.data() + begin, end - begin);
      std::vector<Sample> donors;
      for (size_t i = begin; i < end && !r.donors.empty(); ++i) donors.push_back(r.samples[r.donors[i]]);
      const Answers a = generate_answers(model, samples, options, {}, donors);
      for (size_t k = 0; k < a.kept.size(); ++k) r.predictions[begin + a.kept[k]] = a.texts[k];
      r.skipped += static_cast<int64_t>(a.skipped_ids.size());
      r.prefill_seconds += a.result.prefill_seconds;
      r.decode_seconds += a.result.decode_seconds;
      r.decode_steps += a.result.steps;
      bar.advance(static_cast<int64_t>(end - begin));
    }
    r.seconds = seconds_since(t0);
    score(r);
  }
  bar.finish();

  summary.seconds = seconds_since(started);
  summary.datasets = std::move(results);
  fs::create_directories(recipe.out);
  for (const auto& r : summary.datasets) {
    write_json_file(recipe.out / (r.name + "_predictions.json"), predictions_json(r));
    write_json_file(recipe.out / (r.name + "_scores.json"), r.scores);
  }
  write_json_file(recipe.out / "metrics.json", metrics_json(summary));
  write_text_file(recipe.out / "report.md", report_markdown(summary));
  YAML::Node effective = to_yaml(recipe);
  effective["kind"] = "eval";
  write_text_file(recipe.out / "config.yaml", yaml_text(effective));
  std::cout << summary_text(summary) << std::flush;
  return 0;
}

}  // namespace xib::eval

namespace xib {

void register_eval_recipe(Registrations& reg) {
  reg.add<RecipeRunner>("eval", recipe_kind<eval::EvalRecipe>(&eval::run_eval),
                        "evaluate a trained run (or a model) on test datasets: captions (CIDEr-D, BLEU, ROUGE-L), QA "
                        "accuracy; never trains");
}

}  // namespace xib
