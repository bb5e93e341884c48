// Whisper encoder weight tables: CTranslate2's WhisperSpec names and transformers' names → ours
// (encoders.h). Torch-free.
#include <fmt/format.h>

#include "encoders.h"

namespace xib::audio {

namespace {

void whisper_add(weights::WeightMap& map, std::string from, std::string to) {
  map.entries.push_back({.from = {std::move(from)}, .to = std::move(to)});
}

}  // namespace

weights::WeightMap whisper_ct2_map() {
  weights::WeightMap map{.name = "whisper encoder (ctranslate2 WhisperSpec)"};
  const auto both = [&](const std::string& from, const std::string& to) {
    whisper_add(map, from + "/weight", to + ".weight");
    whisper_add(map, from + "/bias", to + ".bias");
  };
  const auto norm = [&](const std::string& from, const std::string& to) {
    whisper_add(map, from + "/gamma", to + ".weight");
    whisper_add(map, from + "/beta", to + ".bias");
  };
  both("encoder/conv1", "conv1");
  both("encoder/conv2", "conv2");
  whisper_add(map, "encoder/position_encodings/encodings", "positions");
  norm("encoder/layer_{i}/self_attention/layer_norm", "layers.{i}.attn_norm");
  both("encoder/layer_{i}/self_attention/linear_0", "layers.{i}.attn.qkv");  // fused [q; k; v], k bias 0
  both("encoder/layer_{i}/self_attention/linear_1", "layers.{i}.attn.out");
  norm("encoder/layer_{i}/ffn/layer_norm", "layers.{i}.ffn_norm");
  both("encoder/layer_{i}/ffn/linear_0", "layers.{i}.ffn.up");
  both("encoder/layer_{i}/ffn/linear_1", "layers.{i}.ffn.down");
  norm("encoder/layer_norm", "norm");
  map.skips.push_back({.pattern = "decoder/*", .reason = "the text decoder: only the encoder is used"});
  map.skips.push_back({.pattern = "encoder/num_heads", .reason = "a spec scalar (heads come from encoder.whisper)"});
  return map;
}

weights::WeightMap whisper_hf_map() {
  weights::WeightMap map{.name = "whisper encoder (transformers WhisperEncoder)"};
  for (const char* m : {"conv1", "conv2", "layer_norm"}) {
    const std::string to = std::string(m) == "layer_norm" ? "norm" : m;
    whisper_add(map, fmt::format("{}.weight", m), to + ".weight");
    whisper_add(map, fmt::format("{}.bias", m), to + ".bias");
  }
  whisper_add(map, "embed_positions.weight", "positions");
  const std::pair<const char*, const char*> renames[] = {{"self_attn_layer_norm", "attn_norm"},
                                                         {"self_attn.out_proj", "attn.out"},
                                                         {"final_layer_norm", "ffn_norm"},
                                                         {"fc1", "ffn.up"},
                                                         {"fc2", "ffn.down"}};
  for (const auto& [from, to] : renames) {
    for (const char* leaf : {".weight", ".bias"}) {
      whisper_add(map, fmt::format("layers.{{i}}.{}{}", from, leaf), fmt::format("layers.{{i}}.{}{}", to, leaf));
    }
  }
  map.entries.push_back({.from = {"layers.{i}.self_attn.q_proj.weight", "layers.{i}.self_attn.k_proj.weight",
                                  "layers.{i}.self_attn.v_proj.weight"},
                         .to = "layers.{i}.attn.qkv.weight",
                         .transform = weights::Transform::concat(0)});
  // The key projection has no bias: [q_bias, zeros, v_bias].
  map.entries.push_back(
      {.from = {"layers.{i}.self_attn.q_proj.bias", std::string(weights::kZeros), "layers.{i}.self_attn.v_proj.bias"},
       .to = "layers.{i}.attn.qkv.bias",
       .transform = weights::Transform::concat(0)});
  return map;
}

std::vector<weights::DestParam> whisper_encoder_params(const WhisperOptions& c) {
  std::vector<weights::DestParam> out;
  auto add = [&](std::string name, std::vector<int64_t> shape) {
    out.push_back({.name = std::move(name), .shape = std::move(shape)});
  };
  const int64_t w = c.width, f = c.ffn;
  add("conv1.weight", {w, c.mels, 3});
  add("conv1.bias", {w});
  add("conv2.weight", {w, w, 3});
  add("conv2.bias", {w});
  add("positions", {c.positions, w});
  for (int64_t i = 0; i < c.layers; ++i) {
    const std::string l = fmt::format("layers.{}.", i);
    add(l + "attn_norm.weight", {w});
    add(l + "attn_norm.bias", {w});
    add(l + "attn.qkv.weight", {3 * w, w});
    add(l + "attn.qkv.bias", {3 * w});
    add(l + "attn.out.weight", {w, w});
    add(l + "attn.out.bias", {w});
    add(l + "ffn_norm.weight", {w});
    add(l + "ffn_norm.bias", {w});
    add(l + "ffn.up.weight", {f, w});
    add(l + "ffn.up.bias", {f});
    add(l + "ffn.down.weight", {w, f});
    add(l + "ffn.down.bias", {w});
  }
  add("norm.weight", {w});
  add("norm.bias", {w});
  return out;
}

}  // namespace xib::audio
