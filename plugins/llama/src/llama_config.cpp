// Reading a LLaMA decoder's configuration from config.json or GGUF metadata.
#include "llama_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "xib/config.h"
#include "xib/error.h"
#include "xib/files.h"
#include "xib/io/gguf.h"

namespace xib::llama {

namespace {

using json = nlohmann::json;

[[noreturn]] void unsupported_architecture(const std::string& got, const std::string& where, const std::string& key) {
  ErrorInfo info{.what = "unsupported model architecture '" + got + "'",
                 .where = where + ", key " + key,
                 .expected = "one of: " + join_names(supported_architectures()),
                 .got = got,
                 .hint = "the llama plugin runs LLaMA-family decoders (LLaMA, Vicuna, SmolLM2, TinyLlama)"};
  if (auto near = nearest_name(got, supported_architectures())) info.hint = "did you mean '" + *near + "'?";
  throw ConfigError(std::move(info));
}

int64_t need_int(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) {
    throw ConfigError({.what = fmt::format("config.json lacks the integer '{}'", key),
                       .where = where,
                       .expected = fmt::format("\"{}\": an integer", key),
                       .got = it == j.end() ? std::string("nothing") : it->dump()});
  }
  return it->get<int64_t>();
}

std::optional<int64_t> opt_int(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

/// eos_token_id is an integer or a list of them.
std::vector<int64_t> id_list(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return {};
  if (it->is_number_integer()) return {it->get<int64_t>()};
  std::vector<int64_t> out;
  if (it->is_array()) {
    for (const auto& e : *it) {
      if (e.is_number_integer()) out.push_back(e.get<int64_t>());
    }
  }
  return out;
}

void read_rope(const json& j, LlamaConfig& c, const std::string& where) {
  // transformers 5: rope_parameters {rope_type, rope_theta, factor, …}; 4.x: rope_theta and
  // rope_scaling {type | rope_type, factor, …} at the top level.
  if (auto it = j.find("rope_theta"); it != j.end() && it->is_number()) c.rope_theta = it->get<double>();
  const json* scaling = nullptr;
  if (auto it = j.find("rope_parameters"); it != j.end() && it->is_object()) scaling = &*it;
  if (auto it = j.find("rope_scaling"); !scaling && it != j.end() && it->is_object()) scaling = &*it;
  if (!scaling) return;
  const json& s = *scaling;
  if (auto it = s.find("rope_theta"); it != s.end() && it->is_number()) c.rope_theta = it->get<double>();
  std::string type = "default";
  if (auto it = s.find("rope_type"); it != s.end() && it->is_string()) type = it->get<std::string>();
  if (auto it = s.find("type"); it != s.end() && it->is_string()) type = it->get<std::string>();
  const auto& known = supported_rope_types();
  if (std::find(known.begin(), known.end(), type) == known.end()) {
    throw ConfigError({.what = "unsupported rope scaling type '" + type + "'",
                       .where = where + ", key rope_parameters.rope_type",
                       .expected = "one of: " + join_names(known),
                       .got = type});
  }
  c.rope.type = type;
  if (auto it = s.find("factor"); it != s.end() && it->is_number()) c.rope.factor = it->get<double>();
  if (auto it = s.find("low_freq_factor"); it != s.end() && it->is_number()) c.rope.low_freq_factor = it->get<double>();
  if (auto it = s.find("high_freq_factor"); it != s.end() && it->is_number())
    c.rope.high_freq_factor = it->get<double>();
  if (auto v = opt_int(s, "original_max_position_embeddings")) c.rope.original_context = *v;
}

}  // namespace

const std::vector<std::string>& supported_architectures() {
  static const std::vector<std::string> names = {"llama"};
  return names;
}

const std::vector<std::string>& supported_rope_types() {
  static const std::vector<std::string> names = {"default", "linear", "llama3"};
  return names;
}

LlamaShape LlamaConfig::shape() const {
  return {.layers = layers,
          .hidden = hidden,
          .ffn = ffn,
          .vocab = vocab,
          .heads = heads,
          .kv_heads = kv_heads,
          .head_dim = head_dim,
          .tied = tied};
}

void LlamaConfig::check(const std::string& where) const {
  std::vector<std::pair<std::string, std::string>> bad;
  auto positive = [&](const char* key, int64_t v) {
    if (v <= 0) bad.emplace_back(key, fmt::format("{} (must be positive)", v));
  };
  positive("vocab_size", vocab);
  positive("hidden_size", hidden);
  positive("intermediate_size", ffn);
  positive("num_hidden_layers", layers);
  positive("num_attention_heads", heads);
  positive("num_key_value_heads", kv_heads);
  positive("head_dim", head_dim);
  positive("max_position_embeddings", context);
  if (heads > 0 && kv_heads > 0 && heads % kv_heads != 0)
    bad.emplace_back("num_key_value_heads", fmt::format("{} does not divide {} attention heads", kv_heads, heads));
  if (head_dim > 0 && head_dim % 2 != 0)
    bad.emplace_back("head_dim", fmt::format("{} (rotary needs it even)", head_dim));
  if (rms_eps <= 0) bad.emplace_back("rms_norm_eps", fmt::format("{} (must be positive)", rms_eps));
  if (rope_theta <= 0) bad.emplace_back("rope_theta", fmt::format("{} (must be positive)", rope_theta));
  if (rope.factor <= 0) bad.emplace_back("rope factor", fmt::format("{} (must be positive)", rope.factor));
  if (bad.empty()) return;
  ErrorInfo info{
      .what = fmt::format("inconsistent LLaMA configuration ({} problem{})", bad.size(), bad.size() == 1 ? "" : "s"),
      .where = where};
  for (auto& [k, v] : bad) info.details.emplace_back(k, v);
  throw ConfigError(std::move(info));
}

LlamaConfig config_from_hf_json(const json& j, const json* generation, const std::string& where) {
  if (!j.is_object()) throw FormatError({.what = "config.json is not a JSON object", .where = where});
  const std::string type = j.value("model_type", std::string());
  const auto& known = supported_architectures();
  if (std::find(known.begin(), known.end(), type) == known.end()) {
    unsupported_architecture(type.empty() ? "(none)" : type, where, "model_type");
  }
  if (j.value("attention_bias", false) || j.value("mlp_bias", false)) {
    throw ConfigError({.what = "biases in attention or MLP projections are not implemented",
                       .where = where + ", keys attention_bias / mlp_bias",
                       .expected = "false",
                       .got = "true"});
  }
  if (const auto act = j.value("hidden_act", std::string("silu")); act != "silu") {
    throw ConfigError({.what = "unsupported activation '" + act + "'",
                       .where = where + ", key hidden_act",
                       .expected = "silu",
                       .got = act});
  }
  LlamaConfig c;
  c.vocab = need_int(j, "vocab_size", where);
  c.hidden = need_int(j, "hidden_size", where);
  c.ffn = need_int(j, "intermediate_size", where);
  c.layers = need_int(j, "num_hidden_layers", where);
  c.heads = need_int(j, "num_attention_heads", where);
  c.kv_heads = opt_int(j, "num_key_value_heads").value_or(c.heads);
  c.head_dim = opt_int(j, "head_dim").value_or(c.heads > 0 ? c.hidden / c.heads : 0);
  c.context = opt_int(j, "max_position_embeddings").value_or(2048);
  if (auto it = j.find("rms_norm_eps"); it != j.end() && it->is_number()) c.rms_eps = it->get<double>();
  read_rope(j, c, where);
  c.tied = j.value("tie_word_embeddings", false);
  c.bos = opt_int(j, "bos_token_id");
  c.pad = opt_int(j, "pad_token_id");
  c.eos = id_list(j, "eos_token_id");
  if (generation && generation->is_object()) {
    if (auto e = id_list(*generation, "eos_token_id"); !e.empty()) c.eos = e;
    if (auto b = opt_int(*generation, "bos_token_id")) c.bos = b;
    if (auto p = opt_int(*generation, "pad_token_id")) c.pad = p;
  }
  if (auto it = j.find("_name_or_path"); it != j.end() && it->is_string() && !it->get<std::string>().empty()) {
    c.name = std::filesystem::path(it->get<std::string>()).filename().string();
  }
  c.check(where);
  return c;
}

LlamaConfig config_from_hf_folder(const std::filesystem::path& dir) {
  const auto file = dir / "config.json";
  if (!std::filesystem::exists(file)) {
    throw IoError({.what = "the model folder has no config.json",
                   .where = dir.string(),
                   .expected = "an HF model folder (config.json, *.safetensors, tokenizer.json) or a .gguf file",
                   .hint = "point --model at the folder transformers' save_pretrained() wrote"});
  }
  const json config = read_json_file(file, file.filename().string());
  json generation;
  if (std::filesystem::exists(dir / "generation_config.json"))
    generation = read_json_file(dir / "generation_config.json", "generation_config.json");
  LlamaConfig c = config_from_hf_json(config, generation.is_null() ? nullptr : &generation, file.string());
  if (c.name == "llama") c.name = std::filesystem::absolute(dir).lexically_normal().filename().string();
  return c;
}

LlamaConfig config_from_gguf(const io::GgufFile& f) {
  const std::string arch = f.get_string_or("general.architecture", "(none)");
  const auto& known = supported_architectures();
  if (std::find(known.begin(), known.end(), arch) == known.end()) {
    unsupported_architecture(arch, f.source(), "general.architecture");
  }
  const std::string p = arch + ".";
  LlamaConfig c;
  c.name = f.get_string_or("general.name", "llama");
  c.hidden = f.get_int(p + "embedding_length");
  c.layers = f.get_int(p + "block_count");
  c.ffn = f.get_int(p + "feed_forward_length");
  c.heads = f.get_int(p + "attention.head_count");
  c.kv_heads = f.get_int_or(p + "attention.head_count_kv", c.heads);
  c.head_dim = f.get_int_or(p + "attention.key_length",
                            f.get_int_or(p + "rope.dimension_count", c.heads > 0 ? c.hidden / c.heads : 0));
  c.context = f.get_int_or(p + "context_length", 2048);
  c.rms_eps = f.get_float_or(p + "attention.layer_norm_rms_epsilon", 1e-5);
  c.rope_theta = f.get_float_or(p + "rope.freq_base", 10000.0);
  if (const auto* embd = f.find_tensor("token_embd.weight")) {
    c.vocab = f.get_int_or(p + "vocab_size", embd->shape().front());
  } else {
    c.vocab = f.get_int_or(p + "vocab_size", 0);
  }
  if (f.find(p + "rope.scaling.type")) {
    std::string type = f.get_string(p + "rope.scaling.type");
    if (type == "none") type = "default";
    const auto& rk = supported_rope_types();
    if (std::find(rk.begin(), rk.end(), type) == rk.end()) {
      throw ConfigError({.what = "unsupported rope scaling type '" + type + "'",
                         .where = f.source() + ", key " + p + "rope.scaling.type",
                         .expected = "one of: none, linear, llama3",
                         .got = type});
    }
    c.rope.type = type;
    c.rope.factor = f.get_float_or(p + "rope.scaling.factor", 1.0);
    c.rope.original_context = f.get_int_or(p + "rope.scaling.original_context_length", c.rope.original_context);
  }
  c.tied = f.find_tensor("output.weight") == nullptr;
  if (f.find("tokenizer.ggml.bos_token_id")) c.bos = f.get_int("tokenizer.ggml.bos_token_id");
  if (f.find("tokenizer.ggml.eos_token_id")) c.eos = {f.get_int("tokenizer.ggml.eos_token_id")};
  if (f.find("tokenizer.ggml.eot_token_id")) {
    const int64_t eot = f.get_int("tokenizer.ggml.eot_token_id");
    if (std::find(c.eos.begin(), c.eos.end(), eot) == c.eos.end()) c.eos.push_back(eot);
  }
  if (f.find("tokenizer.ggml.padding_token_id")) c.pad = f.get_int("tokenizer.ggml.padding_token_id");
  c.check(f.source());
  return c;
}

}  // namespace xib::llama
