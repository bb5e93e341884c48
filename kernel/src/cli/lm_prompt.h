// What `xib generate` and `xib score` share: the language model --model and --plugin name, and
// --prompt as the user turn of its chat template (--system, --raw, --bos).
#pragma once

#include <memory>
#include <string>

#include "command.h"

namespace xib {
class LanguageModel;
}

namespace xib::cli {

/// --model (default the cached SmolLM2), --prompt (also the first positional argument), --raw,
/// --system, --bos and --plugin.
void add_model_prompt_options(po::options_description& o, po::positional_options_description& p);

/// The model --model names (a .gguf file, an HF folder or a model-cache name), made by the
/// --plugin factory after the plugins are loaded. `command` names the caller in errors.
std::shared_ptr<LanguageModel> create_cli_model(const po::variables_map& vm, const std::string& command);

/// --prompt as the user turn of the model's chat template (with --system as the system turn,
/// the assistant's turn opened), or as it is with --raw.
std::string cli_prompt_text(const po::variables_map& vm, const LanguageModel& model);

}  // namespace xib::cli
