// The model's tokenizer (plugins/llama/text) and a ChatML renderer for chat templates.
#include "llama_tokenizer.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "bpe_tokenizer.h"
#include "chat_template.h"
#include "xib/error.h"
#include "xib/io/gguf.h"

namespace xib::llama {

namespace fs = std::filesystem;

std::unique_ptr<Tokenizer> tokenizer_from_hf_folder(const fs::path& dir) {
  if (!fs::exists(dir / "tokenizer.json")) return nullptr;
  return std::make_unique<BpeTokenizer>(BpeTokenizer::from_tokenizer_json(dir / "tokenizer.json"));
}

std::unique_ptr<Tokenizer> tokenizer_from_gguf(const io::GgufFile& file) {
  if (!file.find("tokenizer.ggml.tokens")) return nullptr;
  return std::make_unique<BpeTokenizer>(BpeTokenizer::from_gguf(file));
}

std::string chat_template_from_hf_folder(const fs::path& dir) {
  std::ifstream in(dir / "tokenizer_config.json");
  if (!in) return {};
  const auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return {};
  auto it = j.find("chat_template");
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

namespace {

/// The default system message a ChatML template inserts when the conversation has none
/// (SmolLM2: "You are a helpful AI assistant named SmolLM, trained by Hugging Face"), or "".
std::string default_system(const std::string& jinja) {
  if (jinja.find("!= 'system'") == std::string::npos && jinja.find("!= \"system\"") == std::string::npos) return {};
  for (const std::string open : {"<|im_start|>system\n", "<|im_start|>system\\n"}) {
    const auto a = jinja.find(open);
    if (a == std::string::npos) continue;
    const auto b = jinja.find("<|im_end|>", a);
    if (b == std::string::npos) return {};
    std::string text = jinja.substr(a + open.size(), b - a - open.size());
    if (text.find("{{") != std::string::npos || text.find("{%") != std::string::npos) return {};
    return text;
  }
  return {};
}

}  // namespace

std::string render_chat(const std::string& jinja, const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                        const std::string& model_name) {
  if (jinja.empty()) {
    throw NotFoundError({.what = "the model has no chat template",
                         .where = model_name,
                         .expected = "tokenizer.chat_template (GGUF) or chat_template in tokenizer_config.json",
                         .hint = "use --raw to send the prompt as it is"});
  }
  if (jinja.find("<|im_start|>") == std::string::npos) {
    throw ConfigError({.what = "the model's chat template is not ChatML, the only kind xib renders",
                       .where = model_name,
                       .expected = "a template using <|im_start|> … <|im_end|>",
                       .got = jinja.substr(0, 80),
                       .hint = "use --raw and write the prompt in the model's format"});
  }
  return render_chatml(messages, default_system(jinja), add_generation_prompt);
}

}  // namespace xib::llama
