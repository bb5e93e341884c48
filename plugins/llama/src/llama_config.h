// The sizes and constants of a LLaMA-family decoder, read from an HF model folder
// (config.json + generation_config.json) or a GGUF file's metadata. Torch-free.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "llama_maps.h"

namespace xib::io {
class GgufFile;
}

namespace xib::llama {

/// Rotary position scaling (transformers' rope_parameters / rope_scaling; GGUF llama.rope.scaling.*).
struct RopeScaling {
  std::string type = "default";  ///< "default" (none), "linear", "llama3"
  double factor = 1.0;
  double low_freq_factor = 1.0;     ///< llama3
  double high_freq_factor = 4.0;    ///< llama3
  int64_t original_context = 8192;  ///< llama3: original_max_position_embeddings
};

/// Architectures (config.json model_type, GGUF general.architecture) this plugin runs.
const std::vector<std::string>& supported_architectures();
/// Rope scaling types understood.
const std::vector<std::string>& supported_rope_types();

struct LlamaConfig {
  std::string name = "llama";
  int64_t vocab = 0;
  int64_t hidden = 0;
  int64_t ffn = 0;
  int64_t layers = 0;
  int64_t heads = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
  int64_t context = 2048;
  double rms_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope = {};
  bool tied = false;
  std::optional<int64_t> bos = {};
  std::vector<int64_t> eos = {};
  std::optional<int64_t> pad = {};

  LlamaShape shape() const;
  /// ConfigError listing every inconsistent value (heads not dividing, zero sizes, …).
  void check(const std::string& where) const;
};

/// From a parsed config.json (and generation_config.json, may be null). ConfigError for an
/// unknown model_type (listing the supported ones), missing keys, or features not implemented
/// (attention_bias, mlp_bias, an activation other than silu, an unknown rope type).
LlamaConfig config_from_hf_json(const nlohmann::json& config, const nlohmann::json* generation,
                                const std::string& where);
/// Reads `dir`/config.json and, when present, `dir`/generation_config.json.
LlamaConfig config_from_hf_folder(const std::filesystem::path& dir);
/// From a GGUF file's llama.* and tokenizer.ggml.* metadata (tied when output.weight is absent).
LlamaConfig config_from_gguf(const io::GgufFile& file);

}  // namespace xib::llama
