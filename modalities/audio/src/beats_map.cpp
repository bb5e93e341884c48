// BEATs' weight table: our names are upstream's state_dict names (microsoft/unilm BEATs.py, copied
// by LAVIS lavis/models/beats). Torch-free.
//
// Upstream quirks the table encodes:
//  - The relative position table is one nn.Embedding shared by every layer (layers 1… have
//    layer 0's module assigned), so the state_dict names it once per layer. load_state_dict
//    copies each name into the one tensor in turn: the LAST layer's copy is what upstream uses
//    (the copies are identical in saved checkpoints). We keep one parameter under layer 0's name
//    (the layer whose forward computes the bias) and fill it from the last layer's copy.
//  - The position convolution is weight-normed (torch.nn.utils.weight_norm, dim=2): weight_g
//    [1, 1, K] and weight_v [W, W/G, K] are stored; the forward combines them.
#include <fmt/format.h>

#include "encoders.h"

namespace xib::audio {

namespace {

const char* const kBeatsLayerParams[] = {"self_attn.q_proj.weight",
                                         "self_attn.q_proj.bias",
                                         "self_attn.k_proj.weight",
                                         "self_attn.k_proj.bias",
                                         "self_attn.v_proj.weight",
                                         "self_attn.v_proj.bias",
                                         "self_attn.out_proj.weight",
                                         "self_attn.out_proj.bias",
                                         "self_attn_layer_norm.weight",
                                         "self_attn_layer_norm.bias",
                                         "fc1.weight",
                                         "fc1.bias",
                                         "fc2.weight",
                                         "fc2.bias",
                                         "final_layer_norm.weight",
                                         "final_layer_norm.bias"};

const char* const kBeatsGatedParams[] = {"self_attn.grep_linear.weight", "self_attn.grep_linear.bias",
                                         "self_attn.grep_a"};

std::string beats_rel_bias_name(int64_t layer) {
  return fmt::format("encoder.layers.{}.self_attn.relative_attention_bias.weight", layer);
}

}  // namespace

weights::WeightMap beats_map(const BeatsOptions& c) {
  weights::WeightMap map{.name = "beats (microsoft unilm / lavis BEATs.py)"};
  auto same = [&](const std::string& name) { map.entries.push_back({.from = {name}, .to = name}); };
  same("patch_embedding.weight");
  if (c.conv_bias) same("patch_embedding.bias");
  same("layer_norm.weight");
  same("layer_norm.bias");
  if (c.embed_dim != c.width) {
    same("post_extract_proj.weight");
    same("post_extract_proj.bias");
  }
  for (const char* leaf : {"weight_g", "weight_v", "bias"}) same(fmt::format("encoder.pos_conv.0.{}", leaf));
  same("encoder.layer_norm.weight");
  same("encoder.layer_norm.bias");
  for (const char* p : kBeatsLayerParams) same(fmt::format("encoder.layers.{{i}}.{}", p));
  if (c.gru_rel_pos) {
    for (const char* p : kBeatsGatedParams) same(fmt::format("encoder.layers.{{i}}.{}", p));
  }
  if (c.relative_position_embedding) {
    map.entries.push_back({.from = {beats_rel_bias_name(c.layers - 1)}, .to = beats_rel_bias_name(0)});
    for (int64_t i = 0; i + 1 < c.layers; ++i) {
      map.skips.push_back(
          {.pattern = beats_rel_bias_name(i),
           .reason = fmt::format("the relative position table is shared by every layer; upstream's load_state_dict "
                                 "keeps the last layer's copy (layer {})",
                                 c.layers - 1)});
    }
  }
  map.skips.push_back({.pattern = "predictor.*",
                       .reason = "the fine-tuned AudioSet classifier head (527 classes): X-InstructBLIP takes every "
                                 "token of the last layer"});
  return map;
}

std::vector<weights::DestParam> beats_params(const BeatsOptions& c) {
  std::vector<weights::DestParam> out;
  auto add = [&](std::string name, std::vector<int64_t> shape) {
    out.push_back({.name = std::move(name), .shape = std::move(shape)});
  };
  const int64_t w = c.width, e = c.embed_dim, f = c.ffn, p = c.patch_size;
  add("patch_embedding.weight", {e, 1, p, p});
  if (c.conv_bias) add("patch_embedding.bias", {e});
  add("layer_norm.weight", {e});
  add("layer_norm.bias", {e});
  if (e != w) {
    add("post_extract_proj.weight", {w, e});
    add("post_extract_proj.bias", {w});
  }
  add("encoder.pos_conv.0.weight_g", {1, 1, c.conv_pos});
  add("encoder.pos_conv.0.weight_v", {w, w / c.conv_pos_groups, c.conv_pos});
  add("encoder.pos_conv.0.bias", {w});
  add("encoder.layer_norm.weight", {w});
  add("encoder.layer_norm.bias", {w});
  if (c.relative_position_embedding) add(beats_rel_bias_name(0), {c.num_buckets, c.heads});
  for (int64_t i = 0; i < c.layers; ++i) {
    const std::string l = fmt::format("encoder.layers.{}.", i);
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      add(l + "self_attn." + proj + ".weight", {w, w});
      add(l + "self_attn." + proj + ".bias", {w});
    }
    if (c.gru_rel_pos) {
      add(l + "self_attn.grep_linear.weight", {8, w / c.heads});
      add(l + "self_attn.grep_linear.bias", {8});
      add(l + "self_attn.grep_a", {1, c.heads, 1, 1});
    }
    add(l + "self_attn_layer_norm.weight", {w});
    add(l + "self_attn_layer_norm.bias", {w});
    add(l + "fc1.weight", {f, w});
    add(l + "fc1.bias", {f});
    add(l + "fc2.weight", {w, f});
    add(l + "fc2.bias", {w});
    add(l + "final_layer_norm.weight", {w});
    add(l + "final_layer_norm.bias", {w});
  }
  return out;
}

}  // namespace xib::audio
