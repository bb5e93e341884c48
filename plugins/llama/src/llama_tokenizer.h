// The model's tokenizer and chat template, from an HF folder or GGUF metadata (the BPE itself
// lives in plugins/llama/text). Torch-free.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "xib/language_model.h"
#include "xib/tokenizer.h"

namespace xib::io {
class GgufFile;
}

namespace xib::llama {

struct LlamaOptions;

/// The folder's tokenizer: byte-level BPE from tokenizer.json, else SentencePiece from
/// tokenizer.model (+ tokenizer_config.json & co); nullptr when the folder has neither.
std::unique_ptr<Tokenizer> tokenizer_from_hf_folder(const std::filesystem::path& dir);
/// tokenizer.ggml.* metadata: byte-level BPE for tokenizer.ggml.model "gpt2", SentencePiece for
/// "llama"; nullptr when the file has none.
std::unique_ptr<Tokenizer> tokenizer_from_gguf(const io::GgufFile& file);
/// The tokenizer of a model file or folder as the options ask: tokenizer_type (auto, bpe,
/// sentencepiece; NotFoundError when the asked kind's files are missing) and
/// upstream_special_tokens (SentencePiece only; ConfigError for a BPE tokenizer).
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& model_path, const LlamaOptions& options);
/// The Vicuna version check (vicuna_version.h) for an HF folder or GGUF file against
/// options.vicuna_version; returns the warnings (also logged).
std::vector<std::string> check_vicuna_files(const std::filesystem::path& model_path, const std::string& expected);
/// tokenizer_config.json's chat_template, or "".
std::string chat_template_from_hf_folder(const std::filesystem::path& dir);

/// `messages` in the chat template `jinja` (only ChatML templates are understood: those that
/// use <|im_start|>/<|im_end|>). NotFoundError when there is no template, ConfigError for one
/// that is not ChatML.
std::string render_chat(const std::string& jinja, const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                        const std::string& model_name);
/// `messages` in the format the chat_template option picks (choose_chat_style: auto, vicuna_v1.1,
/// chatml, none). auto without a recognised format behaves as render_chat above; "none" is a
/// NotFoundError.
std::string render_chat(const std::string& option, const std::string& jinja, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt, const std::string& model_name);

}  // namespace xib::llama
