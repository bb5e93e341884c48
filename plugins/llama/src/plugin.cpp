// The llama plugin: registers the LLaMA-family language model under "llama".
#include "xib/plugin.h"

#include <filesystem>

#include "llama_load.h"

XIB_PLUGIN_INFO("0.1.0", "LLaMA-family language models (HF folders, GGUF), greedy generation")

XIB_PLUGIN_INIT(reg) {
  reg.add<xib::LanguageModel>(
      "llama",
      [](const xib::FactoryArgs& args) {
        auto options = xib::bind<xib::llama::LlamaOptions>(args.options);
        // `path` may also name a model-cache entry, so it is text, not a path the binder resolves:
        // a relative path that exists beside the recipe means that file or folder.
        if (args.options.source && !options.path.empty() && options.path[0] != '~' &&
            std::filesystem::path(options.path).is_relative()) {
          const auto beside = args.options.source->base_dir() / options.path;
          if (std::filesystem::exists(beside)) options.path = beside.string();
        }
        return xib::llama::load_llama(options);
      },
      "LLaMA-family decoder (SmolLM2, TinyLlama, Vicuna) from an HF folder or a GGUF file; options: path, "
      "tokenizer, decode (auto|f32|torch), tokenizer_type, chat_template, vicuna_version, upstream_special_tokens");
}
