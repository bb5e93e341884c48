// The llama plugin: registers the LLaMA-family language model under "llama".
#include "xib/plugin.h"

#include "llama_load.h"

XIB_PLUGIN_INFO("0.1.0", "LLaMA-family language models (HF folders, GGUF), greedy generation")

XIB_PLUGIN_INIT(reg) {
  reg.add<xib::LanguageModel>(
      "llama",
      [](const xib::FactoryArgs& args) {
        return xib::llama::load_llama(xib::bind<xib::llama::LlamaOptions>(args.options));
      },
      "LLaMA-family decoder (SmolLM2, TinyLlama, Vicuna) from an HF folder or a GGUF file; options: path, "
      "tokenizer");
}
