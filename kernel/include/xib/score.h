// Scoring candidate continuations on any LanguageModel: the log-likelihood of each candidate's
// tokens after a prompt given as input embeddings — closed-set classification ranks candidates
// by summed NLL (SPEC "Evaluation"; candidates are tokenized without BOS or EOS).
//
//   auto s = score_shared_candidates(lm, prompt_embeds, prompt_mask, {{450, 11}, {450, 12, 13}});
//   s[b][c].sum          → log p(candidate c | prompt b), summed over its tokens
//   rank_by_nll(s[b])    → candidate indices, most likely first
//
// How: one prefill of the B prompts through the KV cache, whose rows are then repeated per
// candidate (KvCache::select_rows); all candidates of all rows go through the model as one
// right-padded batch. The prompt is computed once, whatever the number of candidates.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "xib/tensor.h"

namespace xib {

class LanguageModel;

struct CandidateScore {
  std::vector<double> token_logprobs = {};  ///< log p(token k | prompt, tokens < k), one per token
  double sum = 0;                           ///< log-likelihood; the NLL is −sum
  double mean = 0;                          ///< sum / number of tokens
};

/** Prompt embeddings [B, T, d_llm] with mask [B, T] (left padding), candidates[b] the candidate
    token ids of row b (each non-empty) → scores[b][c]. ShapeError for mismatched shapes,
    UsageError for an empty candidate, an id outside the vocabulary or a sequence past the
    model's context. */
std::vector<std::vector<CandidateScore>> score_candidates(
    LanguageModel& model, const Tensor& prompt_embeddings, const Tensor& prompt_mask,
    const std::vector<std::vector<std::vector<int64_t>>>& candidates);

/** The same candidates after every prompt row: [B, T, d_llm], [B, T] → scores[b][c]. */
std::vector<std::vector<CandidateScore>> score_shared_candidates(LanguageModel& model, const Tensor& prompt_embeddings,
                                                                 const Tensor& prompt_mask,
                                                                 const std::vector<std::vector<int64_t>>& candidates);

/// From text with the model's tokenizer: the prompt as it is (BOS first when `add_bos`), each
/// candidate without BOS or EOS → one score per candidate.
std::vector<CandidateScore> score_texts(LanguageModel& model, const std::string& prompt,
                                        const std::vector<std::string>& candidates, bool add_bos = false);

/// Candidate indices by summed NLL, lowest (most likely) first; ties keep their order.
std::vector<size_t> rank_by_nll(const std::vector<CandidateScore>& scores);

}  // namespace xib
