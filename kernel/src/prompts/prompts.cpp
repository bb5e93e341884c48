// Looking up the prompts modality plugins register, and filling templates (xib/prompts.h).
#include "xib/prompts.h"

#include <fmt/format.h>

#include "xib/config.h"
#include "xib/error.h"
#include "xib/text/strings.h"

namespace xib {

Factory<ModalityPrompts> prompts_factory(ModalityPrompts prompts) {
  return [prompts = std::move(prompts)](const FactoryArgs&) { return std::make_unique<ModalityPrompts>(prompts); };
}

std::shared_ptr<const ModalityPrompts> modality_prompts(std::string_view modality) {
  const Registry& r = Registry::global();
  if (r.find(ModalityPrompts::kKind, modality)) return r.create<ModalityPrompts>(modality, {});
  const auto known = r.names<ModalityPrompts>();
  const auto near = nearest_name(modality, known);
  throw NotFoundError(
      {.what = fmt::format("no prompts (cue, instruction templates) for modality '{}'", modality),
       .expected = known.empty() ? std::string("a loaded modality plugin") : "one of: " + join_names(known),
       .got = std::string(modality),
       .hint = near ? fmt::format("did you mean '{}'?", *near)
                    : "load the modality's plugin (xib plugins lists them), or give the dataset its own "
                      "instructions: list"});
}

std::vector<std::string> instruction_templates(std::string_view modality, std::string_view task) {
  const auto prompts = modality_prompts(modality);
  if (auto it = prompts->templates.find(std::string(task)); it != prompts->templates.end()) return it->second;
  std::vector<std::string> tasks;
  for (const auto& [t, _] : prompts->templates) tasks.push_back(t);
  ErrorInfo info{.what = fmt::format("no instruction templates for modality '{}' and task '{}'", modality, task),
                 .expected = "a task of that modality, one of: " + join_names(tasks),
                 .got = fmt::format("task '{}'", task),
                 .hint = "or give the dataset its own instructions: list"};
  if (const auto near = nearest_name(task, tasks)) info.hint = fmt::format("did you mean '{}'? ({})", *near, info.hint);
  throw NotFoundError(std::move(info));
}

std::string fill_template(std::string_view tmpl, std::string_view question) {
  return text::replace_all(std::string(tmpl), kQuestionPlaceholder, question);
}

std::string evaluation_instruction(std::string_view task, std::string_view question) {
  if (task == "qa") return std::string(question);
  return kCaptionEvalInstruction;
}

}  // namespace xib
