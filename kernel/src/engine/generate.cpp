// The generation loop on the LanguageModel interface: one prefill forward over the prompt, then
// one cached decode step per new token.
#include "xib/generate.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <set>

#include "xib/error.h"
#include "xib/language_model.h"
#include "xib/weights/weight_map.h"

namespace xib {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void check_inputs(const at::Tensor& embeddings, const at::Tensor& mask, int64_t d) {
  if (embeddings.dim() != 3 || embeddings.size(2) != d) {
    throw ShapeError({.what = "generation needs input embeddings [B, T, d_llm]",
                      .where = "greedy_generate",
                      .expected = fmt::format("[B, T, {}]", d),
                      .got = weights::shape_str(embeddings.sizes().vec())});
  }
  if (mask.dim() != 2 || mask.size(0) != embeddings.size(0) || mask.size(1) != embeddings.size(1)) {
    throw ShapeError({.what = "attention mask does not match the embeddings",
                      .where = "greedy_generate",
                      .expected = fmt::format("[{}, {}]", embeddings.size(0), embeddings.size(1)),
                      .got = weights::shape_str(mask.sizes().vec())});
  }
}

}  // namespace

GenerateResult greedy_generate(LanguageModel& model, const at::Tensor& embeddings, const at::Tensor& attention_mask,
                               const GenerateOptions& options, const TokenCallback& on_token) {
  at::NoGradGuard no_grad;
  check_inputs(embeddings, attention_mask, model.hidden_size());
  const int64_t batch = embeddings.size(0);
  const int64_t prompt = embeddings.size(1);
  const int64_t context = model.context_length();
  if (prompt >= context) {
    throw UsageError({.what = fmt::format("the prompt ({} positions) leaves no room in the model's context", prompt),
                      .where = model.name(),
                      .expected = fmt::format("fewer than {} positions", context),
                      .got = fmt::format("{}", prompt),
                      .hint = "shorten the prompt"});
  }
  GenerateResult result;
  result.tokens.resize(batch);
  result.stopped_on_eos.assign(batch, false);
  result.prompt_positions = prompt;
  const int64_t max_new = std::min(options.max_new_tokens, context - prompt);
  if (max_new <= 0) return result;

  const std::vector<int64_t> eos = options.eos_ids.empty() ? model.eos_ids() : options.eos_ids;
  const std::set<int64_t> eos_set(eos.begin(), eos.end());
  const at::Tensor eos_ids = at::tensor(eos, at::kLong);
  auto cache = model.new_cache(batch, prompt + max_new);
  at::Tensor mask = attention_mask.to(at::kLong);

  auto t0 = Clock::now();
  at::Tensor logits = model.decode(embeddings, mask, *cache, /*last_only=*/true);  // [B, 1, V]
  result.prefill_seconds = seconds_since(t0);
  t0 = Clock::now();

  std::vector<bool> finished(batch, false);
  std::vector<int64_t> step_tokens(batch);
  for (int64_t step = 0; step < max_new; ++step) {
    at::Tensor scores = logits.select(1, 0);  // [B, V]
    if (step < options.min_new_tokens && !eos.empty()) {
      scores = scores.index_fill(1, eos_ids, -std::numeric_limits<float>::infinity());
    }
    const at::Tensor next = scores.argmax(-1).contiguous();  // [B]
    const auto* ids = next.data_ptr<int64_t>();
    for (int64_t b = 0; b < batch; ++b) {
      if (finished[b]) {
        step_tokens[b] = -1;
        continue;
      }
      step_tokens[b] = ids[b];
      result.tokens[b].push_back(ids[b]);
      if (eos_set.count(ids[b])) {
        finished[b] = true;
        result.stopped_on_eos[b] = true;
      }
    }
    const bool keep_going = on_token ? on_token(step_tokens, finished) : true;
    const bool all_done = std::all_of(finished.begin(), finished.end(), [](bool f) { return f; });
    if (!keep_going || all_done || step + 1 == max_new) break;

    mask = at::cat({mask, at::ones({batch, 1}, at::kLong)}, 1);
    logits = model.decode(model.embed(next.view({batch, 1})), mask, *cache, /*last_only=*/true);
    ++result.steps;
  }
  result.decode_seconds = seconds_since(t0);
  return result;
}

GenerateResult greedy_generate_ids(LanguageModel& model, const std::vector<std::vector<int64_t>>& prompts,
                                   const GenerateOptions& options, const TokenCallback& on_token) {
  if (prompts.empty()) return {};
  size_t longest = 0;
  for (const auto& p : prompts) longest = std::max(longest, p.size());
  if (longest == 0) {
    throw UsageError({.what = "cannot generate from an empty prompt",
                      .where = "greedy_generate",
                      .hint = "give at least one token (the BOS id, for example)"});
  }
  const auto batch = static_cast<int64_t>(prompts.size());
  const auto length = static_cast<int64_t>(longest);
  const auto vocab = model.vocab_size();
  // Left padding: every row ends at the last column, where generation continues.
  const int64_t pad = model.pad_id().value_or(0);
  at::Tensor ids = at::full({batch, length}, pad, at::kLong);
  at::Tensor mask = at::zeros({batch, length}, at::kLong);
  auto id_at = ids.accessor<int64_t, 2>();
  auto mask_at = mask.accessor<int64_t, 2>();
  for (int64_t b = 0; b < batch; ++b) {
    const auto& p = prompts[b];
    const auto offset = length - static_cast<int64_t>(p.size());
    for (size_t t = 0; t < p.size(); ++t) {
      if (p[t] < 0 || p[t] >= vocab) {
        throw UsageError({.what = fmt::format("token id {} is outside the vocabulary", p[t]),
                          .where = fmt::format("prompt {}, position {}", b, t),
                          .expected = fmt::format("0 … {}", vocab - 1),
                          .got = fmt::format("{}", p[t])});
      }
      id_at[b][offset + static_cast<int64_t>(t)] = p[t];
      mask_at[b][offset + static_cast<int64_t>(t)] = 1;
    }
  }
  at::NoGradGuard no_grad;
  return greedy_generate(model, model.embed(ids), mask, options, on_token);
}

}  // namespace xib
