// `kind: eval`: evaluate a trained run (or a model given directly) on test datasets without
// training — captioning against reference captions (CIDEr-D, BLEU, ROUGE-L), QA against accepted
// answers (VQA accuracy or exact match) — with SPEC's generation settings per task. docs/evaluation.md.
//
//   kind: eval
//   run: runs/mini_image_qformer          # or model: {…} for an untrained / zero-shot model
//   data:
//     test:
//       - {reader: caption, path: data/mini/caption_test.json, modality: image}
//       - {reader: qa, path: data/mini/qa_test.json, modality: image}
//   control: none                         # blind: each sample gets another input's features
//   out: runs/mini_image_qformer-eval
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "xib/config.h"
#include "xib/generate.h"

namespace xib {

class Tokenizer;

namespace eval {

/// The tasks `kind: eval` scores (a test dataset's task() must be one of them).
std::vector<std::string> eval_tasks();

/// SPEC "Evaluation" for a task: beam search with 5 beams; caption: max 80, min 10 new tokens,
/// repetition penalty 1.15; qa: max 10, min 1, length penalty −1, repetition penalty 1.5.
/// NotFoundError listing eval_tasks() for another task.
GenerateOptions spec_generate_options(std::string_view task);

/// Generation settings per task, each starting from spec_generate_options().
struct EvalGenerateOptions {
  GenerateOptions caption = spec_generate_options("caption");
  GenerateOptions qa = spec_generate_options("qa");

  template <class V>
  void fields(V& v) {
    v("caption", caption, "generation for captioning datasets (SPEC defaults; any key overrides)");
    v("qa", qa, "generation for QA datasets (SPEC defaults; any key overrides)");
  }
  /// The options of `task` (one of eval_tasks()).
  const GenerateOptions& for_task(std::string_view task) const;
};

/// The recipe's `data:` section of an evaluation.
struct EvalDataOptions {
  /// Reader sections (xib/dataset.h), each handed to create_dataset(); the LAVIS readers
  /// (`caption`, `qa`) get `evaluation: true` unless the section sets it.
  std::vector<ConfigSection> test = {};

  template <class V>
  void fields(V& v) {
    v("test", test, "test datasets: one reader section each (caption → caption metrics, qa → accuracy)");
  }
  void validate(Validator& v) const;
};

struct EvalRecipe {
  std::string description = {};
  /// A trained run folder (config.yaml + checkpoints/): its model with the checkpoint's aligners.
  std::filesystem::path run = {};
  /// Instead of `run`: the model itself (xib/xinstructblip.h), aligners as initialised.
  ConfigSection model = {};
  /// The run's checkpoint step; 0: the newest complete one.
  int64_t step = 0;
  EvalDataOptions data = {};
  EvalGenerateOptions generate = {};
  int64_t batch_size = 8;  ///< samples per generate() call (beam search runs batch × beams rows)
  int64_t limit = 0;       ///< at most this many samples per dataset (0: all)
  /// none, or blind: every sample is answered from the encoder features of another input of its
  /// dataset (a seeded permutation), the control that shows how much the answers use the input.
  std::string control = "none";
  int64_t seed = 1;  ///< seeds the blind control's permutation (with model:, also the model's random parts)
  std::string qa_metric = "auto";  ///< auto (vqa when every question has ≥ 3 answers, else exact), vqa, exact
  int64_t report_samples = 5;      ///< predictions beside their references in report.md, per dataset
  int threads = 0;                 ///< LibTorch threads (0: every available core)
  std::string device = "cpu";      ///< cpu | cuda | cuda:N: where the LLM and the aligners run
  std::filesystem::path out = "eval";

  template <class V>
  void fields(V& v) {
    v("description", description, "one line about this evaluation");
    v("run", run, "trained run folder (config.yaml, checkpoints/) to evaluate");
    v("model", model, "instead of run: the model section itself (untrained / zero-shot aligners)");
    v("step", step, "checkpoint step of the run (0: the newest complete one)");
    v("data", data, "test datasets");
    v("generate", generate, "generation per task (caption, qa): SPEC's settings, each key overridable");
    v("batch_size", batch_size, "samples per generation batch");
    v("limit", limit, "at most this many samples per dataset (0: all)");
    v("control", control, "none | blind (each sample answered from another input's features)");
    v("seed", seed, "seed of the blind control's permutation (with model:, also of the model's random parts)");
    v("qa_metric", qa_metric, "auto | vqa (official VQA accuracy) | exact (exact match after normalisation)");
    v("report_samples", report_samples, "predictions shown beside their references in report.md, per dataset");
    v("threads", threads, "LibTorch threads (0: every available core)");
    v("device", device, "cpu | cuda | cuda:N: where the language model and the aligners run");
    v("out", out, "folder for predictions, metrics.json and report.md");
  }
  void validate(Validator& v) const;
};

/// The controls `control:` accepts.
std::vector<std::string> eval_controls();

/** The blind control's assignment: donors[i] is the sample whose inputs sample i is answered
    from. A permutation of [0, n) with input_keys[donors[i]] != input_keys[i] for every i
    (samples sharing an input — the questions of one image — never feed each other), drawn from
    `seed`. UsageError when one input is carried by more than half of the samples (then no such
    permutation exists). */
std::vector<size_t> blind_donors(std::span<const std::string> input_keys, uint64_t seed);

/// Generated ids → answer text as SPEC says: id 0 mapped to EOS, special tokens skipped,
/// stripped (so id 0 and the EOS ids are left out wherever they are). Bytes that are not UTF-8
/// (half a character at a byte-level BPE model's end) become U+FFFD, as Python's decode does.
std::string answer_text(const Tokenizer& tokenizer, std::span<const int64_t> ids, std::span<const int64_t> eos_ids);

/// Runs `kind: eval` (what `xib run` calls); returns the exit code.
int run_eval(const EvalRecipe& recipe, const ConfigSource& source);

}  // namespace eval
}  // namespace xib
