// LanguageModel: the frozen LLM (LLaMA family: Vicuna upstream, SmolLM2 for the embedded
// default). The aligners' outputs enter it as input embeddings; its weights never train.
//
//   auto lm = Registry::global().create<LanguageModel>("llama", {.options = section});
//   Tensor e = lm->embed(ids);                          // [B, T] → [B, T, d]
//   Tensor logits = lm->forward(e, mask);               // [B, T, V]
//   auto cache = lm->new_cache(B, T + 32);              // incremental decoding
//   Tensor last = lm->decode(e, mask, *cache, true);    // [B, 1, V]; cache now holds T positions
//
// Padding: attention masks are [B, T] with 1 = token, 0 = padding, left or right. Position ids
// come from the mask (cumulative sum − 1, as transformers' generate computes them), so a
// left-padded row sees the same positions as the unpadded one.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "xib/tensor.h"

namespace xib {

class Tokenizer;

/// Keys and values of the positions a model has already seen, for incremental decoding. Made
/// by LanguageModel::new_cache(); only that model can use it.
class KvCache {
 public:
  virtual ~KvCache() = default;
  /// Positions held per row (padding included; every row holds the same number).
  virtual int64_t length() const = 0;
  virtual int64_t batch_size() const = 0;
  /** Keep rows `rows` ([B'] int64, repeats allowed) in that order: beam search reorders. */
  virtual void select_rows(const Tensor& rows) = 0;
};

/// One turn of a conversation, for chat templates.
struct ChatMessage {
  std::string role = {};  ///< "system", "user", "assistant"
  std::string content = {};
};

class LanguageModel {
 public:
  static constexpr const char* kKind = "language_model";
  virtual ~LanguageModel() = default;

  /// Model name from its metadata ("SmolLM2-135M-Instruct").
  virtual std::string name() const = 0;
  /// d_llm: width of the input embeddings.
  virtual int64_t hidden_size() const = 0;
  /// Number of rows of the output logits.
  virtual int64_t vocab_size() const = 0;
  /// Longest sequence (prompt + generated) the model accepts.
  virtual int64_t context_length() const = 0;
  /// The model's own tokenizer (lives as long as the model). NotFoundError when the model was
  /// loaded without one.
  virtual const Tokenizer& tokenizer() const = 0;

  /// Special ids from the model's configuration (generation_config.json or GGUF metadata).
  virtual std::optional<int64_t> bos_id() const = 0;
  /// Every id that ends generation (several for some instruct models), possibly empty.
  virtual std::vector<int64_t> eos_ids() const = 0;
  virtual std::optional<int64_t> pad_id() const = 0;

  /// The prompt for `messages` in the model's chat template, ending with the assistant's turn
  /// opened when `add_generation_prompt`. NotFoundError when the model has no template.
  virtual std::string apply_chat_template(const std::vector<ChatMessage>& messages,
                                          bool add_generation_prompt) const = 0;

  /** ids [B, T] int64 → [B, T, d_llm] embeddings (f32). */
  virtual Tensor embed(const Tensor& ids) = 0;
  /** embeddings [B, T, d_llm], attention mask [B, T] (1 = token, 0 = padding) → logits [B, T, V].
      Records gradients into `embeddings` when grad mode is on. */
  virtual Tensor forward(const Tensor& embeddings, const Tensor& attention_mask) = 0;
  /** Masked LM loss, mean over labels != -100 (labels [B, T] int64, shifted inside) → scalar.
      The gradient flows back into `embeddings`. */
  virtual Tensor loss(const Tensor& embeddings, const Tensor& attention_mask, const Tensor& labels) = 0;

  /// An empty cache for `batch` rows; `capacity` positions are reserved (it grows if needed).
  virtual std::unique_ptr<KvCache> new_cache(int64_t batch, int64_t capacity) = 0;
  /** Incremental forward without gradients: embeddings [B, T_new, d_llm] of the positions after
      the cache's, attention_mask [B, T_past + T_new] (the whole sequence so far) → logits
      [B, T_new, V], or [B, 1, V] (the last position only) when `last_only`. Appends T_new
      positions to `cache`. ShapeError past context_length(). */
  virtual Tensor decode(const Tensor& embeddings, const Tensor& attention_mask, KvCache& cache, bool last_only) = 0;

  /// Moves the weights onto `device`; embed(), forward(), loss(), decode() and new caches then
  /// work there (inputs on another device are moved in). The default runs on the CPU only: it
  /// accepts the CPU and refuses any other device with a UsageError.
  virtual void to(const c10::Device& device);
  /// Where the weights are.
  virtual c10::Device device() const;
};

/// The name of the only registered LanguageModel, the default wherever a language model is not
/// named (a recipe's model.llm without plugin:, `xib generate` without --plugin). NotFoundError
/// when none is loaded, ConfigError listing them when several are; `where` names the setting that
/// would choose one.
std::string only_language_model(const std::string& where);

}  // namespace xib
