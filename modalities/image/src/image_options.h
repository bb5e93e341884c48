// The image modality's recipe section (model.modalities.image):
//
//   image:
//     encoder: {type: efficientnet_lite0}                  # embedded default, model cache weights
//     encoder: {type: eva_vit_g, weights: eva_vit_g.pth}   # upstream: EVA-CLIP ViT-g/14
//     processor: {size: 224, resize: crop}                 # mean/std follow the encoder
//     aligner: {type: qformer, …}                          # handed to the kernel's aligner factory
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "xib/config.h"
#include "xib/media/image.h"

namespace xib::image {

inline const std::vector<std::string> kEncoderTypes = {"efficientnet_lite0", "eva_vit_g"};

struct EncoderOptions {
  std::string type = "efficientnet_lite0";
  /// Weights file. Empty: efficientnet_lite0 uses the model cache's efficientnet-lite0 package;
  /// eva_vit_g needs a path. A bare name not found on disk is looked up in the model cache.
  std::filesystem::path weights = {};
  /// Random weights instead of a file (tests and smoke runs only).
  bool random_init = false;
  std::string device = "cpu";
  // EVA ViT sizes (defaults: ViT-g/14 as X-InstructBLIP uses it, 39 of its 40 blocks).
  int64_t image_size = 224;
  int64_t patch_size = 14;
  int64_t width = 1408;
  int64_t depth = 39;
  int64_t heads = 16;
  double mlp_ratio = 4.3637;
  double ln_eps = 1e-6;

  template <class V>
  void fields(V& v) {
    v("type", type, "encoder: efficientnet_lite0 (embedded default) or eva_vit_g (upstream)");
    v("weights", weights, "weights file (.pth/.safetensors); empty = the model cache default");
    v("random_init", random_init, "start from random weights instead of a file (tests only)");
    v("device", device, "cpu or cuda");
    v("image_size", image_size, "eva_vit_g: input size in pixels");
    v("patch_size", patch_size, "eva_vit_g: patch size");
    v("width", width, "eva_vit_g: token width");
    v("depth", depth, "eva_vit_g: blocks built (39 of the checkpoint's 40 upstream)");
    v("heads", heads, "eva_vit_g: attention heads");
    v("mlp_ratio", mlp_ratio, "eva_vit_g: MLP hidden = int(width * mlp_ratio)");
    v("ln_eps", ln_eps, "eva_vit_g: LayerNorm epsilon");
  }
  void validate(Validator& v) const {
    v.one_of("type", type, kEncoderTypes);
    v.require(device == "cpu" || device.rfind("cuda", 0) == 0, "device", "cpu or cuda[:N]", device);
    v.require(image_size > 0 && patch_size > 0 && image_size % patch_size == 0, "image_size",
              "a positive multiple of patch_size", image_size);
    v.require(width > 0 && heads > 0 && width % heads == 0, "width", "a positive multiple of heads", width);
    v.require(depth > 0, "depth", "a positive number", depth);
    v.require(mlp_ratio > 0, "mlp_ratio", "a positive number", mlp_ratio);
  }
};

struct ProcessorOptions {
  int64_t size = 224;
  std::string resize = "crop";  ///< crop: shorter side + centre crop; squash: LAVIS's eval resize
  double scale_min = 0.9;       ///< train: RandomResizedCrop area range
  double scale_max = 1.0;
  std::vector<double> mean = {};  ///< empty: the encoder's
  std::vector<double> std = {};   ///< empty: the encoder's
  bool skip_undecodable = false;  ///< batches drop (and count) files that fail to decode
  int64_t seed = 42;              ///< training augmentation stream
  /// Larger images are refused before decoding: PIL's decompression-bomb threshold.
  int64_t max_pixels = media::kDefaultMaxPixels;

  template <class V>
  void fields(V& v) {
    v("size", size, "output side in pixels");
    v("resize", resize, "eval geometry: crop (shorter side + centre crop) or squash (upstream LAVIS)");
    v("scale_min", scale_min, "train: smallest crop area fraction");
    v("scale_max", scale_max, "train: largest crop area fraction");
    v("mean", mean, "per-channel mean (default: the encoder's)");
    v("std", std, "per-channel std (default: the encoder's)");
    v("skip_undecodable", skip_undecodable, "skip and count files that cannot be decoded");
    v("seed", seed, "seed of the training augmentation");
    v("max_pixels", max_pixels, "refuse larger images before decoding (default: PIL's bomb threshold, ~179 M)");
  }
  void validate(Validator& v) const {
    v.require(size > 0, "size", "a positive number", size);
    v.require(max_pixels > 0, "max_pixels", "a positive number", max_pixels);
    v.one_of("resize", resize, {"crop", "squash"});
    v.require(0 < scale_min && scale_min <= scale_max && scale_max <= 1, "scale_min", "0 < scale_min <= scale_max <= 1",
              fmt::format("{}, {}", scale_min, scale_max));
    v.require(mean.empty() || mean.size() == 3, "mean", "3 values", mean.size());
    v.require(std.empty() || (std.size() == 3 && std[0] > 0 && std[1] > 0 && std[2] > 0), "std", "3 positive values",
              std.size());
  }
};

struct ImageModalityOptions {
  EncoderOptions encoder = {};
  ProcessorOptions processor = {};
  ConfigSection aligner = {};           ///< bound by the aligner's own type (ModalityContext::make_aligner)
  std::optional<std::string> cue = {};  ///< default: image_prompts().cue

  template <class V>
  void fields(V& v) {
    v("encoder", encoder, "the frozen image encoder");
    v("processor", processor, "decoding, geometry and normalisation");
    v("aligner", aligner, "the aligner section ({type: qformer | linear, …})");
    v("cue", cue, "text before the image tokens in the prompt (default ' image: ')");
  }
};

}  // namespace xib::image
