// llama.cpp's pre-tokenizer regexes by tokenizer.ggml.pre (llama-vocab.cpp, llama_vocab::impl::load
// and llm_tokenizer_bpe), for the byte-level BPE families xib supports.
#include <fmt/format.h>

#include <map>

#include "bpe_tokenizer.h"
#include "xib/config.h"
#include "xib/error.h"

namespace xib::llama {
namespace {

constexpr const char* kGpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
constexpr const char* kLlama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kQwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const std::map<std::string, std::vector<std::string>, std::less<>>& table() {
  static const std::map<std::string, std::vector<std::string>, std::less<>> t = [] {
    std::map<std::string, std::vector<std::string>, std::less<>> m;
    m["default"] = {"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2, "\\p{N}+", "[0-9][0-9][0-9]"};
    for (const char* n : {"gpt-2", "phi-2", "mpt", "olmo", "jais", "jina-es", "jina-de", "jina-v2-es", "jina-v2-de",
                          "gigachat", "mellum", "modern-bert"}) {
      m[n] = {kGpt2};
    }
    // SmolLM2 and StarCoder: every digit on its own, then GPT-2's regex.
    for (const char* n : {"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva"}) {
      m[n] = {"\\p{N}", kGpt2};
    }
    for (const char* n : {"llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral"}) m[n] = {kLlama3};
    for (const char* n : {"qwen2", "deepseek-r1-qwen"}) m[n] = {kQwen2};
    return m;
  }();
  return t;
}

}  // namespace

std::vector<std::string> bpe_pre_tokenizer_regexes(std::string_view pre) {
  const auto& t = table();
  if (const auto it = t.find(pre); it != t.end()) return it->second;
  std::vector<std::string> known;
  for (const auto& [k, v] : t) known.push_back(k);
  const auto near = nearest_name(pre, known);
  throw NotFoundError(
      {.what = fmt::format("unknown BPE pre-tokenizer '{}'", pre),
       .where = "tokenizer.ggml.pre",
       .expected = "one of: " + join_names(known),
       .got = std::string(pre),
       .hint = near ? fmt::format("did you mean '{}'?", *near) : "llama.cpp's llama-vocab.cpp lists them"});
}

}  // namespace xib::llama
