// EVA-CLIP ViT's weight table: LAVIS eva_vit.py and timm Eva share these names. Torch-free.
#include <fmt/format.h>

#include "encoders.h"

namespace xib::image {

EvaVitConfig EvaVitConfig::from(const EncoderOptions& o) {
  return {.image_size = o.image_size,
          .patch_size = o.patch_size,
          .width = o.width,
          .depth = o.depth,
          .heads = o.heads,
          .mlp_ratio = o.mlp_ratio,
          .ln_eps = o.ln_eps};
}

weights::WeightMap eva_vit_map(int64_t depth, int64_t checkpoint_blocks) {
  weights::WeightMap map{.name = "eva-clip vit (lavis eva_vit.py / timm eva)"};
  auto add = [&](std::string from, std::string to) {
    map.entries.push_back({.from = {std::move(from)}, .to = std::move(to)});
  };
  add("patch_embed.proj.weight", "patch_embed.weight");
  add("patch_embed.proj.bias", "patch_embed.bias");
  add("cls_token", "cls_token");
  add("pos_embed", "pos_embed");
  for (const char* m : {"norm1", "norm2", "attn.proj", "mlp.fc1", "mlp.fc2"}) {
    for (const char* leaf : {".weight", ".bias"}) {
      add(fmt::format("blocks.{{i}}.{}{}", m, leaf), fmt::format("blocks.{{i}}.{}{}", m, leaf));
    }
  }
  add("blocks.{i}.attn.qkv.weight", "blocks.{i}.attn.qkv.weight");
  // qkv has no bias of its own; upstream adds [q_bias, zeros, v_bias] (k has no bias).
  map.entries.push_back({.from = {"blocks.{i}.attn.q_bias", std::string(weights::kZeros), "blocks.{i}.attn.v_bias"},
                         .to = "blocks.{i}.attn.qkv.bias",
                         .transform = weights::Transform::concat(0)});
  for (int64_t b = depth; b < checkpoint_blocks; ++b) {
    map.skips.push_back({.pattern = fmt::format("blocks.{}.*", b),
                         .reason = fmt::format("block {} of the checkpoint's {}: deliberately unused (X-InstructBLIP "
                                               "builds the first {} blocks, LAVIS create_eva_vit_g depth={})",
                                               b, checkpoint_blocks, depth, depth)});
  }
  map.skips.push_back({.pattern = "blocks.*.attn.k_bias", .reason = "timm's constant zero k bias (a buffer)"});
  map.skips.push_back({.pattern = "norm.*", .reason = "the final norm: upstream uses the last block's output"});
  map.skips.push_back({.pattern = "fc_norm.*", .reason = "the pooled-output norm: upstream takes every token"});
  map.skips.push_back({.pattern = "head.*", .reason = "the classifier head: upstream takes every token"});
  return map;
}

std::vector<weights::DestParam> eva_vit_params(const EvaVitConfig& c) {
  std::vector<weights::DestParam> out;
  auto add = [&](std::string name, std::vector<int64_t> shape) {
    out.push_back({.name = std::move(name), .shape = std::move(shape)});
  };
  const int64_t w = c.width, h = c.mlp_hidden();
  add("patch_embed.weight", {w, 3, c.patch_size, c.patch_size});
  add("patch_embed.bias", {w});
  add("cls_token", {1, 1, w});
  add("pos_embed", {1, c.patches() + 1, w});
  for (int64_t i = 0; i < c.depth; ++i) {
    const std::string b = fmt::format("blocks.{}.", i);
    add(b + "norm1.weight", {w});
    add(b + "norm1.bias", {w});
    add(b + "attn.qkv.weight", {3 * w, w});
    add(b + "attn.qkv.bias", {3 * w});
    add(b + "attn.proj.weight", {w, w});
    add(b + "attn.proj.bias", {w});
    add(b + "norm2.weight", {w});
    add(b + "norm2.bias", {w});
    add(b + "mlp.fc1.weight", {h, w});
    add(b + "mlp.fc1.bias", {h});
    add(b + "mlp.fc2.weight", {w, h});
    add(b + "mlp.fc2.bias", {w});
  }
  return out;
}

}  // namespace xib::image
