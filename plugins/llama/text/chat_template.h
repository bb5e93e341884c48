// ChatML prompts (<|im_start|>role\n…<|im_end|>\n), as SmolLM2's tokenizer.chat_template renders
// them with add_generation_prompt.
#pragma once

#include <string>
#include <vector>

#include "xib/language_model.h"  // xib::ChatMessage

namespace xib::llama {

/// SmolLM2-Instruct's default system prompt, which its template adds when the first message is
/// not a system message.
inline constexpr const char* kSmolLM2DefaultSystem =
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

/// Each message as "<|im_start|>{role}\n{content}<|im_end|>\n"; a system message with
/// `default_system` first when the first message is not a system message and default_system is
/// non-empty; then "<|im_start|>assistant\n" when add_generation_prompt.
std::string render_chatml(const std::vector<ChatMessage>& messages,
                          const std::string& default_system = kSmolLM2DefaultSystem, bool add_generation_prompt = true);

/// One user message, SmolLM2's way (default system prompt, generation prompt).
std::string chatml_user_prompt(const std::string& user);

}  // namespace xib::llama
