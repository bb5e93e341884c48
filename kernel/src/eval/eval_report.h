// What `kind: eval` writes once the answers are in: the prediction files (LAVIS-like JSON),
// metrics.json, report.md and the summary printed at the end. Torch-free.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xib/sample.h"

namespace xib::eval {

/// One test dataset's evaluation.
struct DatasetResult {
  std::string name = {};                                ///< the dataset's name (file stem or name:)
  std::string task = {};                                ///< caption | qa
  std::vector<Sample> samples = {};                     ///< answered (captioning: one per image id)
  std::vector<std::string> ids = {};                    ///< per sample: its id without the "dataset:" prefix
  std::vector<std::optional<std::string>> predictions;  ///< per sample; empty when its input was skipped
  std::vector<size_t> donors = {};                      ///< blind control: whose inputs answered each sample
  std::string qa_metric = {};                           ///< qa: vqa | exact
  double seconds = 0;                                   ///< generation time of the dataset
  double prefill_seconds = 0, decode_seconds = 0;       ///< of which the LLM's prompts / new tokens
  int64_t decode_steps = 0;                             ///< generate() steps after the prompts, summed
  int64_t skipped = 0;
  nlohmann::json scores = {};  ///< the metrics' full output (per image / per question included)
};

struct EvalSummary {
  std::string recipe = {}, description = {}, control = "none";
  std::filesystem::path run = {};         ///< empty: the recipe's model: section
  std::filesystem::path checkpoint = {};  ///< the run's checkpoint folder
  int64_t step = 0;
  std::filesystem::path out = {};
  int64_t trainable_values = 0;
  nlohmann::json model = {};     ///< {"llm": name, "modalities": {name: {"aligner", "encoder"}}}
  nlohmann::json generate = {};  ///< effective generation options per task
  double seconds = 0;            ///< the whole evaluation, loading included
  double load_seconds = 0;       ///< building the model and loading the run
  int64_t report_samples = 5;
  std::vector<DatasetResult> datasets = {};
};

/// The predictions file of a dataset: captioning [{"image_id", "caption", "references"}],
/// QA [{"question_id", "question", "answer", "references"}]; with the blind control each entry
/// also names "features_from" (the id whose inputs answered it). Skipped samples are left out.
nlohmann::json predictions_json(const DatasetResult& result);
/// metrics.json: the headline numbers of every dataset (no per-image scores) and the setting.
nlohmann::json metrics_json(const EvalSummary& summary);
/// report.md: setting, metrics table, a few predictions beside their references.
std::string report_markdown(const EvalSummary& summary);
/// The lines printed when the evaluation ends.
std::string summary_text(const EvalSummary& summary);
/// "CIDEr 41.2 · BLEU-4 12.0 · ROUGE-L 40.3" / "accuracy 55.0% (exact)".
std::string headline(const DatasetResult& result);

}  // namespace xib::eval
