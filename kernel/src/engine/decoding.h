// Internals shared by the generation loops (generate.cpp, beam_search.cpp): input checks and
// transformers' logits processors for generation from input embeddings.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "xib/generate.h"
#include "xib/tensor.h"

namespace xib::engine {

/// ShapeError unless embeddings are [B, T, d] and the mask [B, T]; `where` names the caller.
void check_inputs(const Tensor& embeddings, const Tensor& mask, int64_t d, const std::string& where);

/// ConfigError for invalid options (GenerateOptions::validate()).
void check_options(const GenerateOptions& options);

/// New tokens that fit: min(max_new_tokens, context − T); UsageError when T leaves no room.
int64_t room_for(const LanguageModel& model, int64_t prompt_positions, int64_t max_new_tokens);

/** Beam search (transformers' _beam_search) from embeddings [B, T, d] and mask [B, T]; options
    already validated, num_beams > 1. */
GenerateResult beam_search(LanguageModel& model, const Tensor& embeddings, const Tensor& attention_mask,
                           const GenerateOptions& options, const TokenCallback& on_token);

/// transformers' logits processors, in its order: repetition penalty → no-repeat-ngram → EOS
/// suppression before min_new_tokens; the sampling warpers temperature → top-k → top-p.
class LogitsProcessors {
 public:
  /** `prompt_mask` [N, T]: the mask of the N generating rows (after any expansion);
      `min_tokens_to_keep`: 1, or #EOS + 1 for beam sampling (transformers'). */
  LogitsProcessors(const GenerateOptions& options, std::vector<int64_t> eos, const Tensor& prompt_mask,
                   int64_t min_tokens_to_keep);
  /** generated ids [N, t] (int64, t tokens so far), scores [N, V] f32 → processed [N, V]. */
  Tensor process(const Tensor& generated, const Tensor& scores) const;
  /** scores [N, V] → [N, V] with −inf outside the sampling set (identity unless sampling). */
  Tensor warp(const Tensor& scores) const;

 private:
  GenerateOptions options_;
  std::vector<int64_t> eos_;
  std::vector<int64_t> skip_;  ///< per row: generated positions the repetition penalty ignores
  int64_t min_keep_;
};

}  // namespace xib::engine
