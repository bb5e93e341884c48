// Lookup of the instruction templates (templates.cpp) and filling them.
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "xib/config.h"
#include "xib/datasets/templates.h"
#include "xib/error.h"

namespace xib::datasets {

std::string canonical_modality(std::string_view modality) { return modality == "3d" ? "pc" : std::string(modality); }

std::vector<std::string> template_modalities() {
  std::set<std::string> out;
  for (const auto& [key, _] : template_table()) out.insert(key.first);
  return {out.begin(), out.end()};
}

std::vector<std::string> template_tasks() {
  std::set<std::string> out;
  for (const auto& [key, _] : template_table()) out.insert(key.second);
  return {out.begin(), out.end()};
}

const std::vector<std::string>& instruction_templates(std::string_view modality, std::string_view task) {
  const std::string m = canonical_modality(modality);
  const auto& table = template_table();
  if (auto it = table.find({m, std::string(task)}); it != table.end()) return it->second;
  const auto modalities = template_modalities();
  const auto tasks = template_tasks();
  const bool modality_known = std::find(modalities.begin(), modalities.end(), m) != modalities.end();
  ErrorInfo info{.what = fmt::format("no instruction templates for modality '{}' and task '{}'", modality, task),
                 .expected = fmt::format("modality one of: {} (3d = pc); task one of: {}", join_names(modalities),
                                         join_names(tasks)),
                 .got = fmt::format("modality '{}', task '{}'", modality, task),
                 .hint = "or give the dataset its own instructions: list"};
  const auto near = modality_known ? nearest_name(task, tasks) : nearest_name(m, modalities);
  if (near) info.hint = fmt::format("did you mean '{}'? ({})", *near, info.hint);
  throw NotFoundError(std::move(info));
}

std::string fill_template(std::string_view tmpl, std::string_view question) {
  std::string out(tmpl);
  const std::string_view ph = kQuestionPlaceholder;
  for (size_t at = out.find(ph); at != std::string::npos; at = out.find(ph, at + question.size())) {
    out.replace(at, ph.size(), question);
  }
  return out;
}

std::string evaluation_instruction(std::string_view task, std::string_view question) {
  if (task == "qa") return std::string(question);
  return kCaptionEvalInstruction;
}

}  // namespace xib::datasets
