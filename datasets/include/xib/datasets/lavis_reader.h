// Readers of LAVIS annotation JSON (a list of entries), registered as Dataset kinds:
//   caption: {"image": "rel/path.jpg", "caption": "…" | ["…", …], "image_id": …}
//   qa:      {"image": "rel/path.jpg", "question": "…", "answer": "…" | ["…", …], "question_id": …}
// Loading checks everything at once: the annotation file and root exist, the JSON parses, every
// entry has its fields with the right types (all bad entries reported together, capped), and
// (check_files) every referenced input file exists.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xib/config.h"
#include "xib/dataset.h"
#include "xib/registry.h"

namespace xib::datasets {

/// Recipe section of one `caption` or `qa` dataset.
struct LavisReaderOptions {
  std::string reader;                                    ///< "caption" | "qa"
  std::filesystem::path path;                            ///< the annotation JSON
  std::optional<std::filesystem::path> root;             ///< input files are relative to it; default the JSON's folder
  std::string modality = "image";                        ///< image | video | audio | pc (3d)
  std::string name;                                      ///< default: the JSON's file name without extension
  std::string task;                                      ///< default: the reader ("caption", "qa")
  std::string file_key = "image";                        ///< the entry key holding the input file
  std::optional<std::vector<std::string>> instructions;  ///< replace the modality's templates (xib/prompts.h)
  std::optional<int64_t> limit;                          ///< keep the first N entries
  bool check_files = true;                               ///< every referenced input file must exist
  bool evaluation = false;                               ///< fixed instruction, first caption

  template <class V>
  void fields(V& v) {
    v("reader", reader, "caption | qa");
    v("path", path, "LAVIS annotation JSON (a list of entries)");
    v("root", root, "folder the entries' file paths are relative to (default: the JSON's folder)");
    v("modality", modality, "modality of the input files: image | video | audio | pc (3d)");
    v("name", name, "dataset name in ids and logs (default: the JSON's file stem)");
    v("task", task, "task that picks the templates (default: the reader)");
    v("file_key", file_key, "entry key of the input file");
    v("instructions", instructions, "own instruction templates (qa: each with {question})");
    v("limit", limit, "use only the first N entries");
    v("check_files", check_files, "check that every referenced input file exists");
    v("evaluation", evaluation, "evaluation instruction ('a short description' / the question) and first caption");
  }
  void validate(Validator& v) const;
  /// Task with the default applied.
  std::string effective_task() const { return task.empty() ? reader : task; }
};

/// One annotation entry, reduced to what a Sample needs.
struct LavisEntry {
  std::string file;                ///< as written in the JSON (relative to root)
  std::string key;                 ///< image_id / question_id as text, empty when absent
  std::string question;            ///< qa only
  std::vector<std::string> texts;  ///< captions, or answers (with repeats)
};

/// A LAVIS caption or QA annotation file as a Dataset.
class LavisDataset : public Dataset {
 public:
  /// Loads and checks the annotation file (IoError / FormatError listing every problem).
  explicit LavisDataset(LavisReaderOptions options);

  std::string name() const override { return name_; }
  size_t size() const override { return entries_.size(); }
  std::vector<std::string> modalities() const override { return {modality_}; }
  std::string task() const override { return task_; }
  /// id "name:image_id" (or question_id, else "name:index"); instruction a sampled template
  /// (qa: filled with the question); answer one caption (uniform) or one answer (weighted by
  /// its frequency among the entry's answers, as LAVIS does); references all of them.
  Sample get(size_t index, Rng& rng) const override;

  const LavisReaderOptions& options() const { return options_; }
  const std::filesystem::path& root() const { return root_; }
  const std::vector<std::string>& templates() const { return templates_; }
  const std::vector<LavisEntry>& entries() const { return entries_; }

 private:
  LavisReaderOptions options_;
  std::string name_, modality_, task_;
  std::filesystem::path root_;
  std::vector<std::string> templates_;
  std::vector<LavisEntry> entries_;
};

/// Distinct answers in first-seen order with weights count / total (LAVIS VQA answer weights).
std::vector<std::pair<std::string, double>> answer_weights(const std::vector<std::string>& answers);

/// "3d" → "pc" (upstream's name for point clouds); other names unchanged.
std::string canonical_modality(std::string_view modality);

/// Register `caption` and `qa` (the datasets plugin's init calls this).
void register_lavis_readers(Registrations& reg);

}  // namespace xib::datasets
