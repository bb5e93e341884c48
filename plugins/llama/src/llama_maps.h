// The LLaMA-family weight tables (data): transformers' and GGUF's names → our fused decoder
// parameters, the parameter table they fill, and llama.cpp's rotary row order of attn_q/attn_k.
//
// Our names (q, k, v fused into qkv and gate, up into gate_up: one matmul each):
//   embed.weight                       [V, d]
//   layers.{i}.attn_norm.weight        [d]
//   layers.{i}.attn.qkv.weight         [(H + 2·Hkv)·hd, d]   rows: q (H·hd), k (Hkv·hd), v (Hkv·hd)
//   layers.{i}.attn.out.weight         [d, H·hd]
//   layers.{i}.mlp_norm.weight         [d]
//   layers.{i}.mlp.gate_up.weight      [2·F, d]              rows: gate (F), up (F)
//   layers.{i}.mlp.down.weight         [d, F]
//   norm.weight                        [d]
//   lm_head.weight                     [V, d]                (absent when tied to embed.weight)
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "xib/weights/weight_map.h"

namespace xib::llama {

struct LlamaShape {
  int64_t layers = 0;
  int64_t hidden = 0;
  int64_t ffn = 0;
  int64_t vocab = 0;
  int64_t heads = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
  bool tied = false;  ///< lm_head shares embed.weight
};

/// transformers' LlamaForCausalLM: model.embed_tokens, model.layers.{i}.self_attn.q_proj, …,
/// model.norm, lm_head (skipped when tied). Expand with .layers.
weights::WeightMap hf_llama(bool tied);
/// GGUF (llama.cpp) names: token_embd, blk.{i}.attn_q, …, output_norm, output (absent when
/// tied). attn_q/attn_k rows are in llama.cpp's rotary order: the loader undoes that
/// permutation (unpermute_qk) on the records before applying this table.
weights::WeightMap gguf_llama(bool tied);
/// Our decoder's parameters (f32) for these sizes, in a stable order.
std::vector<weights::DestParam> llama_params(const LlamaShape& shape);

/// Undoes the row permutation llama.cpp's convert_hf_to_gguf.py applies to LLaMA attn_q / attn_k
/// weights (`permute(w, n_head, n_head_kv)`: reshape(n_head, 2, rows/n_head/2, cols)
/// .swapaxes(1, 2)), giving the Hugging Face row order back. Pass n_head for attn_q and
/// n_head_kv for attn_k. A bias ([rows]) is cols = 1. ShapeError unless rows is a multiple of
/// 2 * n_head and w.size() == rows * cols.
/** w: [rows, cols] row-major (GGUF order) → [rows, cols] (Hugging Face order) */
std::vector<float> unpermute_qk(std::span<const float> w, int64_t rows, int64_t cols, int64_t n_head);
/// The forward permutation (Hugging Face → GGUF), the inverse of unpermute_qk().
/** w: [rows, cols] → [rows, cols] */
std::vector<float> permute_qk(std::span<const float> w, int64_t rows, int64_t cols, int64_t n_head);

}  // namespace xib::llama
