// Which Vicuna (v0, v1.1, v1.3, v1.5) or plain LLaMA an HF folder or GGUF file holds, from the
// files' concrete signals, and the check against the version a recipe asks for. Torch-free.
//
// Why: X-InstructBLIP (like InstructBLIP) was trained on Vicuna v1.1; Vicuna v0 in its place
// generates gibberish or empty answers (salesforce/LAVIS#297, #316; the maintainer: "Please use
// Vicuna v1.1 instead of v0", LAVIS#286 "we used v1.1"), and v1.5 is another model
// (Llama-2-based; LAVIS#512: "download the v1.1 model from lmsys/vicuna-7b-v1.1 instead of the
// latest v1.5").
//
// Signals (sources):
//  - vocab_size (embedding rows): Vicuna v0 has 32001 — its delta added a [PAD] row while its
//    tokenizer files have 32000 pieces and no added_tokens.json (lm-sys/FastChat#363, #153;
//    mlc-ai/web-llm#33: "Vicuna v0's vocab_size is 32001, but v1's vocab size is 32000").
//    32001 with an added [PAD] = 32000 is also what LAVIS' resize gives any Vicuna: weaker.
//  - separators: v0 uses "### Human: … ### Assistant:", v1.1+ "USER: … ASSISTANT:" with </s>
//    (FastChat docs/vicuna_weights_version.md): a chat template with "### Human" is v0.
//  - max_position_embeddings 4096: Llama-2 base (Vicuna v1.5); v0 / v1.1 / v1.3 have 2048.
//  - the name (config.json _name_or_path, tokenizer_config name_or_path, GGUF general.name, the
//    folder's name): "vicuna-7b-delta-v0", "vicuna-13b-v1.1", "vicuna-7b-v1.5" …; v1.1 and v1.3
//    have the same files otherwise, so without a name they are "v1" (v1.1 or v1.3).
//  - broken conversions, warned about: blank bos/eos/unk ("") in special_tokens_map.json or
//    tokenizer_config.json (FastChat#408, #514: the model never stops; copy both files from
//    lmsys/vicuna-13b-delta-v0), and config.json bos_token_id 0 / eos_token_id 1
//    (Vision-CAIR/MiniGPT-4#339: converted with transformers < 4.28; the tokenizer has 1 and 2).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace xib::io {
class GgufFile;
}

namespace xib::llama {

enum class VicunaVersion { unknown, llama, v0, v1, v1_1, v1_3, v1_5 };

/// "unknown", "llama", "v0", "v1" (v1.1 or v1.3), "v1.1", "v1.3", "v1.5".
std::string vicuna_version_name(VicunaVersion version);
/// The values the `vicuna_version` option takes besides "" (no check): v0, v1.1, v1.3, v1.5, llama.
const std::vector<std::string>& vicuna_version_names();

/// What the files say, before deciding.
struct VicunaFacts {
  std::vector<std::string> names = {};                      ///< _name_or_path, name_or_path, general.name, folder name
  std::optional<int64_t> vocab = {};                        ///< embedding rows (config.json vocab_size, GGUF tokens)
  std::optional<int64_t> context = {};                      ///< max_position_embeddings / llama.context_length
  std::optional<int64_t> added_pad = {};                    ///< id of an added "[PAD]" token
  std::string chat_template = {};                           ///< tokenizer_config chat_template / GGUF template
  std::vector<std::string> blank_special = {};              ///< special-token keys whose text is ""
  std::optional<int64_t> config_bos = {}, config_eos = {};  ///< config.json bos/eos_token_id
};

/// config.json, tokenizer_config.json, special_tokens_map.json, added_tokens.json of `dir`
/// (each optional). FormatError for a file that is not JSON.
VicunaFacts vicuna_facts_from_hf_folder(const std::filesystem::path& dir);
/// general.name, the token count, llama.context_length, tokenizer.chat_template.
VicunaFacts vicuna_facts_from_gguf(const io::GgufFile& file);

struct VicunaDetection {
  VicunaVersion version = VicunaVersion::unknown;
  bool vicuna = false;                     ///< some signal says Vicuna
  std::vector<std::string> signals = {};   ///< the evidence, one line each
  std::vector<std::string> warnings = {};  ///< broken files
};

VicunaDetection detect_vicuna_version(const VicunaFacts& facts);

/// Compares with `expected` ("" = no check; else one of vicuna_version_names()):
/// ConfigError when the files say another version (v1 counts as v1.1 and v1.3; unknown is a
/// warning), naming what was found, why, and what to get instead. ConfigError listing the names
/// for an unknown `expected`. Without `expected`, a Vicuna v0 gets a warning (X-InstructBLIP
/// needs v1.1). Warnings go to the log and are returned.
std::vector<std::string> check_vicuna_version(const VicunaDetection& detection, const std::string& expected,
                                              const std::string& where);

}  // namespace xib::llama
