// The language-model options of `xib generate` and `xib score` (lm_prompt.h).
#include "lm_prompt.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <sstream>
#include <vector>

#include "xib/config.h"
#include "xib/language_model.h"
#include "xib/registry.h"

namespace xib::cli {

void add_model_prompt_options(po::options_description& o, po::positional_options_description& p) {
  o.add_options()("model", po::value<std::string>()->value_name("PATH"),
                  "a .gguf file, an HF folder or a model-cache name (default: the plugin's own default model)")(
      "prompt", po::value<std::string>()->value_name("TEXT"), "the prompt (or the user's message)")(
      "raw", "send the prompt as it is, without the chat template")(
      "system", po::value<std::string>()->value_name("TEXT"), "the system message of the chat template")(
      "bos", "start the prompt with the tokenizer's BOS id")(
      "plugin", po::value<std::string>()->value_name("NAME"),
      "the language model's registry name (default: the only language model loaded)");
  p.add("prompt", 1);
}

std::shared_ptr<LanguageModel> create_cli_model(const po::variables_map& vm, const std::string& command) {
  load_plugins(vm);
  YAML::Node node(YAML::NodeType::Map);
  if (vm.count("model")) node["path"] = vm["model"].as<std::string>();
  std::stringstream yaml;
  yaml << node;
  const auto source = ConfigSource::from_string(yaml.str(), command + " --model", std::filesystem::current_path());
  const std::string plugin = vm.count("plugin") ? vm["plugin"].as<std::string>() : only_language_model("--plugin");
  return Registry::global().create<LanguageModel>(plugin, FactoryArgs{.options = source->section()});
}

std::string cli_prompt_text(const po::variables_map& vm, const LanguageModel& model) {
  const std::string text = vm["prompt"].as<std::string>();
  if (vm.count("raw")) return text;
  std::vector<ChatMessage> messages;
  if (vm.count("system")) messages.push_back({.role = "system", .content = vm["system"].as<std::string>()});
  messages.push_back({.role = "user", .content = text});
  return model.apply_chat_template(messages, /*add_generation_prompt=*/true);
}

}  // namespace xib::cli
