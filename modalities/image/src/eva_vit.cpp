// EVA-CLIP ViT forward (LAVIS eva_vit.py VisionTransformer.forward_features): patch embedding,
// [CLS] + absolute positions, `depth` pre-norm blocks (qkv with bias [q_bias, 0, v_bias], exact
// GELU MLP), no final norm; every token is returned.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <cmath>

#include "encoders.h"
#include "torch_helpers.h"
#include "xib/error.h"
#include "xib/sha256.h"

namespace xib::image {

namespace {

/// EVA-CLIP ViT-g/14 has 40 blocks; X-InstructBLIP uses the first 39.
constexpr int64_t kCheckpointBlocks = 40;

class EvaVit : public Encoder {
 public:
  explicit EvaVit(const EncoderOptions& o) : c_(EvaVitConfig::from(o)), device_(o.device) {
    if (!o.random_init) weights_ = resolve_weights(o);  // before allocating: ViT-g is 1B parameters
    params_ = weights::make_encoder_params(eva_vit_params(c_), o.random_init, o.device);
    if (!o.random_init) {
      const auto r = load_encoder_weights(eva_vit_map(c_.depth, std::max(kCheckpointBlocks, c_.depth)), c_.depth,
                                          weights_, params_, {"visual_encoder"});
      loaded_ = r;
    }
  }

  std::string name() const override { return "eva_vit_g"; }
  int64_t width() const override { return c_.width; }
  std::optional<int64_t> num_tokens() const override { return c_.patches() + 1; }
  std::string weights_id() const override {
    if (id_.empty()) id_ = weights_.empty() ? "random" : "sha256:" + sha256_file(weights_);
    return id_;
  }

  /** [B, 3, S, S] → [B, 1 + (S/p)², W] */
  Tensor encode(const Tensor& batch) override {
    if (batch.dim() != 4 || batch.size(1) != 3 || batch.size(2) != c_.image_size || batch.size(3) != c_.image_size) {
      throw ShapeError({.what = "eva_vit_g: wrong input shape",
                        .expected = fmt::format("[B, 3, {}, {}]", c_.image_size, c_.image_size),
                        .got = fmt::format("[{}]", fmt::join(batch.sizes(), ", ")),
                        .hint = "the positional embedding fixes the image size: set encoder.image_size"});
    }
    torch::NoGradGuard no_grad;
    const int64_t b = batch.size(0), w = c_.width, hd = w / c_.heads;
    at::Tensor x = batch.to(torch::Device(device_), torch::kFloat32);
    x = at::conv2d(x, p("patch_embed.weight"), p("patch_embed.bias"), c_.patch_size).flatten(2).transpose(1, 2);
    x = at::cat({p("cls_token").expand({b, -1, -1}), x}, 1) + p("pos_embed");
    const int64_t n = x.size(1);
    const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
    for (int64_t i = 0; i < c_.depth; ++i) {
      const std::string k = fmt::format("blocks.{}.", i);
      at::Tensor h = at::layer_norm(x, {w}, p(k + "norm1.weight"), p(k + "norm1.bias"), c_.ln_eps);
      at::Tensor qkv = at::linear(h, p(k + "attn.qkv.weight"), p(k + "attn.qkv.bias"))
                           .reshape({b, n, 3, c_.heads, hd})
                           .permute({2, 0, 3, 1, 4});
      at::Tensor attn = at::softmax(at::matmul(qkv[0] * scale, qkv[1].transpose(-2, -1)), -1);
      at::Tensor o = at::matmul(attn, qkv[2]).transpose(1, 2).reshape({b, n, w});
      x = x + at::linear(o, p(k + "attn.proj.weight"), p(k + "attn.proj.bias"));
      h = at::layer_norm(x, {w}, p(k + "norm2.weight"), p(k + "norm2.bias"), c_.ln_eps);
      h = at::gelu(at::linear(h, p(k + "mlp.fc1.weight"), p(k + "mlp.fc1.bias")));
      x = x + at::linear(h, p(k + "mlp.fc2.weight"), p(k + "mlp.fc2.bias"));
    }
    return x.contiguous().to(torch::kCPU);
  }

  const LoadedFrom& loaded() const { return loaded_; }

 private:
  const at::Tensor& p(const std::string& name) const { return params_.at(name); }

  EvaVitConfig c_;
  std::string device_;
  std::map<std::string, Tensor> params_;
  std::filesystem::path weights_;
  LoadedFrom loaded_;
  mutable std::string id_;
};

}  // namespace

std::unique_ptr<Encoder> make_eva_vit(const EncoderOptions& options) { return std::make_unique<EvaVit>(options); }

}  // namespace xib::image
