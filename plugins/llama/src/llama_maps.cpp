// LLaMA-family decoder tables: transformers' LlamaForCausalLM names and GGUF (llama.cpp) names →
// our fused decoder parameters (llama_maps.h), the parameter table they fill, and llama.cpp's
// attn_q/attn_k row order. Torch-free.
#include "llama_maps.h"

#include <fmt/format.h>

#include <cstring>
#include <string>

#include "xib/error.h"

namespace xib::llama {

using weights::DestParam;
using weights::Transform;
using weights::WeightMap;

namespace {

/// Upstream names of one family, in our order.
struct LlamaNames {
  const char* embed;
  const char* attn_norm;
  const char* q;
  const char* k;
  const char* v;
  const char* out;
  const char* mlp_norm;
  const char* gate;
  const char* up;
  const char* down;
  const char* norm;
  const char* lm_head;
};

constexpr LlamaNames kHf = {
    "model.embed_tokens.weight",
    "model.layers.{i}.input_layernorm.weight",
    "model.layers.{i}.self_attn.q_proj.weight",
    "model.layers.{i}.self_attn.k_proj.weight",
    "model.layers.{i}.self_attn.v_proj.weight",
    "model.layers.{i}.self_attn.o_proj.weight",
    "model.layers.{i}.post_attention_layernorm.weight",
    "model.layers.{i}.mlp.gate_proj.weight",
    "model.layers.{i}.mlp.up_proj.weight",
    "model.layers.{i}.mlp.down_proj.weight",
    "model.norm.weight",
    "lm_head.weight",
};

constexpr LlamaNames kGguf = {
    "token_embd.weight",     "blk.{i}.attn_norm.weight",   "blk.{i}.attn_q.weight",   "blk.{i}.attn_k.weight",
    "blk.{i}.attn_v.weight", "blk.{i}.attn_output.weight", "blk.{i}.ffn_norm.weight", "blk.{i}.ffn_gate.weight",
    "blk.{i}.ffn_up.weight", "blk.{i}.ffn_down.weight",    "output_norm.weight",      "output.weight",
};

WeightMap llama_map(std::string name, const LlamaNames& n, bool tied) {
  WeightMap map{.name = std::move(name)};
  auto one = [&](const char* from, const char* to) { map.entries.push_back({.from = {from}, .to = to}); };
  one(n.embed, "embed.weight");
  one(n.attn_norm, "layers.{i}.attn_norm.weight");
  map.entries.push_back(
      {.from = {n.q, n.k, n.v}, .to = "layers.{i}.attn.qkv.weight", .transform = Transform::concat(0)});
  one(n.out, "layers.{i}.attn.out.weight");
  one(n.mlp_norm, "layers.{i}.mlp_norm.weight");
  map.entries.push_back(
      {.from = {n.gate, n.up}, .to = "layers.{i}.mlp.gate_up.weight", .transform = Transform::concat(0)});
  one(n.down, "layers.{i}.mlp.down.weight");
  one(n.norm, "norm.weight");
  if (tied) {
    map.skips.push_back({.pattern = n.lm_head, .reason = "tied to the token embeddings (tie_word_embeddings)"});
  } else {
    one(n.lm_head, "lm_head.weight");
  }
  return map;
}

}  // namespace

WeightMap hf_llama(bool tied) {
  WeightMap map = llama_map("transformers llama", kHf, tied);
  map.skips.push_back(
      {.pattern = "model.layers.*.self_attn.rotary_emb.inv_freq", .reason = "a buffer computed from rope_theta"});
  return map;
}

WeightMap gguf_llama(bool tied) {
  WeightMap map = llama_map("gguf llama", kGguf, tied);
  map.skips.push_back({.pattern = "rope_freqs.weight",
                       .reason = "llama3 rope frequency divisors, applied by the model, not a parameter"});
  return map;
}

std::vector<DestParam> llama_params(const LlamaShape& s) {
  std::vector<DestParam> out;
  auto add = [&](std::string name, std::vector<int64_t> shape) {
    out.push_back({.name = std::move(name), .shape = std::move(shape)});
  };
  const int64_t d = s.hidden;
  const int64_t q = s.heads * s.head_dim;
  const int64_t kv = s.kv_heads * s.head_dim;
  add("embed.weight", {s.vocab, d});
  for (int64_t i = 0; i < s.layers; ++i) {
    const std::string l = "layers." + std::to_string(i) + ".";
    add(l + "attn_norm.weight", {d});
    add(l + "attn.qkv.weight", {q + 2 * kv, d});
    add(l + "attn.out.weight", {d, q});
    add(l + "mlp_norm.weight", {d});
    add(l + "mlp.gate_up.weight", {2 * s.ffn, d});
    add(l + "mlp.down.weight", {d, s.ffn});
  }
  add("norm.weight", {d});
  if (!s.tied) add("lm_head.weight", {s.vocab, d});
  return out;
}

// ---------------------------------------------------------------------------------------------
// Q/K permutation. convert_hf_to_gguf.py's permute(w, n_head, n_head_kv):
//   w.reshape(n_head, 2, rows / n_head / 2, *rest).swapaxes(1, 2).reshape(w.shape)
// so GGUF row (h, d, t) holds Hugging Face row (h, t, d), with h < n_head, t < 2, d < rows/n_head/2.

namespace {

/// `to_hf`: GGUF → Hugging Face (unpermute); else Hugging Face → GGUF.
std::vector<float> permute_rows(std::span<const float> w, int64_t rows, int64_t cols, int64_t n_head, bool to_hf) {
  const char* fn = to_hf ? "unpermute_qk" : "permute_qk";
  if (n_head <= 0 || rows <= 0 || cols <= 0 || rows % (2 * n_head) != 0)
    throw ShapeError({.what = fmt::format("{}: rows must be a positive multiple of 2 * n_head", fn),
                      .where = fn,
                      .expected = fmt::format("rows % (2 * {}) == 0, cols > 0", n_head),
                      .got = fmt::format("rows {}, cols {}, n_head {}", rows, cols, n_head),
                      .hint = "pass n_head for attn_q and n_head_kv for attn_k"});
  if (static_cast<uint64_t>(rows) * static_cast<uint64_t>(cols) != w.size())
    throw ShapeError({.what = fmt::format("{}: buffer size does not match [rows, cols]", fn),
                      .where = fn,
                      .expected = fmt::format("{} values ([{}, {}])", rows * cols, rows, cols),
                      .got = fmt::format("{} values", w.size())});
  const int64_t half = rows / n_head / 2;
  std::vector<float> out(w.size());
  const auto row_bytes = static_cast<size_t>(cols) * sizeof(float);
  for (int64_t h = 0; h < n_head; ++h)
    for (int64_t t = 0; t < 2; ++t)
      for (int64_t d = 0; d < half; ++d) {
        const int64_t hf = h * 2 * half + t * half + d;
        const int64_t gg = h * 2 * half + d * 2 + t;
        const int64_t from = to_hf ? gg : hf, to = to_hf ? hf : gg;
        std::memcpy(out.data() + to * cols, w.data() + from * cols, row_bytes);
      }
  return out;
}

}  // namespace

std::vector<float> unpermute_qk(std::span<const float> w, int64_t rows, int64_t cols, int64_t n_head) {
  return permute_rows(w, rows, cols, n_head, true);
}

std::vector<float> permute_qk(std::span<const float> w, int64_t rows, int64_t cols, int64_t n_head) {
  return permute_rows(w, rows, cols, n_head, false);
}

}  // namespace xib::llama
