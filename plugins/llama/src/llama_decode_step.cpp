// The one-new-position decode step as plain C++ over raw buffers: per layer RMSNorm, one fused
// qkv matvec, rotary embedding, the new key/value written in place into the preallocated KV
// cache, attention over the cached positions, the out matvec, RMSNorm, one fused gate_up matvec,
// SwiGLU, the down matvec; then the final norm and the lm_head matvec. The matvecs read the
// weights in their stored format (packed_linear.h). Same arithmetic as run_layers() up to the
// summation order; the LibTorch op path costs ~40 small ops per layer, which dominate a
// 135M-parameter model's step.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "llama_maps.h"
#include "llama_model.h"
#include "xib/config.h"
#include "xib/error.h"
#include "xib/io/gguf.h"

namespace xib::llama {

namespace {

/** x [d] → out [d]: w · x / sqrt(mean(x²) + eps) */
void rms_norm_row(const float* x, const float* w, float* out, int64_t d, float eps) {
  float ss = 0;
  for (int64_t i = 0; i < d; ++i) ss += x[i] * x[i];
  const float r = 1.0f / std::sqrt(ss / static_cast<float>(d) + eps);
  for (int64_t i = 0; i < d; ++i) out[i] = w[i] * (x[i] * r);
}

/** heads × [hd] in place: (x1, x2) → (x1 cos − x2 sin, x2 cos + x1 sin), cos/sin [hd / 2] */
void rope_rows(float* x, int64_t heads, int64_t hd, const float* cos, const float* sin) {
  const int64_t half = hd / 2;
  for (int64_t h = 0; h < heads; ++h, x += hd) {
    for (int64_t i = 0; i < half; ++i) {
      const float a = x[i], b = x[i + half];
      x[i] = a * cos[i] - b * sin[i];
      x[i + half] = b * cos[i] + a * sin[i];
    }
  }
}

PackedLinear borrow(const at::Tensor& w) {
  return {.parts = {PackedMatrix::borrow_f32(w.data_ptr<float>(), w.size(0), w.size(1))}};
}

}  // namespace

void LlamaModel::borrow_step_weights() {
  step_.clear();
  for (const Layer& L : layers_) {
    step_.push_back({.qkv = borrow(L.qkv), .out = borrow(L.out), .gate_up = borrow(L.gate_up), .down = borrow(L.down)});
  }
  step_head_ = borrow(lm_head_);
}

void LlamaModel::set_decode_mode(const std::string& mode) {
  static const std::vector<std::string> kModes = {"auto", "f32", "torch"};
  if (std::find(kModes.begin(), kModes.end(), mode) == kModes.end()) {
    const auto near = nearest_name(mode, kModes);
    throw ConfigError({.what = "unknown decode mode '" + mode + "'",
                       .where = config_.name,
                       .expected = join_names(kModes),
                       .got = mode,
                       .hint = near ? fmt::format("did you mean '{}'?", *near) : std::string()});
  }
  fused_step_ = mode != "torch";
  if (mode == "f32") borrow_step_weights();
}

void LlamaModel::use_gguf_blocks(const io::GgufFile& f) {
  // Output rows in Hugging Face order: attn_q / attn_k rows are stored rotary-permuted
  // (unpermute_qk), so the packed rows are taken in the order unpermute_qk gives.
  const auto hf_order = [](int64_t rows, int64_t heads) {
    std::vector<float> index(static_cast<size_t>(rows));
    std::iota(index.begin(), index.end(), 0.0f);
    const std::vector<float> moved = unpermute_qk(index, rows, 1, heads);
    return std::vector<int64_t>(moved.begin(), moved.end());
  };
  // The blocks of `names` (row-concatenated) replace `target` only when every part has them.
  const auto pack = [&](const std::vector<std::string>& names, const std::vector<int64_t>& heads,
                        PackedLinear& target) {
    PackedLinear packed;
    for (size_t i = 0; i < names.size(); ++i) {
      const io::GgufTensorInfo* t = f.find_tensor(names[i]);
      if (!t || t->dims.size() != 2) return;
      const int64_t rows = t->dims[1], cols = t->dims[0];
      const std::vector<int64_t> order = heads[i] > 0 ? hf_order(rows, heads[i]) : std::vector<int64_t>{};
      PackedMatrix m;
      if (!PackedMatrix::from_ggml(static_cast<uint32_t>(t->type), t->data, rows, cols, order, m)) return;
      packed.parts.push_back(std::move(m));
    }
    if (packed.rows() == target.rows() && packed.cols() == target.cols()) target = std::move(packed);
  };
  for (size_t i = 0; i < step_.size(); ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    pack({b + "attn_q.weight", b + "attn_k.weight", b + "attn_v.weight"}, {config_.heads, config_.kv_heads, 0},
         step_[i].qkv);
    pack({b + "attn_output.weight"}, {0}, step_[i].out);
    pack({b + "ffn_gate.weight", b + "ffn_up.weight"}, {0, 0}, step_[i].gate_up);
    pack({b + "ffn_down.weight"}, {0}, step_[i].down);
  }
  pack({config_.tied ? "token_embd.weight" : "output.weight"}, {0}, step_head_);
}

std::string LlamaModel::decode_summary() const {
  if (!fused_step_) return "LibTorch ops (f32)";
  size_t bytes = step_head_.bytes();
  std::vector<std::string> formats;
  const auto note = [&](const PackedLinear& l) {
    const std::string f = l.format();
    if (std::find(formats.begin(), formats.end(), f) == formats.end()) formats.push_back(f);
  };
  for (const auto& l : step_) {
    bytes += l.qkv.bytes() + l.out.bytes() + l.gate_up.bytes() + l.down.bytes();
    for (const auto* p : {&l.qkv, &l.out, &l.gate_up, &l.down}) note(*p);
  }
  note(step_head_);
  return fmt::format("fused step, weights {} (lm_head {}), {:.0f} MB read per token ({})", fmt::join(formats, "/"),
                     step_head_.format(), static_cast<double>(bytes) / 1e6,
                     packed_kernels_use_avx2() ? "AVX2/FMA" : "plain C++");
}

at::Tensor LlamaModel::decode_step(const at::Tensor& embeddings, const at::Tensor& attention_mask,
                                   LlamaKvCache& cache) {
  const int64_t B = embeddings.size(0), d = config_.hidden, H = config_.heads, Hkv = config_.kv_heads;
  const int64_t G = H / Hkv, hd = config_.head_dim, F = config_.ffn, half = hd / 2;
  const int64_t past = cache.length(), S = past + 1, nq = (H + 2 * Hkv) * hd;
  cache.reserve(S);
  const int64_t cap = cache.capacity();
  const auto eps = static_cast<float>(config_.rms_eps);
  const auto scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));

  const at::Tensor e = embeddings.to(at::kFloat).contiguous();
  const at::Tensor m = attention_mask.to(at::kLong).contiguous();
  const int64_t* mask = m.data_ptr<int64_t>();
  std::vector<float> h(e.data_ptr<float>(), e.data_ptr<float>() + B * d);
  std::vector<float> x(B * d), qkv(B * nq), attn(B * H * hd), gu(B * 2 * F), act(B * F), tmp(B * d);
  // Rotary angles of each row's new position (positions_from_mask: cumsum − 1, padding 1).
  std::vector<float> cos(B * half), sin(B * half);
  const float* inv_freq = inv_freq_.data_ptr<float>();
  for (int64_t b = 0; b < B; ++b) {
    const int64_t* row = mask + b * S;
    const int64_t pos = row[past] != 0 ? std::count_if(row, row + S, [](int64_t v) { return v != 0; }) - 1 : 1;
    for (int64_t i = 0; i < half; ++i) {
      const float angle = static_cast<float>(pos) * inv_freq[i];
      cos[b * half + i] = std::cos(angle);
      sin[b * half + i] = std::sin(angle);
    }
  }

  for (size_t li = 0; li < step_.size(); ++li) {
    const StepLayer& L = step_[li];
    const float* attn_norm = layers_[li].attn_norm.data_ptr<float>();
    const float* mlp_norm = layers_[li].mlp_norm.data_ptr<float>();
    for (int64_t b = 0; b < B; ++b) rms_norm_row(&h[b * d], attn_norm, &x[b * d], d, eps);
    L.qkv.matvec(x.data(), B, qkv.data());
    float* K = cache.keys(static_cast<int64_t>(li));
    float* V = cache.values(static_cast<int64_t>(li));
    for (int64_t b = 0; b < B; ++b) {
      float* q = &qkv[b * nq];
      rope_rows(q, H + Hkv, hd, &cos[b * half], &sin[b * half]);  // q heads, then k heads
      for (int64_t g = 0; g < Hkv; ++g) {
        const int64_t at = ((b * Hkv + g) * cap + past) * hd;
        std::copy_n(q + (H + g) * hd, hd, K + at);
        std::copy_n(q + (H + Hkv + g) * hd, hd, V + at);
      }
    }
    // Attention: one task per (row, query head) over the row's unmasked cached positions.
    at::parallel_for(0, B * H, 1, [&](int64_t t0, int64_t t1) {
      std::vector<float> p(S);
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t b = t / H, head = t % H, g = head / G;
        const int64_t* row = mask + b * S;
        const float* q = &qkv[b * nq + head * hd];
        const float* Kg = K + (b * Hkv + g) * cap * hd;
        const float* Vg = V + (b * Hkv + g) * cap * hd;
        const bool any = std::any_of(row, row + S, [](int64_t v) { return v != 0; });
        float top = -std::numeric_limits<float>::infinity();
        for (int64_t s = 0; s < S; ++s) {
          // A row with every key masked attends uniformly (softmax of equal scores), as run_layers.
          p[s] = !any          ? 0.0f
                 : row[s] != 0 ? dot_f32(q, Kg + s * hd, hd) * scale
                               : -std::numeric_limits<float>::infinity();
          top = std::max(top, p[s]);
        }
        float sum = 0;
        for (int64_t s = 0; s < S; ++s) sum += (p[s] = std::exp(p[s] - top));
        float* out = &attn[(b * H + head) * hd];
        std::fill_n(out, hd, 0.0f);
        for (int64_t s = 0; s < S; ++s)
          if (p[s] != 0.0f) axpy_f32(p[s] / sum, Vg + s * hd, out, hd);
      }
    });
    L.out.matvec(attn.data(), B, tmp.data());
    for (int64_t i = 0; i < B * d; ++i) h[i] += tmp[i];
    // SwiGLU MLP.
    for (int64_t b = 0; b < B; ++b) rms_norm_row(&h[b * d], mlp_norm, &x[b * d], d, eps);
    L.gate_up.matvec(x.data(), B, gu.data());
    for (int64_t b = 0; b < B; ++b) {
      const float* g = &gu[b * 2 * F];
      for (int64_t i = 0; i < F; ++i) act[b * F + i] = g[i] / (1.0f + std::exp(-g[i])) * g[F + i];
    }
    L.down.matvec(act.data(), B, tmp.data());
    for (int64_t i = 0; i < B * d; ++i) h[i] += tmp[i];
  }
  cache.advance(1);
  const float* norm = norm_.data_ptr<float>();
  for (int64_t b = 0; b < B; ++b) rms_norm_row(&h[b * d], norm, &x[b * d], d, eps);
  at::Tensor logits = at::empty({B, 1, config_.vocab}, at::kFloat);
  step_head_.matvec(x.data(), B, logits.data_ptr<float>());
  return logits;
}

}  // namespace xib::llama
