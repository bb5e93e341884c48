// BpeTokenizer from a Hugging Face tokenizer.json (and tokenizer_config.json beside it, for the
// BOS/EOS/PAD tokens, when present).
#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bpe_tokenizer.h"
#include "xib/error.h"
#include "xib/files.h"
#include "xib/json_text.h"

namespace xib::llama {
namespace {

using nlohmann::json;

// The regex Hugging Face's ByteLevel pre-tokenizer uses with use_regex (GPT-2's).
constexpr const char* kByteLevelRegex =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

struct Loader {
  std::string source;

  [[noreturn]] void bad(std::string what, std::string where, std::string expected, std::string got,
                        std::string hint = {}) const {
    throw FormatError({.what = std::move(what),
                       .where = source + (where.empty() ? "" : ", " + where),
                       .expected = std::move(expected),
                       .got = std::move(got),
                       .hint = std::move(hint)});
  }

  std::string type_of(const json& j) const {
    return j.is_object() && j.contains("type") && j["type"].is_string() ? j["type"].get<std::string>() : "";
  }

  std::string escape_literal(const std::string& s) const {
    std::string out;
    for (char c : s) {
      if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out.push_back('\\');
      out.push_back(c);
    }
    return out;
  }

  void pre_tokenizer(const json& p, std::vector<std::string>& regexes, const std::string& where) const {
    if (p.is_null()) return;
    const std::string type = type_of(p);
    if (type == "Sequence") {
      size_t i = 0;
      for (const auto& q : p.value("pretokenizers", json::array())) {
        pre_tokenizer(q, regexes, fmt::format("{}.pretokenizers[{}]", where, i++));
      }
    } else if (type == "ByteLevel") {
      if (p.value("add_prefix_space", false)) {
        bad("ByteLevel pre-tokenizer with add_prefix_space is not supported", where + ".add_prefix_space", "false",
            "true");
      }
      if (p.value("use_regex", true)) regexes.emplace_back(kByteLevelRegex);
    } else if (type == "Split") {
      const auto& pattern = p.value("pattern", json::object());
      const std::string behavior = p.value("behavior", "");
      if (behavior != "Isolated" || p.value("invert", false)) {
        bad("unsupported Split pre-tokenizer", where, "behavior Isolated, invert false",
            fmt::format("behavior {}, invert {}", behavior, p.value("invert", false)));
      }
      if (pattern.contains("Regex") && pattern["Regex"].is_string()) {
        regexes.push_back(pattern["Regex"].get<std::string>());
      } else if (pattern.contains("String") && pattern["String"].is_string()) {
        regexes.push_back(escape_literal(pattern["String"].get<std::string>()));
      } else {
        bad("Split pre-tokenizer without a pattern", where + ".pattern", "{\"Regex\": …} or {\"String\": …}",
            json_text(pattern));
      }
    } else if (type == "Digits") {
      regexes.emplace_back(p.value("individual_digits", false) ? "\\p{N}" : "\\p{N}+");
    } else {
      bad(fmt::format("unsupported pre-tokenizer '{}'", type), where, "Sequence, ByteLevel, Split or Digits", type);
    }
  }

  BpeModel load(const json& j) const {
    if (!j.is_object() || !j.contains("model") || !j["model"].is_object()) {
      bad("tokenizer.json has no model", "model", "an object with type \"BPE\", vocab and merges",
          j.is_object() ? "no \"model\" object" : std::string(j.type_name()));
    }
    const json& m = j["model"];
    const std::string type = type_of(m);
    if (type != "BPE" && !(type.empty() && m.contains("merges"))) {
      bad(fmt::format("unsupported tokenizer model type '{}'", type), "model.type", "BPE (byte-level)",
          type.empty() ? "no type" : type,
          type == "WordPiece" ? "BERT vocabularies: xib::text::WordPieceTokenizer" : "");
    }
    if (m.value("byte_fallback", false))
      bad("BPE with byte_fallback is not supported", "model.byte_fallback", "false", "true");
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      if (m.contains(key) && m[key].is_string() && !m[key].get<std::string>().empty()) {
        bad(fmt::format("BPE with {} is not supported", key), std::string("model.") + key, "null or \"\"",
            json_text(m[key]));
      }
    }
    if (!m.contains("vocab") || !m["vocab"].is_object())
      bad("the BPE model has no vocab", "model.vocab", "an object piece → id", "absent");
    BpeModel out;
    out.source = source;
    // Every id is below the number of pieces the file gives (vocab entries and added tokens), so
    // the id → piece table stays the size of the file whatever the ids say.
    const json added = j.value("added_tokens", json::array());
    const auto pieces = static_cast<int64_t>(m["vocab"].size() + added.size());
    int64_t size = 0;
    for (const auto& [piece, id] : m["vocab"].items()) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= pieces) {
        bad("a vocab id is not a non-negative integer below the number of pieces", "model.vocab." + piece,
            fmt::format("an integer in 0 … {}", pieces - 1), json_text(id));
      }
      size = std::max(size, id.get<int64_t>() + 1);
    }
    size_t i = 0;
    for (const auto& t : added) {
      if (!t.is_object() || !t.contains("id") || !t.contains("content") || !t["content"].is_string() ||
          !t["id"].is_number_integer() || t["id"].get<int64_t>() < 0 || t["id"].get<int64_t>() >= pieces) {
        bad("malformed added token", fmt::format("added_tokens[{}]", i),
            fmt::format("{{\"id\": n in 0 … {}, \"content\": \"…\"}}", pieces - 1), json_text(t));
      }
      size = std::max(size, t["id"].get<int64_t>() + 1);
      ++i;
    }
    out.vocab.assign(static_cast<size_t>(size), std::string());
    for (const auto& [piece, id] : m["vocab"].items()) out.vocab[static_cast<size_t>(id.get<int64_t>())] = piece;
    for (const auto& t : added) {
      BpeAddedToken a{
          .text = t["content"].get<std::string>(), .id = t["id"].get<int64_t>(), .special = t.value("special", false)};
      out.vocab[static_cast<size_t>(a.id)] = a.text;
      out.added.push_back(std::move(a));
    }
    i = 0;
    for (const auto& merge : m.value("merges", json::array())) {
      if (merge.is_string()) {
        const auto s = merge.get<std::string>();
        const size_t space = s.find(' ');
        if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
          bad("malformed BPE merge", fmt::format("model.merges[{}]", i), "\"left right\"", json_text(merge));
        }
        out.merges.emplace_back(s.substr(0, space), s.substr(space + 1));
      } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
        out.merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
      } else {
        bad("malformed BPE merge", fmt::format("model.merges[{}]", i), "\"left right\" or [\"left\", \"right\"]",
            json_text(merge));
      }
      ++i;
    }
    out.ignore_merges = m.value("ignore_merges", false);
    if (m.contains("unk_token") && m["unk_token"].is_string()) {
      const auto unk = m["unk_token"].get<std::string>();
      const auto& vocab = m["vocab"];
      if (vocab.contains(unk)) out.unk = vocab[unk].get<int64_t>();
    }
    const json normalizer = j.value("normalizer", json());
    if (!normalizer.is_null()) {
      bad(fmt::format("unsupported normalizer '{}'", type_of(normalizer)), "normalizer", "null (byte-level BPE)",
          json_text(normalizer).substr(0, 80));
    }
    pre_tokenizer(j.value("pre_tokenizer", json()), out.split_regexes, "pre_tokenizer");
    return out;
  }
};

std::string token_text(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) return j["content"].get<std::string>();
  return {};
}

}  // namespace

BpeTokenizer BpeTokenizer::from_tokenizer_json(const std::filesystem::path& file) {
  const json j = read_json_file(file, "tokenizer file");
  BpeModel model;
  try {
    model = Loader{file.string()}.load(j);
  } catch (const json::exception& e) {
    // A value of another type than the loader reads (value(), get()): "special": "yes", say.
    throw FormatError({.what = "a value in the tokenizer file has the wrong type",
                       .where = file.string(),
                       .expected = "a tokenizer.json as Hugging Face tokenizers writes it",
                       .got = e.what()});
  }
  const auto dir = file.parent_path();
  model.name = "bpe:" + (dir.filename().empty() ? file.stem().string() : dir.filename().string());
  const auto lookup = [&](const std::string& text) -> std::optional<int64_t> {
    for (const auto& a : model.added) {
      if (a.text == text) return a.id;
    }
    for (size_t i = 0; i < model.vocab.size(); ++i) {
      if (model.vocab[i] == text) return static_cast<int64_t>(i);
    }
    return std::nullopt;
  };
  const auto config_file = dir / "tokenizer_config.json";
  if (std::filesystem::exists(config_file)) {
    const json c = read_json_file(config_file, "tokenizer config");
    if (c.is_object()) {
      if (c.contains("bos_token")) model.bos = lookup(token_text(c["bos_token"]));
      if (c.contains("eos_token")) model.eos = lookup(token_text(c["eos_token"]));
      if (c.contains("pad_token")) model.pad = lookup(token_text(c["pad_token"]));
      if (c.contains("add_bos_token") && c["add_bos_token"].is_boolean())
        model.add_bos = c["add_bos_token"].get<bool>();
    }
  }
  return BpeTokenizer(std::move(model));
}

}  // namespace xib::llama
