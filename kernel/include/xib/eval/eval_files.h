// Reading prediction and reference files for caption_scores() and vqa_accuracy(), in the
// formats the COCO and VQA tools use, plus plain id → value objects. Ids may be JSON numbers
// or strings; they become strings ("42"). Every problem is an IoError or FormatError naming
// the file and the entry.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xib/eval/vqa_metrics.h"

namespace xib::eval {

/// COCO results ([{"image_id", "caption"}, …]) or {"id": "caption", …}. A repeated id is an error.
std::map<std::string, std::string> read_caption_predictions(const std::filesystem::path& file);

/// COCO captions annotations ({"annotations": [{"image_id", "caption"}, …]}), a list of such
/// records, or {"id": ["caption", …], …}.
std::map<std::string, std::vector<std::string>> read_caption_references(const std::filesystem::path& file);

/// VQA results ([{"question_id", "answer"}, …]) or {"id": "answer", …}. A repeated id is an error.
std::map<std::string, std::string> read_vqa_predictions(const std::filesystem::path& file);

/// VQA annotations ({"annotations": [{"question_id", "answers": [{"answer"}, …],
/// "answer_type"?, "question_type"?}, …]}), a list of such records (an "answer" list of strings
/// also works, as in LAVIS's test files), or {"id": ["answer", …], …}.
std::map<std::string, VqaReference> read_vqa_references(const std::filesystem::path& file);

/// Writes `doc` indented to `file` (parent folders created); IoError when it cannot.
void write_json_file(const std::filesystem::path& file, const nlohmann::json& doc);

}  // namespace xib::eval
