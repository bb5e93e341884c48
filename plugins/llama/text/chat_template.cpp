#include "chat_template.h"

namespace xib::llama {

std::string render_chatml(const std::vector<ChatMessage>& messages, const std::string& default_system,
                          bool add_generation_prompt) {
  std::string out;
  const auto add = [&](const std::string& role, const std::string& content) {
    out += "<|im_start|>" + role + "\n" + content + "<|im_end|>\n";
  };
  if (!default_system.empty() && (messages.empty() || messages.front().role != "system")) {
    // The template adds it inside its loop (loop.first), so only when there is a message.
    if (!messages.empty()) add("system", default_system);
  }
  for (const auto& m : messages) add(m.role, m.content);
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

std::string chatml_user_prompt(const std::string& user) { return render_chatml({{.role = "user", .content = user}}); }

}  // namespace xib::llama
