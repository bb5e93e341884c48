// The LLaMA decoder in f32 (on the CPU, or another device after to()): RMSNorm, rotary
// embeddings (default, linear, llama3), grouped-query attention, SwiGLU MLP, tied or untied
// lm_head. Internal to the plugin (it includes LibTorch); the kernel sees it as a LanguageModel.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "llama_config.h"
#include "packed_linear.h"
#include "xib/language_model.h"
#include "xib/tokenizer.h"

namespace xib::io {
class GgufFile;
}

namespace xib::llama {

/// Per-layer keys and values: [B, Hkv, capacity, hd] each, the first length() positions valid.
class LlamaKvCache final : public KvCache {
 public:
  /// On `device` (the model's).
  LlamaKvCache(const LlamaConfig& config, int64_t batch, int64_t capacity, const c10::Device& device);
  int64_t length() const override { return length_; }
  int64_t batch_size() const override { return batch_; }
  void select_rows(const at::Tensor& rows) override;

  /** Appends k, v [B, Hkv, T, hd] of `layer`; returns the keys and values of every position so
      far, [B, Hkv, length + T, hd] each. */
  std::pair<at::Tensor, at::Tensor> append(int64_t layer, const at::Tensor& k, const at::Tensor& v);
  /// Called once every layer appended T positions.
  void advance(int64_t t) { length_ += t; }
  /// Room for `needed` positions (grows, keeping the cached ones).
  void reserve(int64_t needed) {
    if (needed > capacity()) grow(needed);
  }
  int64_t capacity() const { return k_.front().size(2); }
  /** layer's keys / values, [B, Hkv, capacity, hd] contiguous f32 */
  float* keys(int64_t layer) { return k_[layer].data_ptr<float>(); }
  float* values(int64_t layer) { return v_[layer].data_ptr<float>(); }

 private:
  void grow(int64_t needed);
  std::vector<at::Tensor> k_, v_;
  int64_t batch_ = 0;
  int64_t length_ = 0;
};

class LlamaModel final : public LanguageModel {
 public:
  /// Parameters are allocated (uninitialised, f32) from `config`; load them with
  /// params() and the weight maps (llama_load.h).
  explicit LlamaModel(LlamaConfig config);

  std::string name() const override { return config_.name; }
  int64_t hidden_size() const override { return config_.hidden; }
  int64_t vocab_size() const override { return config_.vocab; }
  int64_t context_length() const override { return config_.context; }
  const Tokenizer& tokenizer() const override;
  std::optional<int64_t> bos_id() const override { return config_.bos; }
  std::vector<int64_t> eos_ids() const override { return config_.eos; }
  std::optional<int64_t> pad_id() const override { return config_.pad; }
  std::string apply_chat_template(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const override;

  at::Tensor embed(const at::Tensor& ids) override;
  at::Tensor forward(const at::Tensor& embeddings, const at::Tensor& attention_mask) override;
  at::Tensor loss(const at::Tensor& embeddings, const at::Tensor& attention_mask, const at::Tensor& labels) override;
  std::unique_ptr<KvCache> new_cache(int64_t batch, int64_t capacity) override;
  at::Tensor decode(const at::Tensor& embeddings, const at::Tensor& attention_mask, KvCache& cache,
                    bool last_only) override;
  /// Moves every weight; off the CPU (and back) decoding runs as LibTorch ops, since the fused
  /// step reads CPU buffers and the GGUF blocks are dropped.
  void to(const c10::Device& device) override;
  c10::Device device() const override { return embed_.defined() ? embed_.device() : c10::Device(c10::kCPU); }

  const LlamaConfig& config() const { return config_; }
  /// Our parameter names (llama_maps.h) → tensors, for loading.
  std::map<std::string, at::Tensor>& params() { return params_; }
  /// Call after loading: caches per-layer views of the parameters.
  void finish_loading();

  /// Sets the tokenizer and the chat template (a Jinja text; ChatML is recognised).
  void set_tokenizer(std::unique_ptr<Tokenizer> tokenizer) { tokenizer_ = std::move(tokenizer); }
  void set_chat_template(std::string text) { chat_template_ = std::move(text); }
  /// The chat_template option: auto (from the template / model name), vicuna_v1.1, chatml, none.
  void set_chat_template_option(std::string option) { chat_template_option_ = std::move(option); }
  /// How decode() runs a single new position: "auto" (the fused C++ step, with a GGUF's
  /// Q4_0/Q4_1/Q8_0 blocks once use_gguf_blocks() ran), "f32" (the fused step on the f32
  /// parameters), "torch" (LibTorch ops, the prefill's path). Prefill always runs on LibTorch.
  void set_decode_mode(const std::string& mode);
  /// Keeps the GGUF's quantised blocks for the decode step wherever it has Q4_0/Q4_1/Q8_0
  /// (lossless: the same weight values as the f32 parameters). `file` may close afterwards.
  void use_gguf_blocks(const io::GgufFile& file);
  /// The decode step's weights: "fused step, q4_1+q8_0, 97 MB read per token (AVX2)".
  std::string decode_summary() const;
  /// GGUF rope_freqs ([hd / 2] divisors of the default frequencies, llama3 GGUFs).
  void set_rope_factors(const std::vector<float>& factors);

 private:
  struct Layer {
    at::Tensor attn_norm, qkv, out, mlp_norm, gate_up, down;
  };
  /// The decode step's matrices of one layer (f32 borrowed from Layer, or GGUF blocks).
  struct StepLayer {
    PackedLinear qkv, out, gate_up, down;
  };
  /** one new position per row: embeddings [B, 1, d], mask [B, S] → logits [B, 1, V]
      (llama_decode_step.cpp) */
  at::Tensor decode_step(const at::Tensor& embeddings, const at::Tensor& attention_mask, LlamaKvCache& cache);
  /// The decode step's matrices borrowed from the f32 parameters.
  void borrow_step_weights();
  /// layers_, embed_, norm_, lm_head_ as views of params_.
  void bind_parameters();
  /** a whole sequence without cache: embeddings [B, T, d], mask [B, T] → final hidden [B, T, d] */
  at::Tensor full_sequence(const at::Tensor& embeddings, const at::Tensor& attention_mask, const char* where);
  /** embeddings [B, T, d], positions [B, T] int64, additive mask [B, 1, 1, T, S] → hidden [B, T, d] */
  at::Tensor run_layers(at::Tensor h, const at::Tensor& positions, const at::Tensor& mask, LlamaKvCache* cache);
  at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight) const;
  /** positions [B, T] → cos, sin [B, 1, T, hd] */
  std::pair<at::Tensor, at::Tensor> rotary(const at::Tensor& positions) const;
  void check_inputs(const at::Tensor& embeddings, const at::Tensor& mask, int64_t past, const char* where) const;

  LlamaConfig config_;
  std::map<std::string, at::Tensor> params_;
  std::vector<Layer> layers_;
  at::Tensor embed_, norm_, lm_head_;
  at::Tensor inv_freq_;  // [hd / 2]
  std::vector<StepLayer> step_;
  PackedLinear step_head_;
  bool fused_step_ = true;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::string chat_template_;
  std::string chat_template_option_ = "auto";
};

/** attention mask [B, S] (1 token, 0 padding) → position ids [B, S]: cumsum − 1, padding 1 */
at::Tensor positions_from_mask(const at::Tensor& mask);
/** rotary inverse frequencies [hd / 2] for a config (rope type and factors applied) */
at::Tensor rope_inv_freq(const LlamaConfig& config);

}  // namespace xib::llama
