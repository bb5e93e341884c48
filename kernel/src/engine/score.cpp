// Candidate scoring: prompt once through the KV cache, its rows repeated per candidate, then
// every candidate of every row as one right-padded batch (see xib/score.h).
#include "xib/score.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <numeric>

#include "decoding.h"
#include "xib/error.h"
#include "xib/language_model.h"
#include "xib/tokenizer.h"

namespace xib {

std::vector<std::vector<CandidateScore>> score_candidates(
    LanguageModel& model, const at::Tensor& prompt_embeddings, const at::Tensor& prompt_mask,
    const std::vector<std::vector<std::vector<int64_t>>>& candidates) {
  at::NoGradGuard no_grad;
  engine::check_inputs(prompt_embeddings, prompt_mask, model.hidden_size(), "score_candidates");
  const int64_t batch = prompt_embeddings.size(0);
  const int64_t prompt = prompt_embeddings.size(1);
  if (static_cast<int64_t>(candidates.size()) != batch) {
    throw ShapeError({.what = "one list of candidates per prompt row is needed",
                      .where = "score_candidates",
                      .expected = fmt::format("{} lists", batch),
                      .got = fmt::format("{}", candidates.size())});
  }
  // Flatten: candidate m belongs to row row_of[m].
  std::vector<int64_t> row_of;
  std::vector<const std::vector<int64_t>*> flat;
  int64_t longest = 0;
  const int64_t vocab = model.vocab_size();
  for (int64_t b = 0; b < batch; ++b) {
    for (size_t c = 0; c < candidates[b].size(); ++c) {
      const auto& cand = candidates[b][c];
      if (cand.empty()) {
        throw UsageError({.what = "an empty candidate cannot be scored",
                          .where = fmt::format("row {}, candidate {}", b, c),
                          .hint = "every candidate needs at least one token"});
      }
      for (const int64_t id : cand) {
        if (id < 0 || id >= vocab) {
          throw UsageError({.what = fmt::format("token id {} is outside the vocabulary", id),
                            .where = fmt::format("row {}, candidate {}", b, c),
                            .expected = fmt::format("0 … {}", vocab - 1),
                            .got = fmt::format("{}", id)});
        }
      }
      row_of.push_back(b);
      flat.push_back(&cand);
      longest = std::max<int64_t>(longest, static_cast<int64_t>(cand.size()));
    }
  }
  std::vector<std::vector<CandidateScore>> out(batch);
  for (int64_t b = 0; b < batch; ++b) out[b].resize(candidates[b].size());
  if (flat.empty()) return out;
  if (prompt + longest > model.context_length()) {
    throw UsageError({.what = "prompt and candidate do not fit in the model's context",
                      .where = model.name(),
                      .expected = fmt::format("at most {} positions", model.context_length()),
                      .got = fmt::format("{} + {}", prompt, longest),
                      .hint = "shorten the prompt or the candidates"});
  }

  const auto dev = prompt_embeddings.device();
  const auto m = static_cast<int64_t>(flat.size());
  at::Tensor ids = at::zeros({m, longest}, at::kLong);
  at::Tensor cand_mask = at::zeros({m, longest}, at::kLong);
  for (int64_t i = 0; i < m; ++i) {
    for (size_t k = 0; k < flat[i]->size(); ++k) {
      ids[i][static_cast<int64_t>(k)] = (*flat[i])[k];
      cand_mask[i][static_cast<int64_t>(k)] = 1;
    }
  }
  ids = ids.to(dev);
  cand_mask = cand_mask.to(dev);
  const at::Tensor rows = at::tensor(row_of, at::kLong).to(dev);

  const at::Tensor mask = prompt_mask.to(at::kLong).to(dev);
  auto cache = model.new_cache(batch, prompt + longest);
  const at::Tensor last = model.decode(prompt_embeddings, mask, *cache, /*last_only=*/true);  // [B, 1, V]
  at::Tensor logits = last.index_select(0, rows);                                             // [M, 1, V]
  if (longest > 1) {
    cache->select_rows(rows);
    const at::Tensor head = ids.narrow(1, 0, longest - 1);
    const at::Tensor full_mask = at::cat({mask.index_select(0, rows), cand_mask.narrow(1, 0, longest - 1)}, 1);
    const at::Tensor rest = model.decode(model.embed(head), full_mask, *cache, /*last_only=*/false);
    logits = at::cat({logits, rest}, 1);  // [M, L, V]: position k predicts token k
  }
  const at::Tensor logp =
      logits.to(at::kDouble).log_softmax(-1).gather(2, ids.unsqueeze(-1)).squeeze(-1).to(at::kCPU);  // [M, L]
  std::vector<int64_t> next(batch, 0);
  for (int64_t i = 0; i < m; ++i) {
    CandidateScore& s = out[row_of[i]][next[row_of[i]]++];
    const auto n = static_cast<int64_t>(flat[i]->size());
    const at::Tensor row = logp[i].narrow(0, 0, n).contiguous();
    s.token_logprobs.assign(row.data_ptr<double>(), row.data_ptr<double>() + n);
    s.sum = std::accumulate(s.token_logprobs.begin(), s.token_logprobs.end(), 0.0);
    s.mean = s.sum / static_cast<double>(n);
  }
  return out;
}

std::vector<std::vector<CandidateScore>> score_shared_candidates(LanguageModel& model,
                                                                 const at::Tensor& prompt_embeddings,
                                                                 const at::Tensor& prompt_mask,
                                                                 const std::vector<std::vector<int64_t>>& candidates) {
  const int64_t batch = prompt_embeddings.dim() > 0 ? prompt_embeddings.size(0) : 0;
  return score_candidates(model, prompt_embeddings, prompt_mask,
                          std::vector<std::vector<std::vector<int64_t>>>(batch, candidates));
}

std::vector<CandidateScore> score_texts(LanguageModel& model, const std::string& prompt,
                                        const std::vector<std::string>& candidates, bool add_bos) {
  const Tokenizer& tok = model.tokenizer();
  const std::vector<int64_t> prompt_ids = tok.encode(prompt, add_bos);
  if (prompt_ids.empty()) {
    throw UsageError({.what = "cannot score after an empty prompt",
                      .where = "score_texts",
                      .hint = "give some prompt text, or add the BOS token"});
  }
  std::vector<std::vector<int64_t>> ids;
  for (const auto& c : candidates) ids.push_back(tok.encode(c, /*add_bos=*/false));
  at::NoGradGuard no_grad;
  const at::Tensor p = at::tensor(prompt_ids, at::kLong).view({1, -1});
  return score_shared_candidates(model, model.embed(p), at::ones_like(p), ids).front();
}

std::vector<size_t> rank_by_nll(const std::vector<CandidateScore>& scores) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a].sum > scores[b].sum; });
  return order;
}

}  // namespace xib
