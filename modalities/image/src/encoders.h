// The image modality's frozen encoders and their weight maps.
//
// EfficientNet-Lite0 (embedded default): the last feature map as tokens, [B, HW, 1280]
// ([B, 49, 1280] at 224 px). Our parameter names:
//   stem.conv.weight [32, 3, 3, 3], stem.bn.{weight,bias,running_mean,running_var} [32]
//   blocks.{i}.expand.conv.weight [E, C, 1, 1], blocks.{i}.expand.bn.*   (blocks with expand ≠ 1)
//   blocks.{i}.depthwise.conv.weight [E, 1, k, k], blocks.{i}.depthwise.bn.*
//   blocks.{i}.project.conv.weight [O, E, 1, 1], blocks.{i}.project.bn.*
//   head.conv.weight [1280, 320, 1, 1], head.bn.*
//
// EVA-CLIP ViT (upstream ViT-g/14): every token of the last block, no final norm, [B, 1 + N, W].
//   patch_embed.{weight [W, 3, p, p], bias}, cls_token [1, 1, W], pos_embed [1, 1 + N, W]
//   blocks.{i}.norm1.*, blocks.{i}.attn.qkv.{weight [3W, W], bias [3W] = [q_bias, 0, v_bias]},
//   blocks.{i}.attn.proj.*, blocks.{i}.norm2.*, blocks.{i}.mlp.fc1.* [H, W], blocks.{i}.mlp.fc2.*
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "image_options.h"
#include "xib/encoder.h"
#include "xib/weights/weight_map.h"

namespace xib::image {

struct MbConvStage {
  int64_t repeats, kernel, stride, expand, in, out;
};

/// One MBConv block after expanding the stages.
struct MbConvBlock {
  int64_t kernel, stride, expand, in, out;
  int64_t hidden() const { return in * expand; }
};

struct EfficientNetLiteConfig {
  int64_t stem = 32;
  int64_t head = 1280;
  double bn_eps = 1e-3;
  /// EfficientNet-Lite0 (efficientnet_lite_builder.py: r1_k3_s11_e1_i32_o16, …).
  std::vector<MbConvStage> stages = {{1, 3, 1, 1, 32, 16},  {2, 3, 2, 6, 16, 24},  {2, 5, 2, 6, 24, 40},
                                     {3, 3, 2, 6, 40, 80},  {3, 5, 1, 6, 80, 112}, {4, 5, 2, 6, 112, 192},
                                     {1, 3, 1, 6, 192, 320}};
  std::vector<MbConvBlock> blocks() const;
};

/// efficientnet_lite_pytorch's names (_conv_stem, _bn0, _blocks.{i}._expand_conv, …) → ours.
/// The classifier (_fc) and BatchNorm's num_batches_tracked are skipped.
weights::WeightMap efficientnet_lite_map(const EfficientNetLiteConfig& config);
std::vector<weights::DestParam> efficientnet_lite_params(const EfficientNetLiteConfig& config);

struct EvaVitConfig {
  int64_t image_size = 224, patch_size = 14, width = 1408, depth = 39, heads = 16;
  double mlp_ratio = 4.3637, ln_eps = 1e-6;
  int64_t mlp_hidden() const { return static_cast<int64_t>(static_cast<double>(width) * mlp_ratio); }
  int64_t patches() const { return (image_size / patch_size) * (image_size / patch_size); }
  static EvaVitConfig from(const EncoderOptions& o);
};

/// LAVIS eva_vit.py / timm Eva names (blocks.{i}.attn.qkv.weight, q_bias, v_bias, …) → ours.
/// Blocks at index ≥ depth up to `checkpoint_blocks` are skipped as deliberately unused
/// (X-InstructBLIP builds 39 of the 40-block EVA-CLIP tower). Expand with .layers = depth.
weights::WeightMap eva_vit_map(int64_t depth, int64_t checkpoint_blocks);
std::vector<weights::DestParam> eva_vit_params(const EvaVitConfig& config);

/// Build an encoder from its options (weights loaded, eval mode, no grad). NotFoundError for
/// an unknown type; WeightMapError listing every problem for weights that do not fit.
std::unique_ptr<Encoder> make_encoder(const EncoderOptions& options);

/// Per-channel normalisation the encoder was trained with: {mean, std}.
std::pair<std::vector<double>, std::vector<double>> encoder_normalisation(const std::string& type);

}  // namespace xib::image
