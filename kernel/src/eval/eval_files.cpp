// Prediction and reference files for the evaluation metrics (COCO / VQA formats).
#include "xib/eval/eval_files.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "xib/error.h"
#include "xib/files.h"
#include "xib/json_text.h"

namespace xib::eval {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::filesystem::path& file, const std::string& where, std::string expected,
                      const json& got) {
  std::string text = json_text(got);
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  throw FormatError(ErrorInfo{.what = "unexpected entry in evaluation file",
                              .where = file.string() + (where.empty() ? "" : ", " + where),
                              .expected = std::move(expected),
                              .got = text});
}

std::string id_of(const json& v, const std::filesystem::path& file, const std::string& where) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  bad(file, where, "an id (integer or string)", v);
}

std::string text_of(const json& v, const std::filesystem::path& file, const std::string& where) {
  if (!v.is_string()) bad(file, where, "a string", v);
  return v.get<std::string>();
}

const json& field(const json& record, const char* key, const std::filesystem::path& file, const std::string& where) {
  if (!record.is_object() || !record.contains(key))
    bad(file, where, std::string("an object with \"") + key + "\"", record);
  return record[key];
}

/// [{id_key, value_key}, …] or {"id": value} → id → string; a repeated id is a FormatError.
std::map<std::string, std::string> read_single(const std::filesystem::path& file, const char* id_key,
                                               const char* value_key) {
  json doc = read_json_file(file, "evaluation file");
  std::map<std::string, std::string> out;
  auto add = [&](std::string id, std::string value, const std::string& where) {
    if (!out.emplace(id, std::move(value)).second)
      throw FormatError(ErrorInfo{.what = "id " + id + " appears twice in the predictions",
                                  .where = file.string() + ", " + where,
                                  .expected = "one prediction per id"});
  };
  if (doc.is_array()) {
    for (size_t i = 0; i < doc.size(); ++i) {
      std::string where = "entry " + std::to_string(i);
      add(id_of(field(doc[i], id_key, file, where), file, where),
          text_of(field(doc[i], value_key, file, where), file, where), where);
    }
  } else if (doc.is_object()) {
    for (const auto& [id, v] : doc.items()) add(id, text_of(v, file, "key " + id), "key " + id);
  } else {
    bad(file, "", std::string("a list of {\"") + id_key + "\", \"" + value_key + "\"} or an object", doc);
  }
  return out;
}

std::vector<std::string> string_list(const json& v, const std::filesystem::path& file, const std::string& where) {
  if (!v.is_array()) bad(file, where, "a list of strings", v);
  std::vector<std::string> out;
  for (const auto& s : v) out.push_back(text_of(s, file, where));
  return out;
}

}  // namespace

std::map<std::string, std::string> read_caption_predictions(const std::filesystem::path& file) {
  return read_single(file, "image_id", "caption");
}

std::map<std::string, std::string> read_vqa_predictions(const std::filesystem::path& file) {
  return read_single(file, "question_id", "answer");
}

std::map<std::string, std::vector<std::string>> read_caption_references(const std::filesystem::path& file) {
  json doc = read_json_file(file, "evaluation file");
  std::map<std::string, std::vector<std::string>> out;
  if (doc.is_object() && doc.contains("annotations")) doc = doc["annotations"];
  if (doc.is_array()) {
    for (size_t i = 0; i < doc.size(); ++i) {
      std::string where = "annotation " + std::to_string(i);
      out[id_of(field(doc[i], "image_id", file, where), file, where)].push_back(
          text_of(field(doc[i], "caption", file, where), file, where));
    }
  } else if (doc.is_object()) {
    for (const auto& [id, v] : doc.items()) out[id] = string_list(v, file, "key " + id);
  } else {
    bad(file, "", "COCO caption annotations or {\"id\": [captions]}", doc);
  }
  return out;
}

std::map<std::string, VqaReference> read_vqa_references(const std::filesystem::path& file) {
  json doc = read_json_file(file, "evaluation file");
  std::map<std::string, VqaReference> out;
  if (doc.is_object() && doc.contains("annotations")) doc = doc["annotations"];
  if (doc.is_array()) {
    for (size_t i = 0; i < doc.size(); ++i) {
      const json& rec = doc[i];
      std::string where = "annotation " + std::to_string(i);
      std::string id = id_of(field(rec, "question_id", file, where), file, where);
      VqaReference ref;
      if (rec.contains("answers")) {
        const json& answers = rec["answers"];
        if (!answers.is_array()) bad(file, where, "\"answers\": a list", answers);
        for (const auto& a : answers)
          ref.answers.push_back(a.is_object() ? text_of(field(a, "answer", file, where), file, where)
                                              : text_of(a, file, where));
      } else {
        const json& answer = field(rec, "answer", file, where);
        ref.answers = answer.is_array() ? string_list(answer, file, where)
                                        : std::vector<std::string>{text_of(answer, file, where)};
      }
      if (rec.contains("answer_type")) ref.answer_type = text_of(rec["answer_type"], file, where);
      if (rec.contains("question_type")) ref.question_type = text_of(rec["question_type"], file, where);
      if (!out.emplace(id, std::move(ref)).second)
        throw FormatError(ErrorInfo{.what = "question " + id + " appears twice in the references",
                                    .where = file.string() + ", " + where,
                                    .expected = "one annotation per question"});
    }
  } else if (doc.is_object()) {
    for (const auto& [id, v] : doc.items()) out[id].answers = string_list(v, file, "key " + id);
  } else {
    bad(file, "", "VQA annotations or {\"id\": [answers]}", doc);
  }
  return out;
}

void write_json_file(const std::filesystem::path& file, const nlohmann::json& doc) {
  std::error_code ec;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out)
    throw IoError(
        ErrorInfo{.what = "cannot write evaluation results", .where = file.string(), .got = std::strerror(errno)});
  out << json_text(doc, 2) << '\n';
  if (!out.flush())
    throw IoError(
        ErrorInfo{.what = "cannot write evaluation results", .where = file.string(), .got = std::strerror(errno)});
}

}  // namespace xib::eval
