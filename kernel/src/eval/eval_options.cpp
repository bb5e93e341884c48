// `kind: eval` options: SPEC's generation settings per task, validation, and the blind control's
// permutation. Torch-free.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "xib/device.h"
#include "xib/eval/eval_recipe.h"
#include "xib/runtime.h"

namespace xib::eval {

std::vector<std::string> eval_tasks() { return {"caption", "qa"}; }

std::vector<std::string> eval_controls() { return {"none", "blind"}; }

GenerateOptions spec_generate_options(std::string_view task) {
  if (task == "caption") {
    return GenerateOptions{.max_new_tokens = 80, .min_new_tokens = 10, .num_beams = 5, .repetition_penalty = 1.15};
  }
  if (task == "qa") {
    return GenerateOptions{
        .max_new_tokens = 10, .min_new_tokens = 1, .num_beams = 5, .length_penalty = -1, .repetition_penalty = 1.5};
  }
  throw NotFoundError({.what = fmt::format("no evaluation settings for task '{}'", task),
                       .where = "kind: eval",
                       .expected = "one of: " + join_names(eval_tasks()),
                       .got = std::string(task),
                       .hint = "set the dataset's task: to caption or qa"});
}

const GenerateOptions& EvalGenerateOptions::for_task(std::string_view task) const {
  if (task == "caption") return caption;
  if (task == "qa") return qa;
  (void)spec_generate_options(task);  // throws the NotFoundError listing the tasks
  return caption;
}

void EvalDataOptions::validate(Validator& v) const {
  v.require(!test.empty(), "test", "at least one test dataset (a reader section)", "none",
            "e.g. test: [{reader: caption, path: data/mini/caption_test.json}]");
}

void EvalRecipe::validate(Validator& v) const {
  const bool has_run = !run.empty(), has_model = model.present();
  v.require(has_run || has_model, "run", "a trained run folder, or a model: section", "neither",
            "run: names the out: folder of a `kind: train` recipe");
  v.require(!(has_run && has_model), "model", "either run: or model:, not both", "both",
            "a run brings its own model (its config.yaml); drop model:");
  v.require(step >= 0, "step", "0 (the newest checkpoint) or a step", step);
  v.require(batch_size > 0, "batch_size", "a positive number", batch_size);
  v.require(threads >= 0, "threads", "0 (every available core) or a positive number", threads);
  v.require(limit >= 0, "limit", "0 (all) or a positive number", limit);
  v.one_of("control", control, eval_controls());
  v.one_of("qa_metric", qa_metric, {"auto", "vqa", "exact"});
  v.require(report_samples >= 0, "report_samples", "0 or more", report_samples);
  v.require(is_device_spelling(device), "device", "cpu, cuda or cuda:N", device);
  v.require(!out.empty(), "out", "a folder", "an empty path");
}

std::vector<size_t> blind_donors(std::span<const std::string> input_keys, uint64_t seed) {
  const size_t n = input_keys.size();
  // Groups of samples sharing an input, laid out contiguously in a seeded order; each sample then
  // takes the sample `m` places further round the circle (m = the largest group). Two positions
  // m apart (either way round) cannot lie in one contiguous group of at most m ≤ n / 2 samples.
  std::map<std::string_view, std::vector<size_t>> groups;
  for (size_t i = 0; i < n; ++i) groups[input_keys[i]].push_back(i);
  size_t largest = 0;
  std::string_view largest_key;
  for (const auto& [key, members] : groups) {
    if (members.size() > largest) {
      largest = members.size();
      largest_key = key;
    }
  }
  if (n < 2 || 2 * largest > n) {
    throw UsageError({.what = "the blind control cannot give every sample another input's features",
                      .where = "control: blind",
                      .expected = "no input shared by more than half of a dataset's samples (and at least 2 samples)",
                      .got = n < 2 ? fmt::format("{} sample(s)", n)
                                   : fmt::format("'{}' carried by {} of {} samples", largest_key, largest, n),
                      .hint = "evaluate more inputs (raise limit:), or use control: none"});
  }
  Rng rng(seed);
  std::vector<std::vector<size_t>> order;
  for (auto& [key, members] : groups) order.push_back(members);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  std::vector<size_t> circle;
  circle.reserve(n);
  for (auto& members : order) {
    for (size_t i = members.size(); i > 1; --i) std::swap(members[i - 1], members[rng.below(i)]);
    circle.insert(circle.end(), members.begin(), members.end());
  }
  std::vector<size_t> donors(n);
  for (size_t k = 0; k < n; ++k) donors[circle[k]] = circle[(k + largest) % n];
  return donors;
}

}  // namespace xib::eval
