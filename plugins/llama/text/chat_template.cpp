#include "chat_template.h"

#include <algorithm>
#include <cctype>

#include "xib/config.h"
#include "xib/error.h"

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

std::string render_vicuna_v11(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                              const std::string& default_system) {
  size_t first = 0;
  std::string system = default_system;
  if (!messages.empty() && messages.front().role == "system") {
    system = messages.front().content;
    first = 1;
  }
  std::string out = system + " ";
  for (size_t i = first; i < messages.size(); ++i) {
    const size_t turn = i - first;
    const auto& m = messages[i];
    const char* expected = turn % 2 == 0 ? "user" : "assistant";
    if (m.role != expected) {
      throw UsageError({.what = "the Vicuna v1.1 template needs turns alternating user, assistant, user, …",
                        .where = "chat message " + std::to_string(i),
                        .expected = expected,
                        .got = m.role,
                        .hint = "only the first message may be a system message"});
    }
    const std::string role = turn % 2 == 0 ? "USER" : "ASSISTANT";
    if (m.content.empty()) {
      out += role + ":";
    } else {
      out += role + ": " + m.content + (turn % 2 == 0 ? " " : "</s>");
    }
  }
  if (add_generation_prompt) out += "ASSISTANT:";
  return out;
}

const std::vector<std::string>& chat_template_names() {
  static const std::vector<std::string> names = {"auto", "vicuna_v1.1", "chatml", "none"};
  return names;
}

std::string chat_style_name(ChatStyle style) {
  switch (style) {
    case ChatStyle::chatml:
      return "chatml";
    case ChatStyle::vicuna_v1_1:
      return "vicuna_v1.1";
    case ChatStyle::none:
      break;
  }
  return "none";
}

ChatStyle choose_chat_style(const std::string& option, const std::string& jinja, const std::string& model_name) {
  if (option == "vicuna_v1.1") return ChatStyle::vicuna_v1_1;
  if (option == "chatml") return ChatStyle::chatml;
  if (option == "none") return ChatStyle::none;
  if (option != "auto") {
    throw ConfigError({.what = "unknown chat template '" + option + "'",
                       .where = "llama option chat_template",
                       .expected = join_names(chat_template_names()),
                       .got = option,
                       .hint = [&] {
                         const auto near = nearest_name(option, chat_template_names());
                         return near ? "did you mean '" + *near + "'?" : std::string();
                       }()});
  }
  if (jinja.find("<|im_start|>") != std::string::npos) return ChatStyle::chatml;
  if (jinja.find("USER:") != std::string::npos || jinja.find("ASSISTANT:") != std::string::npos) {
    return ChatStyle::vicuna_v1_1;
  }
  if (!jinja.empty()) return ChatStyle::none;
  std::string lower = model_name;
  std::ranges::transform(lower, lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("vicuna") != std::string::npos ? ChatStyle::vicuna_v1_1 : ChatStyle::none;
}

}  // namespace xib::llama
