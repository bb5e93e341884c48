// SpTokenizer loaders: an HF folder (tokenizer.model + the JSON files around it), a model file, or
// GGUF metadata (tokenizer.ggml.model "llama": a BPE model from the tokens, scores and types).
#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "hf_folder.h"
#include "sp_model.h"
#include "sp_tokenizer.h"
#include "xib/error.h"
#include "xib/io/gguf.h"
#include "xib/json_text.h"

namespace xib::llama {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw NotFoundError({.what = "cannot read the SentencePiece model",
                         .where = file.string(),
                         .expected = "a readable tokenizer.model"});
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// The boolean `key` of a token object; `fallback` when absent or null, FormatError when not a boolean.
bool token_flag(const json& v, const char* key, bool fallback, const std::string& where) {
  const auto it = v.find(key);
  if (it == v.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) {
    throw FormatError({.what = fmt::format("a token's \"{}\" is not a boolean", key),
                       .where = where,
                       .expected = "true or false",
                       .got = json_text(*it).substr(0, 80)});
  }
  return it->get<bool>();
}

/// A token given as "text" or {"content": "text", "lstrip": …}; nullopt for null / absent.
std::optional<SpAddedToken> token_value(const json& v, const std::string& where) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) return SpAddedToken{.text = v.get<std::string>()};
  if (v.is_object() && v.contains("content") && v["content"].is_string()) {
    return SpAddedToken{.text = v["content"].get<std::string>(),
                        .lstrip = token_flag(v, "lstrip", false, where),
                        .rstrip = token_flag(v, "rstrip", false, where)};
  }
  throw FormatError({.what = "a special token is neither a string nor {\"content\": …}",
                     .where = where,
                     .expected = "\"</s>\" or {\"content\": \"</s>\", …}",
                     .got = json_text(v).substr(0, 80)});
}

}  // namespace

bool has_sp_model(const fs::path& dir) { return fs::is_regular_file(dir / "tokenizer.model"); }

SpTokenizer SpTokenizer::from_serialized(std::string_view proto, const SpSettings& settings,
                                         std::vector<SpAddedToken> added, std::string name, std::string source) {
  SpTokenizer t;
  t.sp_ = std::make_unique<SpModel>(SpModel::from_proto(proto, source));
  // legacy = false: transformers loads the model with normalizer_spec.add_dummy_prefix = false.
  if (!settings.legacy) t.sp_->set_add_dummy_prefix(false);
  t.settings_ = settings;
  t.name_ = std::move(name);
  t.source_ = std::move(source);
  // Added tokens take the ids after the model's pieces: below the pieces and added tokens there are.
  const int64_t ids = t.model_size() + static_cast<int64_t>(added.size());
  for (auto& a : added) {
    if (a.id < 0 || a.id >= ids) {
      throw FormatError({.what = fmt::format("added token '{}' has an id outside the vocabulary", a.text),
                         .where = t.source_,
                         .expected = fmt::format("an id in 0 … {} ({} pieces, {} added tokens)", ids - 1,
                                                 t.model_size(), added.size()),
                         .got = std::to_string(a.id)});
    }
    a.added = a.id >= t.model_size();
    if (!a.added && t.sp_->id_to_piece(a.id) != a.text) {
      throw FormatError(
          {.what = fmt::format("added token '{}' has the id of another piece", a.text),
           .where = t.source_,
           .expected = fmt::format("'{}' for id {}, or an id >= {}", t.sp_->id_to_piece(a.id), a.id, t.model_size()),
           .got = std::to_string(a.id)});
    }
  }
  t.added_ = std::move(added);
  t.finish();
  return t;
}

SpTokenizer SpTokenizer::from_model_file(const fs::path& file, const SpSettings& settings,
                                         std::vector<SpAddedToken> added) {
  return from_serialized(read_bytes(file), settings, std::move(added), "sentencepiece:" + file.stem().string(),
                         file.string());
}

SpTokenizer SpTokenizer::from_hf_folder(const fs::path& dir, std::optional<bool> legacy) {
  if (!has_sp_model(dir)) {
    throw NotFoundError(
        {.what = "no SentencePiece model in the folder", .where = dir.string(), .expected = "tokenizer.model"});
  }
  const json cfg = read_optional_json_object(dir / "tokenizer_config.json");
  const json map = read_optional_json_object(dir / "special_tokens_map.json");
  const json added_json = read_optional_json_object(dir / "added_tokens.json");
  SpSettings s;
  std::vector<SpAddedToken> added;
  std::vector<SpAddedToken> specials;  // flags of the special tokens
  const std::string cfg_where = (dir / "tokenizer_config.json").string();
  if (cfg.is_object()) {
    if (cfg.contains("legacy") && cfg["legacy"].is_boolean()) s.legacy = cfg["legacy"].get<bool>();
    if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean())
      s.add_bos = cfg["add_bos_token"].get<bool>();
    if (cfg.contains("add_eos_token") && cfg["add_eos_token"].is_boolean())
      s.add_eos = cfg["add_eos_token"].get<bool>();
    if (cfg.contains("added_tokens_decoder") && cfg["added_tokens_decoder"].is_object()) {
      for (const auto& [key, v] : cfg["added_tokens_decoder"].items()) {
        auto tok = token_value(v, cfg_where + ", added_tokens_decoder");
        if (!tok) continue;
        try {
          tok->id = std::stoll(key);
        } catch (const std::exception&) {
          throw FormatError({.what = "an added_tokens_decoder key is not an id", .where = cfg_where, .got = key});
        }
        tok->special = v.is_object() ? token_flag(v, "special", true, cfg_where + ", added_tokens_decoder") : true;
        added.push_back(*tok);
      }
    }
  }
  // special_tokens_map.json overrides tokenizer_config.json (transformers' from_pretrained).
  for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
    std::optional<SpAddedToken> tok;
    bool given = false;
    if (map.is_object() && map.contains(key)) {
      tok = token_value(map[key], (dir / "special_tokens_map.json").string());
      // A plain string there eats the whitespace around it (what transformers 4.33's slow
      // tokenizer does with the folder save_pretrained writes after LAVIS' setup).
      if (tok && map[key].is_string()) tok->lstrip = tok->rstrip = true;
      given = true;
    } else if (cfg.is_object() && cfg.contains(key)) {
      tok = token_value(cfg[key], cfg_where);
      given = true;
    }
    const std::string k = key;
    if (!given) continue;  // LlamaTokenizer's defaults stay
    const std::string text = tok ? tok->text : std::string();
    if (k == "bos_token") s.bos = text;
    if (k == "eos_token") s.eos = text;
    if (k == "unk_token") s.unk = text;
    if (k == "pad_token") s.pad = tok ? std::optional<std::string>(text) : std::nullopt;
    if (tok) specials.push_back(*tok);
  }
  if (added_json.is_object()) {
    for (const auto& [text, id] : added_json.items()) {
      if (!id.is_number_integer()) {
        throw FormatError({.what = fmt::format("added token '{}' has no integer id", text),
                           .where = (dir / "added_tokens.json").string(),
                           .got = json_text(id)});
      }
      // An init-capture: clang before 16 (make fuzz) cannot capture a structured binding.
      if (std::ranges::any_of(added, [&t = text](const SpAddedToken& a) { return a.text == t; })) continue;
      added.push_back({.text = text, .id = id.get<int64_t>(), .special = false});
    }
  }
  if (legacy) s.legacy = *legacy;
  // The special tokens' own flags (lstrip / rstrip) where the added-token list has none.
  for (const auto& sp : specials) {
    auto it = std::ranges::find_if(added, [&](const SpAddedToken& a) { return a.text == sp.text; });
    if (it != added.end()) {
      it->special = true;
      it->lstrip = it->lstrip || sp.lstrip;
      it->rstrip = it->rstrip || sp.rstrip;
    }
  }
  auto t = from_serialized(read_bytes(dir / "tokenizer.model"), s, std::move(added),
                           "sentencepiece:" + folder_name(dir), (dir / "tokenizer.model").string());
  for (const auto& sp : specials) {
    for (auto& a : t.added_) {
      if (a.text == sp.text && !a.added) {
        a.lstrip = a.lstrip || sp.lstrip;
        a.rstrip = a.rstrip || sp.rstrip;
      }
    }
  }
  return t;
}

SpTokenizer SpTokenizer::from_gguf(const io::GgufFile& gguf) {
  const std::string kind = gguf.get_string("tokenizer.ggml.model");
  if (kind != "llama") {
    throw FormatError({.what = fmt::format("tokenizer.ggml.model '{}' is not a SentencePiece tokenizer", kind),
                       .where = gguf.source() + ", key tokenizer.ggml.model",
                       .expected = "llama (SentencePiece)",
                       .got = kind});
  }
  const auto tokens = gguf.get_string_array("tokenizer.ggml.tokens");
  const auto scores = gguf.get_float_array("tokenizer.ggml.scores");
  std::vector<int64_t> types(tokens.size(), 1);
  if (gguf.find("tokenizer.ggml.token_type")) types = gguf.get_int_array("tokenizer.ggml.token_type");
  if (scores.size() != tokens.size() || types.size() != tokens.size()) {
    throw FormatError({.what = "tokenizer.ggml.scores / token_type and tokenizer.ggml.tokens differ in length",
                       .where = gguf.source(),
                       .expected = std::to_string(tokens.size()),
                       .got = fmt::format("{} scores, {} types", scores.size(), types.size())});
  }
  std::vector<SpPiece> pieces(tokens.size());
  std::optional<int64_t> unk;
  std::vector<SpAddedToken> added;
  bool bytes = false;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int64_t type = types[i];
    if (type < 1 || type > 6) {
      throw FormatError({.what = "unknown token type",
                         .where = fmt::format("{}, token {}", gguf.source(), i),
                         .expected = "1 … 6",
                         .got = std::to_string(type)});
    }
    pieces[i] = {.text = tokens[i], .score = static_cast<float>(scores[i]), .type = static_cast<SpPieceType>(type)};
    if (type == 2 && !unk) unk = static_cast<int64_t>(i);
    if (type == 6) bytes = true;
    if (type == 3 || type == 4) {
      added.push_back({.text = tokens[i], .id = static_cast<int64_t>(i), .special = type == 3});
    }
  }
  if (!unk) {
    throw FormatError({.what = "the SentencePiece vocabulary has no unknown token",
                       .where = gguf.source(),
                       .expected = "one token of type 2 (unknown)"});
  }
  const auto id_or = [&](const char* key) { return gguf.get_int_or(key, -1); };
  const bool space_prefix =
      gguf.find("tokenizer.ggml.add_space_prefix") ? gguf.get_bool("tokenizer.ggml.add_space_prefix") : true;
  SpSettings s;
  const auto text_of = [&](int64_t id) {
    return id >= 0 && id < static_cast<int64_t>(tokens.size()) ? tokens[static_cast<size_t>(id)] : std::string();
  };
  s.bos = text_of(id_or("tokenizer.ggml.bos_token_id"));
  s.eos = text_of(id_or("tokenizer.ggml.eos_token_id"));
  s.unk = text_of(gguf.get_int_or("tokenizer.ggml.unknown_token_id", *unk));
  const std::string pad = text_of(id_or("tokenizer.ggml.padding_token_id"));
  if (!pad.empty()) s.pad = pad;
  s.add_bos = gguf.find("tokenizer.ggml.add_bos_token") ? gguf.get_bool("tokenizer.ggml.add_bos_token") : true;
  s.add_eos = gguf.find("tokenizer.ggml.add_eos_token") ? gguf.get_bool("tokenizer.ggml.add_eos_token") : false;
  const std::string name =
      "sentencepiece:" + gguf.get_string_or("general.name", fs::path(gguf.source()).stem().string());
  SpTokenizer t;
  t.sp_ = std::make_unique<SpModel>(SpModel::from_pieces(std::move(pieces), bytes, space_prefix, gguf.source()));
  t.settings_ = s;
  t.name_ = name;
  t.source_ = gguf.source();
  for (auto& a : added) a.added = false;
  t.added_ = std::move(added);
  t.finish();
  return t;
}

}  // namespace xib::llama
