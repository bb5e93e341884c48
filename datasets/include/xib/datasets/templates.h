// Instruction templates: several phrasings per modality and task, one sampled per training
// example (SPEC "Data"). QA templates hold "{question}", filled with the entry's question.
// The table itself is data in templates.cpp; lookup and filling are in instructions.cpp.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xib::datasets {

/// Upstream's captioning instruction at evaluation time (SPEC "Evaluation").
inline constexpr const char* kCaptionEvalInstruction = "a short description";
/// The placeholder a QA template carries.
inline constexpr const char* kQuestionPlaceholder = "{question}";

/// (modality, task) → templates. Modalities: image, video, audio, pc; tasks: caption, qa.
const std::map<std::pair<std::string, std::string>, std::vector<std::string>>& template_table();

/// "3d" → "pc" (upstream's name for point clouds); other names unchanged.
std::string canonical_modality(std::string_view modality);
/// Modalities and tasks that have templates, sorted.
std::vector<std::string> template_modalities();
std::vector<std::string> template_tasks();
/// The templates of one modality and task; NotFoundError listing the known ones otherwise.
const std::vector<std::string>& instruction_templates(std::string_view modality, std::string_view task);

/// The template with every "{question}" replaced by `question`.
std::string fill_template(std::string_view tmpl, std::string_view question);
/// The fixed instruction of evaluation: captioning "a short description"; QA the question itself.
std::string evaluation_instruction(std::string_view task, std::string_view question = {});

}  // namespace xib::datasets
