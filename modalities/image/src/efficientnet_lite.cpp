// EfficientNet-Lite0 forward (efficientnet_lite_pytorch's extract_features): TensorFlow "SAME"
// padding (asymmetric for stride 2), BatchNorm in eval mode (eps 1e-3), ReLU6, MBConv blocks
// without squeeze-excitation, residual when stride 1 and in == out; head conv 1x1 → BN → ReLU6.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include "encoders.h"
#include "torch_helpers.h"
#include "xib/error.h"
#include "xib/sha256.h"

namespace xib::image {

namespace {

class EfficientNetLite0 : public Encoder {
 public:
  explicit EfficientNetLite0(const EncoderOptions& o) : blocks_(config_.blocks()), device_(o.device) {
    if (!o.random_init) weights_ = resolve_weights(o);
    params_ = weights::make_encoder_params(efficientnet_lite_params(config_), o.random_init, o.device);
    if (!o.random_init) {
      load_encoder_weights(efficientnet_lite_map(config_), 0, weights_, params_, {"visual_encoder"});
    }
  }

  std::string name() const override { return "efficientnet_lite0"; }
  int64_t width() const override { return config_.head; }
  std::optional<int64_t> num_tokens() const override { return std::nullopt; }  // (H/32)·(W/32): 49 at 224 px
  std::string weights_id() const override {
    if (id_.empty()) id_ = weights_.empty() ? "random" : "sha256:" + sha256_file(weights_);
    return id_;
  }

  /** [B, 3, H, W] → [B, ⌈H/32⌉·⌈W/32⌉, 1280] */
  Tensor encode(const Tensor& batch) override {
    if (batch.dim() != 4 || batch.size(1) != 3) {
      throw ShapeError({.what = "efficientnet_lite0: wrong input shape",
                        .expected = "[B, 3, H, W]",
                        .got = fmt::format("[{}]", fmt::join(batch.sizes(), ", "))});
    }
    torch::NoGradGuard no_grad;
    at::Tensor x = batch.to(torch::Device(device_), torch::kFloat32);
    x = relu6(bn(conv(x, "stem", 2, 1), "stem"));
    for (size_t i = 0; i < blocks_.size(); ++i) {
      const auto& b = blocks_[i];
      const std::string p = fmt::format("blocks.{}.", i);
      at::Tensor in = x;
      if (b.expand != 1) x = relu6(bn(conv(x, p + "expand", 1, 1), p + "expand"));
      x = relu6(bn(conv(x, p + "depthwise", b.stride, b.hidden()), p + "depthwise"));
      x = bn(conv(x, p + "project", 1, 1), p + "project");
      if (b.stride == 1 && b.in == b.out) x = x + in;
    }
    x = relu6(bn(conv(x, "head", 1, 1), "head"));
    return x.flatten(2).transpose(1, 2).contiguous().to(torch::kCPU);
  }

 private:
  static at::Tensor relu6(const at::Tensor& x) { return x.clamp(0.0, 6.0); }

  /// Convolution with TensorFlow "SAME" padding: output ⌈in / stride⌉, the odd pixel at the end.
  at::Tensor conv(const at::Tensor& x, const std::string& m, int64_t stride, int64_t groups) const {
    const at::Tensor& w = params_.at(m + ".conv.weight");
    const int64_t k = w.size(2);
    auto pad = [&](int64_t in) { return std::max<int64_t>(((in + stride - 1) / stride - 1) * stride + k - in, 0); };
    const int64_t ph = pad(x.size(2)), pw = pad(x.size(3));
    at::Tensor padded = ph > 0 || pw > 0 ? at::constant_pad_nd(x, {pw / 2, pw - pw / 2, ph / 2, ph - ph / 2}, 0) : x;
    const int64_t no_pad = 0, dilation = 1;
    return at::conv2d(padded, w, at::Tensor(), at::IntArrayRef(stride), at::IntArrayRef(no_pad),
                      at::IntArrayRef(dilation), groups);
  }

  at::Tensor bn(const at::Tensor& x, const std::string& m) const {
    return at::batch_norm(x, params_.at(m + ".bn.weight"), params_.at(m + ".bn.bias"),
                          params_.at(m + ".bn.running_mean"), params_.at(m + ".bn.running_var"), false, 0.0,
                          config_.bn_eps, true);
  }

  EfficientNetLiteConfig config_;
  std::vector<MbConvBlock> blocks_;
  std::string device_;
  std::map<std::string, Tensor> params_;
  std::filesystem::path weights_;
  mutable std::string id_;
};

}  // namespace

std::unique_ptr<Encoder> make_efficientnet_lite0(const EncoderOptions& options) {
  return std::make_unique<EfficientNetLite0>(options);
}

}  // namespace xib::image
