// Whisper encoder forward (openai/whisper AudioEncoder, transformers WhisperEncoder): two GELU
// convolutions (kernel 3, padding 1; the second with stride 2), sinusoidal positions, pre-LN
// blocks (attention with q scaled by 1/√head_dim, exact-erf GELU FFN), the final LayerNorm.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "encoders.h"
#include "xib/error.h"
#include "xib/io/weight_source.h"
#include "xib/sha256.h"
#include "xib/weights/encoder_weights.h"

namespace xib::audio {

namespace {

class WhisperEncoder : public Encoder {
 public:
  explicit WhisperEncoder(const EncoderOptions& o) : c_(o.whisper), device_(o.device) {
    if (!o.random_init) {
      weights_ = weights::resolve_weights_file({.given = o.weights,
                                                .cache_default = "whisper-tiny-en-ct2/model.bin",
                                                .encoder = "whisper_tiny_en",
                                                .expected = "Whisper's CTranslate2 model.bin or a transformers file"});
    }
    params_ = weights::make_encoder_params(whisper_encoder_params(c_), o.random_init, o.device);
    if (!o.random_init) {
      // CTranslate2 scopes names with '/'; transformers' files with '.', the encoder under
      // "model.encoder" (WhisperForConditionalGeneration) or "encoder" (WhisperModel).
      const auto src = io::open_weights(weights_);
      const auto& all = src->tensors();
      const bool ct2 =
          std::any_of(all.begin(), all.end(), [](const auto& r) { return r.name.find('/') != std::string::npos; });
      loaded_ = ct2 ? weights::load_encoder_weights(whisper_ct2_map(), c_.layers, weights_, params_)
                    : weights::load_encoder_weights(whisper_hf_map(), c_.layers, weights_, params_,
                                                    {"model.encoder", "encoder"});
    }
  }

  std::string name() const override { return "whisper_tiny_en"; }
  int64_t width() const override { return c_.width; }
  std::optional<int64_t> num_tokens() const override { return std::nullopt; }  // ⌈T/2⌉: 1500 for 30 s
  std::string weights_id() const override {
    if (id_.empty()) id_ = weights_.empty() ? "random" : "sha256:" + sha256_file(weights_);
    return id_;
  }

  /** [B, mels, T] log-mel, 0 < T ≤ 2·positions → [B, ⌈T/2⌉, width] */
  Tensor encode(const Tensor& batch) override {
    if (batch.dim() != 3 || batch.size(1) != c_.mels || batch.size(2) < 1 || batch.size(2) > 2 * c_.positions) {
      throw ShapeError({.what = "whisper encoder: wrong input shape",
                        .expected = fmt::format("[B, {}, T] log-mel with 0 < T ≤ {}", c_.mels, 2 * c_.positions),
                        .got = fmt::format("[{}]", fmt::join(batch.sizes(), ", ")),
                        .hint = "the encoder reads Whisper log-mel windows of up to 30 s (3000 frames)"});
    }
    torch::NoGradGuard no_grad;
    const int64_t b = batch.size(0), w = c_.width, hd = w / c_.heads;
    at::Tensor x = batch.to(torch::Device(device_), torch::kFloat32);
    x = at::gelu(at::conv1d(x, p("conv1.weight"), p("conv1.bias"), 1, 1));
    x = at::gelu(at::conv1d(x, p("conv2.weight"), p("conv2.bias"), 2, 1)).transpose(1, 2);  // [B, n, W]
    const int64_t n = x.size(1);
    x = x + p("positions").narrow(0, 0, n);
    const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
    for (int64_t i = 0; i < c_.layers; ++i) {
      const std::string k = fmt::format("layers.{}.", i);
      at::Tensor h = at::layer_norm(x, {w}, p(k + "attn_norm.weight"), p(k + "attn_norm.bias"), 1e-5);
      at::Tensor qkv = at::linear(h, p(k + "attn.qkv.weight"), p(k + "attn.qkv.bias"))
                           .reshape({b, n, 3, c_.heads, hd})
                           .permute({2, 0, 3, 1, 4});
      at::Tensor attn = at::softmax(at::matmul(qkv[0] * scale, qkv[1].transpose(-2, -1)), -1);
      at::Tensor o = at::matmul(attn, qkv[2]).transpose(1, 2).reshape({b, n, w});
      x = x + at::linear(o, p(k + "attn.out.weight"), p(k + "attn.out.bias"));
      h = at::layer_norm(x, {w}, p(k + "ffn_norm.weight"), p(k + "ffn_norm.bias"), 1e-5);
      h = at::gelu(at::linear(h, p(k + "ffn.up.weight"), p(k + "ffn.up.bias")));
      x = x + at::linear(h, p(k + "ffn.down.weight"), p(k + "ffn.down.bias"));
    }
    x = at::layer_norm(x, {w}, p("norm.weight"), p("norm.bias"), 1e-5);
    return x.contiguous().to(torch::kCPU);
  }

 private:
  const at::Tensor& p(const std::string& name) const { return params_.at(name); }

  WhisperOptions c_;
  std::string device_;
  std::map<std::string, Tensor> params_;
  std::filesystem::path weights_;
  weights::EncoderWeightsFrom loaded_;
  mutable std::string id_;
};

}  // namespace

std::unique_ptr<Encoder> make_whisper_encoder(const EncoderOptions& options) {
  return std::make_unique<WhisperEncoder>(options);
}

std::unique_ptr<Encoder> make_encoder(const EncoderOptions& options) {
  if (options.type == "whisper_tiny_en") return make_whisper_encoder(options);
  if (options.type == "beats") return make_beats(options);
  const auto near = nearest_name(options.type, kEncoderTypes);
  throw NotFoundError({.what = fmt::format("unknown audio encoder '{}'", options.type),
                       .where = "encoder.type",
                       .expected = "one of: " + join_names(kEncoderTypes),
                       .got = options.type,
                       .hint = near ? fmt::format("did you mean '{}'?", *near) : std::string()});
}

}  // namespace xib::audio
