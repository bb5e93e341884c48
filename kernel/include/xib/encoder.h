// Encoder: a frozen modality encoder (EVA-CLIP ViT, BEATs, PointBERT, …). It never trains:
// implementations run in eval mode without autograd and may keep weights in bf16/f16.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "xib/tensor.h"

namespace xib {

class Encoder {
 public:
  static constexpr const char* kKind = "encoder";
  virtual ~Encoder() = default;

  /// The encoder's name as recipes spell it ("eva_vit_g", "efficientnet_lite0").
  virtual std::string name() const = 0;
  /// Token width D of the output.
  virtual int64_t width() const = 0;
  /// Number of tokens T per input when fixed (257 for EVA ViT-g/14 at 224 px), else nullopt.
  virtual std::optional<int64_t> num_tokens() const = 0;
  /// Identifies the weights (a content hash), so feature caches can refuse stale entries.
  virtual std::string weights_id() const = 0;

  /** [B, …processor output…] → [B, T, D] float32, no grad. */
  virtual Tensor encode(const Tensor& batch) = 0;
};

}  // namespace xib
