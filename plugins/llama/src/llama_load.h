// Loading a LLaMA decoder: from an HF model folder (config.json, safetensors shards,
// tokenizer.json, generation_config.json), a GGUF file, or a model-cache name. Torch-free
// header: the plugin's registration and the CLI-facing options need no LibTorch.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "chat_template.h"
#include "vicuna_version.h"
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
  /// How a single new position is decoded: "auto" (fused C++ step reading a GGUF's Q4_0/Q4_1/
  /// Q8_0 blocks as stored — lossless, the same weight values as the f32 parameters; f32
  /// otherwise), "f32" (fused step on the f32 parameters), "torch" (LibTorch ops).
  std::string decode = "auto";
  /// auto: SentencePiece when the HF folder has tokenizer.model and no tokenizer.json (GGUF:
  /// tokenizer.ggml.model "llama"), else byte-level BPE; or "bpe" / "sentencepiece".
  std::string tokenizer_type = "auto";
  /// Prompt format of apply_chat_template: auto (from the model's template or name), vicuna_v1.1,
  /// chatml, none.
  std::string chat_template = "auto";
  /// "" (no check) or the Vicuna the files must be: v0, v1.1, v1.3, v1.5, llama (vicuna_version.h).
  std::string vicuna_version = "";
  /// The upstream X-InstructBLIP tokenizer setup (SentencePiece only): [PAD] added at the
  /// vocabulary's end, bos = eos = unk = </s> (SpTokenizer::apply_upstream_vicuna_setup).
  bool upstream_special_tokens = false;

  template <class V>
  void fields(V& v) {
    v("path", path, "a .gguf file, an HF model folder, or a model-cache name");
    v("tokenizer", tokenizer, "load the model's tokenizer");
    v("decode", decode, "one-token decode step: auto (GGUF blocks as stored), f32, torch (LibTorch ops)");
    v("tokenizer_type", tokenizer_type, "auto, bpe or sentencepiece");
    v("chat_template", chat_template, "auto, vicuna_v1.1, chatml or none");
    v("vicuna_version", vicuna_version, "the Vicuna version the model must be ('' = no check)");
    v("upstream_special_tokens", upstream_special_tokens,
      "X-InstructBLIP's Vicuna tokenizer setup: [PAD] added, bos = eos = unk = </s>");
  }
  void validate(Validator& v) const {
    v.require(!path.empty(), "path", "a file, folder or cache name", "''");
    v.one_of("decode", decode, {"auto", "f32", "torch"});
    v.one_of("tokenizer_type", tokenizer_type, {"auto", "bpe", "sentencepiece"});
    v.one_of("chat_template", chat_template, chat_template_names());
    if (!vicuna_version.empty()) v.one_of("vicuna_version", vicuna_version, vicuna_version_names());
  }
};

/// Where `path` points: a GGUF file or an HF folder (a cache name resolved in the model cache;
/// a folder holding one .gguf and no config.json is that file). NotFoundError when neither.
std::filesystem::path resolve_model_path(const std::string& path);

/// Loads the model. Every missing, unexpected or mis-shaped weight is reported at once
/// (WeightMapError); a config the plugin cannot run is a ConfigError.
std::unique_ptr<LanguageModel> load_llama(const LlamaOptions& options);

}  // namespace xib::llama
