// A modality's prompt text, owned by its plugin and found through the registry: the cue placed
// before its tokens in the LLM prompt, and the instruction templates per task (several
// phrasings, one drawn per training example; SPEC "Data"). QA templates hold "{question}".
// Datasets look templates up by modality name without building the modality (no encoder
// weights are read). Torch-free.
//
//   // in a modality plugin's init:
//   reg.add<xib::ModalityPrompts>("mine", xib::prompts_factory(my_prompts()), "cue and templates");
//   // anywhere after the plugins are loaded:
//   const auto& t = xib::instruction_templates("mine", "caption");
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "xib/registry.h"

namespace xib {

/// Upstream's captioning instruction at evaluation time (SPEC "Evaluation").
inline constexpr const char* kCaptionEvalInstruction = "a short description";
/// The placeholder a QA template carries.
inline constexpr const char* kQuestionPlaceholder = "{question}";

struct ModalityPrompts {
  static constexpr const char* kKind = "prompts";
  /// Text before the modality's tokens (" image: "); the modality may let a recipe override it.
  std::string cue = {};
  /// task ("caption", "qa", …) → templates; every "qa" template holds "{question}".
  std::map<std::string, std::vector<std::string>> templates = {};
};

/// A registry factory handing out copies of `prompts`.
Factory<ModalityPrompts> prompts_factory(ModalityPrompts prompts);

/// The prompts a plugin registered for `modality`; NotFoundError listing the modalities that
/// have prompts (and the nearest name) otherwise.
std::shared_ptr<const ModalityPrompts> modality_prompts(std::string_view modality);

/// The templates of one modality and task; NotFoundError naming the known tasks (or modalities)
/// otherwise, with a hint to give the dataset its own `instructions:`.
std::vector<std::string> instruction_templates(std::string_view modality, std::string_view task);

/// The template with every "{question}" replaced by `question`.
std::string fill_template(std::string_view tmpl, std::string_view question);
/// The fixed instruction of evaluation: captioning "a short description"; QA the question itself.
std::string evaluation_instruction(std::string_view task, std::string_view question = {});

}  // namespace xib
