// Loading a LLaMA decoder: from an HF model folder (config.json, safetensors shards,
// tokenizer.json, generation_config.json), a GGUF file, or a model-cache name. Torch-free
// header: the plugin's registration and the CLI-facing options need no LibTorch.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "xib/config.h"
#include "xib/language_model.h"

namespace xib::io {
class GgufFile;
}

namespace xib::llama {

/// The recipe section of the llama language model: `llm: {plugin: llama, path: …}`.
struct LlamaOptions {
  /// A .gguf file, an HF model folder, or a model-cache name ("smollm2-135m-instruct").
  std::string path = "smollm2-135m-instruct";
  bool tokenizer = true;  ///< load the tokenizer too (false: token ids only)

  template <class V>
  void fields(V& v) {
    v("path", path, "a .gguf file, an HF model folder, or a model-cache name");
    v("tokenizer", tokenizer, "load the model's tokenizer");
  }
  void validate(Validator& v) const { v.require(!path.empty(), "path", "a file, folder or cache name", "''"); }
};

/// Where `path` points: a GGUF file or an HF folder (a cache name resolved in the model cache;
/// a folder holding one .gguf and no config.json is that file). NotFoundError when neither.
std::filesystem::path resolve_model_path(const std::string& path);

/// Loads the model. Every missing, unexpected or mis-shaped weight is reported at once
/// (WeightMapError); a config the plugin cannot run is a ConfigError.
std::unique_ptr<LanguageModel> load_llama(const LlamaOptions& options);

}  // namespace xib::llama
