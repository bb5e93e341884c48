// LanguageModel: the frozen LLM (LLaMA family: Vicuna upstream, SmolLM2 for the embedded
// default). The aligners' outputs enter it as input embeddings; its weights never train.
#pragma once

#include <cstdint>
#include <string>

#include "xib/tensor.h"

namespace xib {

class Tokenizer;

class LanguageModel {
 public:
  static constexpr const char* kKind = "language_model";
  virtual ~LanguageModel() = default;

  /// Model name from its metadata ("SmolLM2-135M-Instruct").
  virtual std::string name() const = 0;
  /// d_llm: width of the input embeddings.
  virtual int64_t hidden_size() const = 0;
  /// Longest sequence (prompt + generated) the model accepts.
  virtual int64_t context_length() const = 0;
  /// The model's own tokenizer (lives as long as the model).
  virtual const Tokenizer& tokenizer() const = 0;

  /** ids [B, T] int64 → [B, T, d_llm] embeddings. */
  virtual Tensor embed(const Tensor& ids) = 0;
  /** embeddings [B, T, d_llm], attention mask [B, T] (1 = token, 0 = padding) → logits [B, T, V]. */
  virtual Tensor forward(const Tensor& embeddings, const Tensor& attention_mask) = 0;
  /** Masked LM loss, mean over labels != -100 (labels [B, T] int64, shifted inside) → scalar.
      The gradient flows back into `embeddings`. */
  virtual Tensor loss(const Tensor& embeddings, const Tensor& attention_mask, const Tensor& labels) = 0;
};

}  // namespace xib
