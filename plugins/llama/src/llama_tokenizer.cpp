// The model's tokenizer (plugins/llama/text) and a ChatML renderer for chat templates.
#include "llama_tokenizer.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "bpe_tokenizer.h"
#include "chat_template.h"
#include "llama_load.h"
#include "sp_tokenizer.h"
#include "vicuna_version.h"
#include "xib/error.h"
#include "xib/io/gguf.h"

namespace xib::llama {

namespace fs = std::filesystem;

std::unique_ptr<Tokenizer> tokenizer_from_hf_folder(const fs::path& dir) {
  if (fs::exists(dir / "tokenizer.json")) {
    return std::make_unique<BpeTokenizer>(BpeTokenizer::from_tokenizer_json(dir / "tokenizer.json"));
  }
  if (has_sp_model(dir)) return std::make_unique<SpTokenizer>(SpTokenizer::from_hf_folder(dir));
  return nullptr;
}

std::unique_ptr<Tokenizer> tokenizer_from_gguf(const io::GgufFile& file) {
  if (!file.find("tokenizer.ggml.tokens")) return nullptr;
  if (file.get_string_or("tokenizer.ggml.model", "") == "llama") {
    return std::make_unique<SpTokenizer>(SpTokenizer::from_gguf(file));
  }
  return std::make_unique<BpeTokenizer>(BpeTokenizer::from_gguf(file));
}

std::unique_ptr<Tokenizer> load_tokenizer(const fs::path& model_path, const LlamaOptions& options) {
  const bool dir = fs::is_directory(model_path);
  std::unique_ptr<Tokenizer> t;
  if (options.tokenizer_type == "auto") {
    if (dir) {
      t = tokenizer_from_hf_folder(model_path);
    } else {
      t = tokenizer_from_gguf(io::GgufFile(model_path));
    }
  } else if (options.tokenizer_type == "sentencepiece") {
    if (dir) {
      t = std::make_unique<SpTokenizer>(
          SpTokenizer::from_hf_folder(model_path));  // NotFoundError without tokenizer.model
    } else {
      t = std::make_unique<SpTokenizer>(SpTokenizer::from_gguf(io::GgufFile(model_path)));
    }
  } else {  // bpe
    if (dir) {
      if (!fs::exists(model_path / "tokenizer.json")) {
        throw NotFoundError(
            {.what = "tokenizer_type bpe, but the folder has no tokenizer.json",
             .where = model_path.string(),
             .expected = "tokenizer.json",
             .hint = has_sp_model(model_path) ? "it has tokenizer.model: use tokenizer_type sentencepiece" : ""});
      }
      t = std::make_unique<BpeTokenizer>(BpeTokenizer::from_tokenizer_json(model_path / "tokenizer.json"));
    } else {
      t = std::make_unique<BpeTokenizer>(BpeTokenizer::from_gguf(io::GgufFile(model_path)));
    }
  }
  if (options.upstream_special_tokens) {
    auto* sp = dynamic_cast<SpTokenizer*>(t.get());
    if (!sp) {
      throw ConfigError({.what = "upstream_special_tokens needs a SentencePiece (Vicuna) tokenizer",
                         .where = model_path.string(),
                         .expected = "tokenizer.model / tokenizer.ggml.model llama",
                         .got = t ? t->name() : std::string("no tokenizer"),
                         .hint = "leave upstream_special_tokens off for this model"});
    }
    sp->apply_upstream_vicuna_setup();
  }
  return t;
}

std::vector<std::string> check_vicuna_files(const fs::path& model_path, const std::string& expected) {
  const VicunaFacts facts = fs::is_directory(model_path) ? vicuna_facts_from_hf_folder(model_path)
                                                         : vicuna_facts_from_gguf(io::GgufFile(model_path));
  const VicunaDetection d = detect_vicuna_version(facts);
  if (expected.empty() && !d.vicuna) return {};  // not a Vicuna and nothing asked: nothing to say
  return check_vicuna_version(d, expected, model_path.string());
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

std::string render_chat(const std::string& option, const std::string& jinja, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt, const std::string& model_name) {
  switch (choose_chat_style(option, jinja, model_name)) {
    case ChatStyle::vicuna_v1_1:
      return render_vicuna_v11(messages, add_generation_prompt);
    case ChatStyle::chatml:
      if (jinja.find("<|im_start|>") != std::string::npos)
        return render_chat(jinja, messages, add_generation_prompt, model_name);
      return render_chatml(messages, "", add_generation_prompt);
    case ChatStyle::none:
      break;
  }
  if (option == "none") {
    throw NotFoundError({.what = "chat_template is none: the model has no chat format",
                         .where = model_name,
                         .expected = "chat_template auto, vicuna_v1.1 or chatml",
                         .got = "none",
                         .hint = "use --raw to send the prompt as it is"});
  }
  return render_chat(jinja, messages, add_generation_prompt, model_name);
}

}  // namespace xib::llama
