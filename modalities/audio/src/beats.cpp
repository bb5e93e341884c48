// BEATs forward (LAVIS lavis/models/beats, microsoft/unilm's BEATs.extract_features in eval
// mode: no dropout, no layer drop, no padding mask), float32:
//   fbank [B, T, M] → patch conv (stride = kernel = p) → [B, E, T/p, M/p] → tokens time-major
//   [B, N, E] → LayerNorm(E) → post_extract_proj (E → W, when E ≠ W) → + GELU(weight-normed
//   grouped conv, SamePad) → LayerNorm(W) (post-norm models) → layers → [B, N, W].
// Layers (fairseq TransformerSentenceEncoderLayer, post-norm with DeepNorm when deep_norm):
//   x = LN(α·x + attn(x)); x = LN(α·x + fc2(GELU(fc1(x)))), α = (2·layers)^¼ (1 without deep_norm).
// Attention (fairseq MultiheadAttention as BEATs changed it): q = q_proj(x)·d^-½/32, logits =
// (q·kᵀ − rowmax)·32 (a stabilising trick: the same softmax), plus the relative position bias
// (computed once, from layer 0's table, and passed to every layer), gated per layer and query
// (gru_rel_pos): g = σ(Σ₄ grep_linear(q_proj(x))) → [a, b]; bias·(a·(b·grep_a − 1) + 2).
#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>

#include "encoders.h"
#include "xib/error.h"
#include "xib/sha256.h"
#include "xib/weights/encoder_weights.h"

namespace xib::audio {

namespace {

constexpr double kBeatsLnEps = 1e-5;    // torch.nn.LayerNorm's default, everywhere in BEATs
constexpr double kBeatsAttnAlpha = 32;  // MultiheadAttention's `alpha`
const char* const kBeatsRelBias = "encoder.layers.0.self_attn.relative_attention_bias.weight";

/// Random init (smoke runs): norms, grep_a and the weight-norm magnitude start at one.
bool beats_is_scale(std::string_view name) {
  return weights::is_scale_param(name) || name.ends_with(".grep_a") || name.ends_with(".weight_g");
}

class Beats : public Encoder {
 public:
  explicit Beats(const EncoderOptions& o) : c_(o.beats), device_(o.device) {
    if (!o.random_init) {
      weights_ = weights::resolve_weights_file(
          {.given = o.weights,
           .encoder = "beats",
           .expected = "BEATs_iter3_plus_AS2M.pt (microsoft/unilm BEATs: tensors under \"model\"), or a LAVIS "
                       "checkpoint holding audio_encoder.model.*"});
    }
    params_ = weights::make_encoder_params(beats_params(c_), o.random_init, o.device, beats_is_scale);
    if (!o.random_init) {
      loaded_ = weights::load_encoder_weights(beats_map(c_), c_.layers, weights_, params_,
                                              {"model.audio_encoder.model", "audio_encoder.model", "model"});
    }
    // torch.nn.utils.weight_norm(dim=2): w = v · g / ‖v‖, the norm over dims 0 and 1 per kernel tap.
    pos_conv_weight_ = at::_weight_norm(p("encoder.pos_conv.0.weight_v"), p("encoder.pos_conv.0.weight_g"), 2);
  }

  std::string name() const override { return "beats"; }
  int64_t width() const override { return c_.width; }
  std::optional<int64_t> num_tokens() const override { return std::nullopt; }
  std::string weights_id() const override {
    if (id_.empty()) id_ = weights_.empty() ? "random" : "sha256:" + sha256_file(weights_);
    return id_;
  }

  /** [B, T, mel_bins] fbank, T a positive multiple of patch_size → [B, (T/p)·(mel_bins/p), width] */
  Tensor encode(const Tensor& batch) override {
    const int64_t patch = c_.patch_size;
    if (!batch.defined() || batch.dim() != 3 || batch.size(2) != c_.mel_bins || batch.size(1) <= 0 ||
        batch.size(1) % patch != 0) {
      throw ShapeError(
          {.what = "beats: wrong input shape",
           .expected = fmt::format("[B, T, {}] fbank frames, T a positive multiple of {}", c_.mel_bins, patch),
           .got = shape_of(batch),
           .hint = "the audio processor cuts fbank segments of 512 frames (upstream)"});
    }
    torch::NoGradGuard no_grad;
    const int64_t b = batch.size(0);
    at::Tensor x = batch.to(torch::Device(device_), torch::kFloat32).unsqueeze(1);  // [B, 1, T, M]
    const at::Tensor conv_bias = c_.conv_bias ? p("patch_embedding.bias") : at::Tensor();
    x = at::conv2d(x, p("patch_embedding.weight"), conv_bias, patch);  // [B, E, T/p, M/p]
    x = x.reshape({b, c_.embed_dim, -1}).transpose(1, 2);              // [B, N, E]
    x = ln(x, "layer_norm");
    if (c_.embed_dim != c_.width) x = at::linear(x, p("post_extract_proj.weight"), p("post_extract_proj.bias"));
    x = x + position_conv(x);
    if (!c_.layer_norm_first) x = ln(x, "encoder.layer_norm");
    const at::Tensor bias = c_.relative_position_embedding ? position_bias(x.size(1)) : at::Tensor();
    for (int64_t i = 0; i < c_.layers; ++i) x = layer(x, fmt::format("encoder.layers.{}.", i), bias);
    if (c_.layer_norm_first) x = ln(x, "encoder.layer_norm");
    return x.contiguous().to(torch::kCPU);
  }

 private:
  const at::Tensor& p(const std::string& name) const { return params_.at(name); }

  /** [.., D] → [.., D]: LayerNorm with `prefix`.weight / .bias */
  at::Tensor ln(const at::Tensor& x, const std::string& prefix) const {
    return at::layer_norm(x, {x.size(-1)}, p(prefix + ".weight"), p(prefix + ".bias"), kBeatsLnEps);
  }

  /** [B, N, W] → [B, N, W]: grouped conv (kernel K, padding K/2; SamePad drops the last step for an
      even K), then GELU */
  at::Tensor position_conv(const at::Tensor& x) const {
    at::Tensor y = at::conv1d(x.transpose(1, 2), pos_conv_weight_, p("encoder.pos_conv.0.bias"), 1, c_.conv_pos / 2, 1,
                              c_.conv_pos_groups);  // [B, W, N + 1 − K mod 2]
    if (c_.conv_pos % 2 == 0) y = y.slice(2, 0, y.size(2) - 1);
    return at::gelu(y).transpose(1, 2);
  }

  /** → [H, N, N]: the shared table at bucket(key − query) */
  at::Tensor position_bias(int64_t n) const {
    const at::Tensor pos = at::arange(n, at::TensorOptions().dtype(at::kLong));
    const at::Tensor rel = pos.unsqueeze(0) - pos.unsqueeze(1);  // [N, N]: [i][j] = j − i
    const at::Tensor bucket =
        beats_relative_buckets(rel, c_.num_buckets, c_.max_distance).to(p(kBeatsRelBias).device());
    return at::embedding(p(kBeatsRelBias), bucket).permute({2, 0, 1});  // [N, N, H] → [H, N, N]
  }

  /** [B, N, W] → [B, N, W]; bias [H, N, N] or undefined */
  at::Tensor layer(at::Tensor x, const std::string& l, const at::Tensor& bias) const {
    if (c_.layer_norm_first) {
      x = x + attention(ln(x, l + "self_attn_layer_norm"), l, bias);
      return x + ffn(ln(x, l + "final_layer_norm"), l);
    }
    const double alpha = c_.deep_norm ? std::pow(2.0 * static_cast<double>(c_.layers), 0.25) : 1.0;
    x = ln(x * alpha + attention(x, l, bias), l + "self_attn_layer_norm");
    return ln(x * alpha + ffn(x, l), l + "final_layer_norm");
  }

  /** [B, N, W] → [B, N, W] */
  at::Tensor ffn(const at::Tensor& x, const std::string& l) const {
    const at::Tensor h = at::gelu(at::linear(x, p(l + "fc1.weight"), p(l + "fc1.bias")));
    return at::linear(h, p(l + "fc2.weight"), p(l + "fc2.bias"));
  }

  /** [B, N, W] → [B, N, W]; bias [H, N, N] or undefined */
  at::Tensor attention(const at::Tensor& x, const std::string& l, const at::Tensor& bias) const {
    const int64_t b = x.size(0), n = x.size(1), h = c_.heads, hd = c_.width / c_.heads;
    const double scaling = std::pow(static_cast<double>(hd), -0.5);
    auto proj = [&](const char* name) {  // → [B, H, N, hd]
      const std::string k = l + "self_attn." + name;
      return at::linear(x, p(k + ".weight"), p(k + ".bias")).view({b, n, h, hd}).permute({0, 2, 1, 3});
    };
    const at::Tensor q = proj("q_proj") * scaling * (1.0 / kBeatsAttnAlpha);
    const at::Tensor k = proj("k_proj"), v = proj("v_proj");
    at::Tensor s = at::matmul(q, k.transpose(-2, -1));                     // [B, H, N, N]
    s = (s - std::get<0>(s.max(-1, /*keepdim=*/true))) * kBeatsAttnAlpha;  // upstream's trick, kept
    if (bias.defined()) {
      at::Tensor rel = bias;  // [H, N, N]
      if (c_.gru_rel_pos) {
        const at::Tensor query = q * kBeatsAttnAlpha / scaling;  // q_proj(x) again, as upstream gets it
        const at::Tensor g =
            at::sigmoid(at::linear(query, p(l + "self_attn.grep_linear.weight"), p(l + "self_attn.grep_linear.bias"))
                            .view({b, h, n, 2, 4})
                            .sum(-1));  // [B, H, N, 2]
        const auto ab = g.chunk(2, -1);
        const at::Tensor gate = ab[0] * (ab[1] * p(l + "self_attn.grep_a") - 1.0) + 2.0;  // [B, H, N, 1]
        rel = gate * bias;                                                                // [B, H, N, N]
      }
      s = s + rel;
    }
    const at::Tensor o = at::matmul(at::softmax(s, -1), v).permute({0, 2, 1, 3}).reshape({b, n, c_.width});
    return at::linear(o, p(l + "self_attn.out_proj.weight"), p(l + "self_attn.out_proj.bias"));
  }

  BeatsOptions c_;
  std::string device_;
  std::map<std::string, Tensor> params_;
  at::Tensor pos_conv_weight_;  ///< [W, W/G, K], from weight_g and weight_v
  std::filesystem::path weights_;
  weights::EncoderWeightsFrom loaded_;
  mutable std::string id_;
};

}  // namespace

Tensor beats_relative_buckets(const Tensor& rel, int64_t num_buckets, int64_t max_distance) {
  // Bidirectional: half the buckets for keys after the query; in each half, exact buckets below
  // max_exact, logarithmic ones up to max_distance, the last bucket beyond. The same ops as
  // upstream's _relative_positions_bucket (float32 log, truncation), so boundaries match.
  const int64_t half = num_buckets / 2, max_exact = half / 2;
  const at::Tensor after = (rel > 0).to(at::kLong) * half;
  const at::Tensor dist = rel.abs();
  at::Tensor large = (at::log(dist.to(at::kFloat) / max_exact) /
                      std::log(static_cast<double>(max_distance) / static_cast<double>(max_exact)) * (half - max_exact))
                         .to(at::kLong) +
                     max_exact;
  large = at::clamp_max(large, half - 1);
  return after + at::where(dist < max_exact, dist, large);
}

std::unique_ptr<Encoder> make_beats(const EncoderOptions& options) { return std::make_unique<Beats>(options); }

}  // namespace xib::audio
