// The LLaMA decoder forward: one batched code path for full sequences (forward, loss) and for
// incremental decoding through the KV cache. f32 on CPU; no per-head loops (grouped-query
// attention runs as one batched matmul per layer over [B, Hkv, G·T, hd]).
#include "llama_model.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "llama_tokenizer.h"
#include "xib/error.h"
#include "xib/weights/weight_map.h"

namespace xib::llama {

namespace {

/** x [..., hd] → [..., hd]: (−x2, x1) */
at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

}  // namespace

at::Tensor positions_from_mask(const at::Tensor& mask) {
  const at::Tensor m = mask.to(at::kLong);
  return (m.cumsum(-1) - 1).masked_fill(m == 0, 1);
}

at::Tensor rope_inv_freq(const LlamaConfig& c) {
  const double dim = static_cast<double>(c.head_dim);
  at::Tensor exponent = at::arange(0, c.head_dim, 2, at::kLong).to(at::kFloat) / dim;
  at::Tensor inv_freq = 1.0 / at::pow(c.rope_theta, exponent);
  const auto& r = c.rope;
  if (r.type == "linear") {
    inv_freq = inv_freq / r.factor;
  } else if (r.type == "llama3") {
    // transformers' _compute_llama3_parameters.
    const double old_context = static_cast<double>(r.original_context);
    const double low_wavelen = old_context / r.low_freq_factor;
    const double high_wavelen = old_context / r.high_freq_factor;
    const at::Tensor wavelen = 2 * M_PI / inv_freq;
    at::Tensor scaled = at::where(wavelen > low_wavelen, inv_freq / r.factor, inv_freq);
    const at::Tensor smooth = (old_context / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
    const at::Tensor smoothed = (1 - smooth) * scaled / r.factor + smooth * scaled;
    const at::Tensor medium = (wavelen >= high_wavelen).logical_and(wavelen <= low_wavelen);
    inv_freq = at::where(medium, smoothed, scaled);
  }
  return inv_freq.contiguous();
}

// ---- KV cache ----

LlamaKvCache::LlamaKvCache(const LlamaConfig& c, int64_t batch, int64_t capacity, const c10::Device& device)
    : batch_(batch) {
  const auto shape = std::vector<int64_t>{batch, c.kv_heads, std::max<int64_t>(capacity, 1), c.head_dim};
  const auto options = at::TensorOptions().dtype(at::kFloat).device(device);
  for (int64_t i = 0; i < c.layers; ++i) {
    k_.push_back(at::empty(shape, options));
    v_.push_back(at::empty(shape, options));
  }
}

void LlamaKvCache::grow(int64_t needed) {
  for (auto* store : {&k_, &v_}) {
    for (auto& t : *store) {
      const int64_t cap = std::max(needed, 2 * t.size(2));
      at::Tensor bigger = at::empty({t.size(0), t.size(1), cap, t.size(3)}, t.options());
      bigger.narrow(2, 0, length_).copy_(t.narrow(2, 0, length_));
      t = bigger;
    }
  }
}

std::pair<at::Tensor, at::Tensor> LlamaKvCache::append(int64_t layer, const at::Tensor& k, const at::Tensor& v) {
  const int64_t t = k.size(2);
  if (length_ + t > k_[layer].size(2)) grow(length_ + t);
  k_[layer].narrow(2, length_, t).copy_(k);
  v_[layer].narrow(2, length_, t).copy_(v);
  return {k_[layer].narrow(2, 0, length_ + t), v_[layer].narrow(2, 0, length_ + t)};
}

void LlamaKvCache::select_rows(const at::Tensor& rows) {
  at::NoGradGuard no_grad;
  const at::Tensor r = rows.to(k_.front().device(), at::kLong);
  for (auto* store : {&k_, &v_}) {
    for (auto& t : *store) t = t.index_select(0, r);
  }
  batch_ = r.size(0);
}

// ---- the model ----

LlamaModel::LlamaModel(LlamaConfig config) : config_(std::move(config)) {
  for (const auto& p : llama_params(config_.shape())) {
    params_.emplace(p.name, at::empty(p.shape, at::kFloat));
  }
  inv_freq_ = rope_inv_freq(config_);
}

void LlamaModel::finish_loading() {
  for (auto& [name, t] : params_) t.set_requires_grad(false);  // frozen
  bind_parameters();
  borrow_step_weights();
}

void LlamaModel::to(const c10::Device& device) {
  if (device == this->device()) return;
  at::NoGradGuard no_grad;
  // The fused decode step reads CPU buffers (and may hold the GGUF's blocks): it ends here.
  step_.clear();
  step_head_ = {};
  fused_step_ = false;
  for (auto& [name, t] : params_) t = t.to(device);
  inv_freq_ = inv_freq_.to(device);
  bind_parameters();
}

void LlamaModel::bind_parameters() {
  layers_.clear();
  for (int64_t i = 0; i < config_.layers; ++i) {
    const std::string l = "layers." + std::to_string(i) + ".";
    layers_.push_back({.attn_norm = params_.at(l + "attn_norm.weight"),
                       .qkv = params_.at(l + "attn.qkv.weight"),
                       .out = params_.at(l + "attn.out.weight"),
                       .mlp_norm = params_.at(l + "mlp_norm.weight"),
                       .gate_up = params_.at(l + "mlp.gate_up.weight"),
                       .down = params_.at(l + "mlp.down.weight")});
  }
  embed_ = params_.at("embed.weight");
  norm_ = params_.at("norm.weight");
  lm_head_ = config_.tied ? embed_ : params_.at("lm_head.weight");
}

void LlamaModel::set_rope_factors(const std::vector<float>& factors) {
  if (static_cast<int64_t>(factors.size()) != config_.head_dim / 2) {
    throw ShapeError({.what = "rope_freqs does not fit the head size",
                      .where = config_.name,
                      .expected = fmt::format("{} values", config_.head_dim / 2),
                      .got = fmt::format("{} values", factors.size())});
  }
  LlamaConfig plain = config_;
  plain.rope.type = "default";
  inv_freq_ = rope_inv_freq(plain) / at::tensor(factors, at::kFloat);
}

const Tokenizer& LlamaModel::tokenizer() const {
  if (!tokenizer_) {
    throw NotFoundError({.what = "the model was loaded without a tokenizer",
                         .where = config_.name,
                         .expected = "tokenizer.json in the model folder, or tokenizer.ggml.* metadata in the GGUF",
                         .hint = "pass token ids instead, or add the model's tokenizer.json"});
  }
  return *tokenizer_;
}

std::string LlamaModel::apply_chat_template(const std::vector<ChatMessage>& messages,
                                            bool add_generation_prompt) const {
  return render_chat(chat_template_option_, chat_template_, messages, add_generation_prompt, config_.name);
}

at::Tensor LlamaModel::rms_norm(const at::Tensor& x, const at::Tensor& weight) const {
  const at::Tensor variance = x.pow(2).mean(-1, /*keepdim=*/true);
  return weight * (x * at::rsqrt(variance + config_.rms_eps));
}

std::pair<at::Tensor, at::Tensor> LlamaModel::rotary(const at::Tensor& positions) const {
  const at::Tensor freqs = positions.to(at::kFloat).unsqueeze(-1) * inv_freq_;  // [B, T, hd/2]
  const at::Tensor emb = at::cat({freqs, freqs}, -1);                           // [B, T, hd]
  return {emb.cos(), emb.sin()};
}

at::Tensor LlamaModel::embed(const at::Tensor& ids) {
  if (ids.dim() != 2 || at::isFloatingType(ids.scalar_type())) {
    throw ShapeError(
        {.what = "embed() needs integer token ids [B, T]",
         .where = config_.name,
         .expected = "[B, T] int64",
         .got = weights::shape_str(ids.sizes().vec()) + " " + std::string(c10::toString(ids.scalar_type()))});
  }
  const at::Tensor i = ids.to(at::kLong);
  if (i.numel() > 0) {
    const int64_t lo = i.min().item<int64_t>();
    const int64_t hi = i.max().item<int64_t>();
    if (lo < 0 || hi >= config_.vocab) {
      throw ShapeError({.what = "token id outside the vocabulary",
                        .where = config_.name,
                        .expected = fmt::format("0 … {}", config_.vocab - 1),
                        .got = fmt::format("{}", lo < 0 ? lo : hi)});
    }
  }
  return at::embedding(embed_, i.to(embed_.device()));
}

void LlamaModel::check_inputs(const at::Tensor& e, const at::Tensor& mask, int64_t past, const char* where) const {
  if (e.dim() != 3 || e.size(2) != config_.hidden) {
    throw ShapeError({.what = "input embeddings must be [B, T, d_llm]",
                      .where = fmt::format("{} {}", config_.name, where),
                      .expected = fmt::format("[B, T, {}]", config_.hidden),
                      .got = weights::shape_str(e.sizes().vec())});
  }
  if (mask.dim() != 2 || mask.size(0) != e.size(0) || mask.size(1) != past + e.size(1)) {
    throw ShapeError(
        {.what = "attention mask does not cover the sequence",
         .where = fmt::format("{} {}", config_.name, where),
         .expected = fmt::format("[{}, {}] (cached {} + new {})", e.size(0), past + e.size(1), past, e.size(1)),
         .got = weights::shape_str(mask.sizes().vec())});
  }
  if (past + e.size(1) > config_.context) {
    throw ShapeError({.what = "the sequence is longer than the model's context",
                      .where = fmt::format("{} {}", config_.name, where),
                      .expected = fmt::format("at most {} positions", config_.context),
                      .got = fmt::format("{} positions", past + e.size(1)),
                      .hint = "shorten the prompt or generate fewer tokens"});
  }
}

at::Tensor LlamaModel::run_layers(at::Tensor h, const at::Tensor& positions, const at::Tensor& allowed,
                                  LlamaKvCache* cache) {
  const int64_t B = h.size(0), T = h.size(1);
  const int64_t H = config_.heads, Hkv = config_.kv_heads, G = H / Hkv, hd = config_.head_dim;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  const float masked = std::numeric_limits<float>::lowest();
  const auto [cos_t, sin_t] = rotary(positions);          // [B, T, hd]
  const at::Tensor cos_q = cos_t.view({B, 1, 1, T, hd});  // q: [B, Hkv, G, T, hd]
  const at::Tensor sin_q = sin_t.view({B, 1, 1, T, hd});
  const at::Tensor cos_k = cos_t.view({B, 1, T, hd});  // k: [B, Hkv, T, hd]
  const at::Tensor sin_k = sin_t.view({B, 1, T, hd});
  const at::Tensor blocked = allowed.logical_not();  // [B, 1, 1, T, S]

  for (size_t li = 0; li < layers_.size(); ++li) {
    const Layer& L = layers_[li];
    // Attention.
    const at::Tensor x = rms_norm(h, L.attn_norm);
    const at::Tensor qkv = at::linear(x, L.qkv);  // [B, T, (H + 2 Hkv) hd]
    at::Tensor q = qkv.narrow(-1, 0, H * hd).view({B, T, Hkv, G, hd}).permute({0, 2, 3, 1, 4});
    at::Tensor k = qkv.narrow(-1, H * hd, Hkv * hd).view({B, T, Hkv, hd}).transpose(1, 2);
    at::Tensor v = qkv.narrow(-1, (H + Hkv) * hd, Hkv * hd).view({B, T, Hkv, hd}).transpose(1, 2);
    q = q * cos_q + rotate_half(q) * sin_q;
    k = k * cos_k + rotate_half(k) * sin_k;
    if (cache) std::tie(k, v) = cache->append(static_cast<int64_t>(li), k, v);
    const int64_t S = k.size(2);
    // In f32 even under bf16 autocast: float's lowest does not fit bf16 (masked_fill refuses it),
    // and −inf would turn a row with every key masked (left padding) into NaN.
    at::Tensor scores = at::matmul(q.reshape({B, Hkv, G * T, hd}), k.transpose(-1, -2)).to(at::kFloat) * scale;
    scores = scores.view({B, Hkv, G, T, S}).masked_fill(blocked, masked).softmax(-1);  // [B, Hkv, G, T, S]
    at::Tensor attn = at::matmul(scores.view({B, Hkv, G * T, S}), v);                  // [B, Hkv, G T, hd]
    attn = attn.view({B, Hkv, G, T, hd}).permute({0, 3, 1, 2, 4}).reshape({B, T, H * hd});
    h = h + at::linear(attn, L.out);
    // SwiGLU MLP.
    const at::Tensor gu = at::linear(rms_norm(h, L.mlp_norm), L.gate_up);  // [B, T, 2F]
    const int64_t F = config_.ffn;
    h = h + at::linear(at::silu(gu.narrow(-1, 0, F)) * gu.narrow(-1, F, F), L.down);
  }
  if (cache) cache->advance(T);
  return rms_norm(h, norm_);
}

at::Tensor LlamaModel::full_sequence(const at::Tensor& embeddings, const at::Tensor& attention_mask,
                                     const char* where) {
  check_inputs(embeddings, attention_mask, 0, where);
  const int64_t B = embeddings.size(0), T = embeddings.size(1);
  const auto dev = device();
  const at::Tensor mask = attention_mask.to(dev);
  const at::Tensor keys = mask.to(at::kBool);  // [B, S = T]
  const at::Tensor causal = at::ones({T, T}, at::TensorOptions().dtype(at::kBool).device(dev)).tril();
  const at::Tensor allowed = keys.view({B, 1, 1, 1, T}).logical_and(causal.view({1, 1, 1, T, T}));
  return run_layers(embeddings.to(dev, at::kFloat), positions_from_mask(mask), allowed, nullptr);
}

at::Tensor LlamaModel::forward(const at::Tensor& embeddings, const at::Tensor& attention_mask) {
  return at::linear(full_sequence(embeddings, attention_mask, "forward"), lm_head_);
}

at::Tensor LlamaModel::loss(const at::Tensor& embeddings, const at::Tensor& attention_mask, const at::Tensor& labels) {
  if (labels.dim() != 2 || labels.size(0) != embeddings.size(0) || labels.size(1) != embeddings.size(1)) {
    throw ShapeError({.what = "labels must match the embeddings' [B, T]",
                      .where = config_.name + " loss",
                      .expected = fmt::format("[{}, {}]", embeddings.size(0), embeddings.size(1)),
                      .got = weights::shape_str(labels.sizes().vec())});
  }
  const at::Tensor h = full_sequence(embeddings, attention_mask, "loss");  // [B, T, d]
  const int64_t T = embeddings.size(1);
  // Position t predicts token t + 1. The LM head (a third of a small model's forward, with a
  // 49k vocabulary) runs only on the positions that have a label: the same mean, less work.
  const at::Tensor targets = labels.to(h.device(), at::kLong).narrow(1, 1, T - 1).reshape({-1});  // [B (T-1)]
  const at::Tensor rows = targets.ne(-100).nonzero().squeeze(1);                                  // [N]
  const at::Tensor hidden = h.narrow(1, 0, T - 1).reshape({-1, config_.hidden}).index_select(0, rows);
  const at::Tensor logits = at::linear(hidden, lm_head_).to(at::kFloat);  // [N, V]; f32 under autocast too
  return at::cross_entropy_loss(logits, targets.index_select(0, rows), {}, at::Reduction::Mean, -100);
}

std::unique_ptr<KvCache> LlamaModel::new_cache(int64_t batch, int64_t capacity) {
  return std::make_unique<LlamaKvCache>(config_, batch, std::min(capacity, config_.context), device());
}

at::Tensor LlamaModel::decode(const at::Tensor& embeddings, const at::Tensor& attention_mask, KvCache& cache,
                              bool last_only) {
  at::NoGradGuard no_grad;
  auto* kv = dynamic_cast<LlamaKvCache*>(&cache);
  if (!kv) {
    throw UsageError({.what = "decode() got a KV cache another model made",
                      .where = config_.name,
                      .hint = "make the cache with this model's new_cache()"});
  }
  const int64_t past = kv->length();
  check_inputs(embeddings, attention_mask, past, "decode");
  if (kv->batch_size() != embeddings.size(0)) {
    throw ShapeError({.what = "the KV cache holds another batch size",
                      .where = config_.name + " decode",
                      .expected = fmt::format("{} rows", kv->batch_size()),
                      .got = fmt::format("{} rows", embeddings.size(0))});
  }
  // The fused step's matvecs stream the weights once per row: unbeatable for one sequence, but a
  // beam-search batch (16 images × 5 beams) is a matrix product, where LibTorch's GEMM wins.
  constexpr int64_t kFusedStepMaxRows = 4;
  if (embeddings.size(1) == 1 && fused_step_ && embeddings.size(0) <= kFusedStepMaxRows && device().is_cpu()) {
    return decode_step(embeddings, attention_mask, *kv);
  }
  const int64_t B = embeddings.size(0), T = embeddings.size(1), S = past + T;
  const auto dev = device();
  const at::Tensor mask = attention_mask.to(dev);
  const at::Tensor keys = mask.to(at::kBool);  // [B, S]
  // New position t (absolute past + t) sees keys s <= past + t.
  const at::Tensor causal = at::ones({T, S}, at::TensorOptions().dtype(at::kBool).device(dev)).tril(past);
  const at::Tensor allowed = keys.view({B, 1, 1, 1, S}).logical_and(causal.view({1, 1, 1, T, S}));
  const at::Tensor positions = positions_from_mask(mask).narrow(1, past, T);
  at::Tensor h = run_layers(embeddings.to(dev, at::kFloat), positions, allowed, kv);
  if (last_only) h = h.narrow(1, T - 1, 1);
  return at::linear(h, lm_head_);
}

}  // namespace xib::llama
