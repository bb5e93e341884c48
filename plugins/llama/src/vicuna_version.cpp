// Vicuna version detection (signals and sources in the header).
#include "vicuna_version.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>

#include <nlohmann/json.hpp>

#include "hf_folder.h"
#include "xib/config.h"
#include "xib/error.h"
#include "xib/io/gguf.h"
#include "xib/log.h"

namespace xib::llama {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string lower(std::string s) {
  std::ranges::transform(s, s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// The version a name states: "vicuna-7b-delta-v0" → v0, "vicuna-13b-v1.1" / "v1-1" / "v1_1" → v1.1.
std::optional<VicunaVersion> version_in_name(const std::string& raw) {
  const std::string n = lower(raw);
  if (n.find("vicuna") == std::string::npos) return std::nullopt;
  for (const auto& [tags, v] : std::vector<std::pair<std::vector<std::string>, VicunaVersion>>{
           {{"v1.1", "v1-1", "v1_1", "v11"}, VicunaVersion::v1_1},
           {{"v1.3", "v1-3", "v1_3", "v13"}, VicunaVersion::v1_3},
           {{"v1.5", "v1-5", "v1_5", "v15"}, VicunaVersion::v1_5},
       }) {
    for (const auto& t : tags) {
      if (n.find(t) != std::string::npos) return v;
    }
  }
  // "v0" not followed by a digit or dot ("v0" but not "v0.1" of some other naming).
  for (size_t p = n.find("v0"); p != std::string::npos; p = n.find("v0", p + 1)) {
    const bool start_ok = p == 0 || !std::isalnum(static_cast<unsigned char>(n[p - 1]));
    const bool end_ok = p + 2 >= n.size() || !(std::isdigit(static_cast<unsigned char>(n[p + 2])) || n[p + 2] == '.');
    if (start_ok && end_ok) return VicunaVersion::v0;
  }
  return VicunaVersion::unknown;  // Vicuna, version not named
}

void special_blanks(const json& j, std::vector<std::string>& out) {
  if (!j.is_object()) return;
  for (const char* key : {"bos_token", "eos_token", "unk_token"}) {
    if (!j.contains(key)) continue;
    const json& v = j[key];
    const bool blank =
        (v.is_string() && v.get<std::string>().empty()) ||
        (v.is_object() && v.contains("content") && v["content"].is_string() && v["content"].get<std::string>().empty());
    if (blank && std::ranges::find(out, key) == out.end()) out.emplace_back(key);
  }
}

std::optional<int64_t> int_of(const json& j, const char* key) {
  if (j.is_object() && j.contains(key) && j[key].is_number_integer()) return j[key].get<int64_t>();
  return std::nullopt;
}

}  // namespace

std::string vicuna_version_name(VicunaVersion version) {
  switch (version) {
    case VicunaVersion::llama:
      return "llama";
    case VicunaVersion::v0:
      return "v0";
    case VicunaVersion::v1:
      return "v1";
    case VicunaVersion::v1_1:
      return "v1.1";
    case VicunaVersion::v1_3:
      return "v1.3";
    case VicunaVersion::v1_5:
      return "v1.5";
    case VicunaVersion::unknown:
      break;
  }
  return "unknown";
}

const std::vector<std::string>& vicuna_version_names() {
  static const std::vector<std::string> names = {"v0", "v1.1", "v1.3", "v1.5", "llama"};
  return names;
}

VicunaFacts vicuna_facts_from_hf_folder(const fs::path& dir) {
  VicunaFacts f;
  const json config = read_optional_json_object(dir / "config.json");
  const json tcfg = read_optional_json_object(dir / "tokenizer_config.json");
  const json smap = read_optional_json_object(dir / "special_tokens_map.json");
  const json added = read_optional_json_object(dir / "added_tokens.json");
  for (const auto& [j, key] : {std::pair{&config, "_name_or_path"}, std::pair{&tcfg, "name_or_path"}}) {
    if (j->is_object() && j->contains(key) && (*j)[key].is_string()) f.names.push_back((*j)[key].get<std::string>());
  }
  f.names.push_back(folder_name(dir));
  f.vocab = int_of(config, "vocab_size");
  f.context = int_of(config, "max_position_embeddings");
  if (!f.context) f.context = int_of(config, "max_sequence_length");
  f.config_bos = int_of(config, "bos_token_id");
  f.config_eos = int_of(config, "eos_token_id");
  if (added.is_object() && added.contains("[PAD]") && added["[PAD]"].is_number_integer()) {
    f.added_pad = added["[PAD]"].get<int64_t>();
  }
  if (tcfg.is_object() && tcfg.contains("added_tokens_decoder") && tcfg["added_tokens_decoder"].is_object()) {
    for (const auto& [id, v] : tcfg["added_tokens_decoder"].items()) {
      if (v.is_object() && v.value("content", std::string()) == "[PAD]") f.added_pad = std::stoll(id);
    }
  }
  if (tcfg.is_object() && tcfg.contains("chat_template") && tcfg["chat_template"].is_string()) {
    f.chat_template = tcfg["chat_template"].get<std::string>();
  }
  special_blanks(smap, f.blank_special);
  special_blanks(tcfg, f.blank_special);
  return f;
}

VicunaFacts vicuna_facts_from_gguf(const io::GgufFile& file) {
  VicunaFacts f;
  if (const auto name = file.get_string_or("general.name", ""); !name.empty()) f.names.push_back(name);
  f.names.push_back(fs::path(file.source()).stem().string());
  if (file.find("tokenizer.ggml.tokens")) {
    f.vocab = static_cast<int64_t>(file.get_string_array("tokenizer.ggml.tokens").size());
  }
  if (file.find("llama.context_length")) f.context = file.get_int("llama.context_length");
  f.chat_template = file.get_string_or("tokenizer.chat_template", "");
  return f;
}

VicunaDetection detect_vicuna_version(const VicunaFacts& f) {
  VicunaDetection d;
  std::optional<VicunaVersion> named;
  std::string named_from;
  bool llama_named = false;
  for (const auto& n : f.names) {
    if (const auto v = version_in_name(n)) {
      d.vicuna = true;
      if (*v != VicunaVersion::unknown && !named) {
        named = *v;
        named_from = n;
      }
    } else if (lower(n).find("llama") != std::string::npos) {
      llama_named = true;
    }
  }
  if (named) d.signals.push_back(fmt::format("the name '{}' says Vicuna {}", named_from, vicuna_version_name(*named)));
  bool v0_strong = false;
  if (f.vocab == 32001) {
    if (f.added_pad == 32000) {
      d.signals.push_back("vocab_size 32001 with an added [PAD] = 32000: Vicuna v0, or a v1.x resized as LAVIS does");
    } else {
      v0_strong = true;
      d.signals.push_back("vocab_size 32001 without an added token: Vicuna v0's embeddings (v1.x have 32000)");
    }
  } else if (f.vocab) {
    d.signals.push_back(fmt::format("vocab_size {}", *f.vocab));
  }
  const bool v0_template = f.chat_template.find("### Human") != std::string::npos;
  const bool v1_template = f.chat_template.find("USER:") != std::string::npos;
  if (v0_template) {
    v0_strong = true;
    d.vicuna = true;
    d.signals.push_back("the chat template uses '### Human:' separators (Vicuna v0)");
  } else if (v1_template) {
    d.signals.push_back("the chat template uses 'USER: … ASSISTANT:' (Vicuna v1.x)");
  }
  const bool llama2_context = f.context == 4096;
  if (f.context) d.signals.push_back(fmt::format("max_position_embeddings {}", *f.context));
  if (v0_strong) {
    d.version = VicunaVersion::v0;
    d.vicuna = true;
  } else if (named) {
    d.version = *named;
  } else if (d.vicuna || v1_template) {
    d.vicuna = true;
    d.version = llama2_context ? VicunaVersion::v1_5 : f.vocab == 32001 ? VicunaVersion::unknown : VicunaVersion::v1;
  } else if (llama_named || f.vocab == 32000) {
    d.version = VicunaVersion::llama;
  }
  if (named && d.version != *named) {
    d.signals.push_back(fmt::format("the files contradict the name's {}", vicuna_version_name(*named)));
  }
  for (const auto& key : f.blank_special) {
    d.warnings.push_back(fmt::format(
        "{} is blank (\"\"): a known bad LLaMA conversion that never stops generating (lm-sys/FastChat#408); "
        "copy special_tokens_map.json and tokenizer_config.json from lmsys/vicuna-13b-delta-v0",
        key));
  }
  if (f.config_bos == 0 && f.config_eos == 1) {
    d.warnings.push_back(
        "config.json has bos_token_id 0 / eos_token_id 1, but LLaMA's tokenizer uses 1 / 2: converted with "
        "transformers < 4.28 (Vision-CAIR/MiniGPT-4#339); xib takes the tokenizer's ids");
  }
  return d;
}

std::vector<std::string> check_vicuna_version(const VicunaDetection& d, const std::string& expected,
                                              const std::string& where) {
  std::vector<std::string> warnings = d.warnings;
  const std::string found = vicuna_version_name(d.version);
  const std::string evidence = d.signals.empty() ? std::string("no signal") : join_names(d.signals, "; ");
  if (expected.empty()) {
    if (d.version == VicunaVersion::v0) {
      warnings.push_back(
          fmt::format("this is Vicuna v0 ({}); X-InstructBLIP was trained on Vicuna v1.1 and gives gibberish with v0 "
                      "(salesforce/LAVIS#297, #316); set vicuna_version to silence or use lmsys/vicuna-7b-v1.1",
                      evidence));
    }
  } else if (std::ranges::find(vicuna_version_names(), expected) == vicuna_version_names().end()) {
    const auto near = nearest_name(expected, vicuna_version_names());
    throw ConfigError({.what = "unknown Vicuna version '" + expected + "'",
                       .where = "llama option vicuna_version",
                       .expected = "'' (no check) or " + join_names(vicuna_version_names()),
                       .got = expected,
                       .hint = near ? "did you mean '" + *near + "'?" : std::string()});
  } else if (d.version == VicunaVersion::unknown) {
    warnings.push_back(
        fmt::format("could not tell which Vicuna version {} holds ({}); expected {}", where, evidence, expected));
  } else {
    const bool match =
        found == expected || (d.version == VicunaVersion::v1 && (expected == "v1.1" || expected == "v1.3"));
    if (d.version == VicunaVersion::v1 && match) {
      warnings.push_back(
          fmt::format("{}: Vicuna v1.1 and v1.3 have the same files; taking it for {}", where, expected));
    }
    if (!match) {
      std::string hint;
      if (expected == "v1.1") {
        hint =
            "X-InstructBLIP's Q-Formers were trained on Vicuna v1.1: get lmsys/vicuna-7b-v1.1 (or apply "
            "lmsys/vicuna-7b-delta-v1.1 to LLaMA-7B with FastChat >= 0.2.1; 13B likewise)";
        if (d.version == VicunaVersion::v0) hint += "; v0 gives gibberish (salesforce/LAVIS#297, #316)";
        if (d.version == VicunaVersion::v1_5) hint += "; v1.5 is Llama-2-based (salesforce/LAVIS#512)";
        if (d.version == VicunaVersion::llama) hint += "; base LLaMA is not instruction-tuned";
      } else {
        hint = "point path at a Vicuna " + expected + " folder, or change vicuna_version";
      }
      throw ConfigError({.what = fmt::format("the model is {} but the recipe asks for Vicuna {}",
                                             d.version == VicunaVersion::llama ? std::string("plain LLaMA (not Vicuna)")
                                                                               : "Vicuna " + found,
                                             expected),
                         .where = where,
                         .expected = "Vicuna " + expected,
                         .got = found + " (" + evidence + ")",
                         .hint = hint});
    }
  }
  for (const auto& w : warnings) log::warn("{}: {}", where, w);
  return warnings;
}

}  // namespace xib::llama
