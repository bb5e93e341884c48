// Chat prompts: ChatML (<|im_start|>role\n…<|im_end|>\n), as SmolLM2's tokenizer.chat_template
// renders them with add_generation_prompt, and Vicuna v1.1 (FastChat's "vicuna_v1.1"
// conversation template), and the choice between them from a model's metadata.
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

/// FastChat's "vicuna_v1.1" system message (fastchat/conversation.py; also the example prompt of
/// FastChat's docs/vicuna_weights_version.md).
inline constexpr const char* kVicunaV11DefaultSystem =
    "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
    "detailed, and polite answers to the user's questions.";

/// FastChat's vicuna_v1.1 conversation (SeparatorStyle.ADD_COLON_TWO, roles USER / ASSISTANT,
/// sep " ", sep2 "</s>"): the system message (a first "system" message replaces
/// `default_system`) + " ", then per message i "ROLE: content" + (" " for even i, "</s>" for odd
/// i; "ROLE:" alone for empty content), then "ASSISTANT:" when add_generation_prompt. One user
/// message: "{system} USER: {user} ASSISTANT:". UsageError for a role other than user/assistant
/// (after the first message) or roles that do not alternate user, assistant, user, …
std::string render_vicuna_v11(const std::vector<ChatMessage>& messages, bool add_generation_prompt = true,
                              const std::string& default_system = kVicunaV11DefaultSystem);

/// Prompt formats xib renders.
enum class ChatStyle { none, chatml, vicuna_v1_1 };

/// The names the `chat_template` option takes: "auto", "vicuna_v1.1", "chatml", "none".
const std::vector<std::string>& chat_template_names();
/// "vicuna_v1.1", "chatml", "none".
std::string chat_style_name(ChatStyle style);

/// The style for `option` ("auto" or a style name; ConfigError listing the names otherwise).
/// auto: a Jinja template (tokenizer_config.json chat_template, GGUF tokenizer.chat_template) using
/// <|im_start|> is ChatML; one with "USER:" / "ASSISTANT:" is Vicuna; without a template, a model
/// name with "vicuna" in it is Vicuna; anything else is none.
ChatStyle choose_chat_style(const std::string& option, const std::string& jinja, const std::string& model_name);

}  // namespace xib::llama
