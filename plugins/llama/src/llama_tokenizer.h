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

/// tokenizer.json of the folder; nullptr when the folder has none.
std::unique_ptr<Tokenizer> tokenizer_from_hf_folder(const std::filesystem::path& dir);
/// tokenizer.ggml.* metadata; nullptr when the file has none.
std::unique_ptr<Tokenizer> tokenizer_from_gguf(const io::GgufFile& file);
/// tokenizer_config.json's chat_template, or "".
std::string chat_template_from_hf_folder(const std::filesystem::path& dir);

/// `messages` in the chat template `jinja` (only ChatML templates are understood: those that
/// use <|im_start|>/<|im_end|>). NotFoundError when there is no template, ConfigError for one
/// that is not ChatML.
std::string render_chat(const std::string& jinja, const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                        const std::string& model_name);

}  // namespace xib::llama
