// The generation loop on the LanguageModel interface: one prefill forward over the prompt, then
// one cached decode step per new token.
#include "xib/generate.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <set>

#include "decoding.h"
#include "xib/error.h"
#include "xib/language_model.h"
#include "xib/weights/weight_map.h"

namespace xib {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

/// Greedy decoding or sampling (transformers' _sample): B rows, each expanded to
/// num_return_sequences rows when sampling.
GenerateResult sample_loop(LanguageModel& model, const at::Tensor& embeddings_in, const at::Tensor& attention_mask,
                           const GenerateOptions& options, const TokenCallback& on_token, bool sample) {
  at::NoGradGuard no_grad;
  engine::check_inputs(embeddings_in, attention_mask, model.hidden_size(), sample ? "generate" : "greedy_generate");
  const int64_t prompt = embeddings_in.size(1);
  const int64_t max_new = engine::room_for(model, prompt, options.max_new_tokens);
  const int64_t copies = sample ? options.num_return_sequences : 1;
  const at::Tensor embeddings = copies > 1 ? embeddings_in.repeat_interleave(copies, 0) : embeddings_in;
  at::Tensor mask = (copies > 1 ? attention_mask.repeat_interleave(copies, 0) : attention_mask).to(at::kLong);
  const int64_t batch = embeddings.size(0);

  GenerateResult result;
  result.tokens.resize(batch);
  result.stopped_on_eos.assign(batch, false);
  result.prompt_positions = prompt;
  std::vector<double> scores(batch, 0.0);
  const auto finish = [&] {
    result.returned.assign(batch / copies, {});
    for (int64_t r = 0; r < batch; ++r) result.returned[r / copies].push_back({result.tokens[r], scores[r]});
    if (copies > 1) {
      std::vector<std::vector<int64_t>> first;
      std::vector<bool> eos_hit;
      for (int64_t r = 0; r < batch; r += copies) {
        first.push_back(result.tokens[r]);
        eos_hit.push_back(result.stopped_on_eos[r]);
      }
      result.tokens = std::move(first);
      result.stopped_on_eos = std::move(eos_hit);
    }
    return result;
  };
  if (max_new <= 0) return finish();

  const std::vector<int64_t> eos = options.eos_ids.empty() ? model.eos_ids() : options.eos_ids;
  const std::set<int64_t> eos_set(eos.begin(), eos.end());
  const engine::LogitsProcessors processors(options, eos, mask, /*min_tokens_to_keep=*/1);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(options.seed));
  auto cache = model.new_cache(batch, prompt + max_new);
  // transformers' input_ids with embeddings: the generated tokens (finished rows get the pad id).
  const int64_t pad = model.pad_id().value_or(eos.empty() ? 0 : eos.front());
  at::Tensor generated = at::empty({batch, 0}, at::kLong);

  auto t0 = Clock::now();
  at::Tensor logits = model.decode(embeddings, mask, *cache, /*last_only=*/true);  // [B, 1, V]
  result.prefill_seconds = seconds_since(t0);
  t0 = Clock::now();

  std::vector<bool> finished(batch, false);
  std::vector<int64_t> step_tokens(batch);
  for (int64_t step = 0; step < max_new; ++step) {
    at::Tensor processed = processors.process(generated.to(logits.device()), logits.select(1, 0).to(at::kFloat));
    at::Tensor next;
    if (sample) {
      const at::Tensor probs = processors.warp(processed).softmax(-1).to(at::kCPU);
      next = at::multinomial(probs, 1, /*replacement=*/false, gen).squeeze(1).contiguous();
    } else {
      next = processed.argmax(-1).to(at::kCPU).contiguous();  // [B]
    }
    const at::Tensor logp = processed.log_softmax(-1).gather(1, next.to(processed.device()).unsqueeze(1)).to(at::kCPU);
    auto* ids = next.data_ptr<int64_t>();
    for (int64_t b = 0; b < batch; ++b) {
      if (finished[b]) {
        step_tokens[b] = -1;
        ids[b] = pad;
        continue;
      }
      step_tokens[b] = ids[b];
      result.tokens[b].push_back(ids[b]);
      scores[b] += logp[b][0].item<double>();
      if (eos_set.count(ids[b])) {
        finished[b] = true;
        result.stopped_on_eos[b] = true;
      }
    }
    generated = at::cat({generated, next.view({batch, 1})}, 1);
    const bool keep_going = on_token ? on_token(step_tokens, finished) : true;
    const bool all_done = std::all_of(finished.begin(), finished.end(), [](bool f) { return f; });
    if (!keep_going || all_done || step + 1 == max_new) break;

    mask = at::cat({mask, at::ones({batch, 1}, at::kLong)}, 1);
    logits = model.decode(model.embed(next.view({batch, 1})), mask, *cache, /*last_only=*/true);
    ++result.steps;
  }
  result.decode_seconds = seconds_since(t0);
  return finish();
}

}  // namespace

GenerateResult greedy_generate(LanguageModel& model, const at::Tensor& embeddings, const at::Tensor& attention_mask,
                               const GenerateOptions& options, const TokenCallback& on_token) {
  engine::check_options(options);
  return sample_loop(model, embeddings, attention_mask, options, on_token, /*sample=*/false);
}

GenerateResult generate(LanguageModel& model, const at::Tensor& embeddings, const at::Tensor& attention_mask,
                        const GenerateOptions& options, const TokenCallback& on_token) {
  engine::check_options(options);
  if (options.num_beams > 1) return engine::beam_search(model, embeddings, attention_mask, options, on_token);
  return sample_loop(model, embeddings, attention_mask, options, on_token, options.do_sample);
}

namespace {

/// Left-pads token-id prompts → (ids [B, T], mask [B, T]).
std::pair<at::Tensor, at::Tensor> pad_prompts(LanguageModel& model, const std::vector<std::vector<int64_t>>& prompts) {
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
  return {ids, mask};
}

}  // namespace

GenerateResult greedy_generate_ids(LanguageModel& model, const std::vector<std::vector<int64_t>>& prompts,
                                   const GenerateOptions& options, const TokenCallback& on_token) {
  if (prompts.empty()) return {};
  const auto [ids, mask] = pad_prompts(model, prompts);
  at::NoGradGuard no_grad;
  return greedy_generate(model, model.embed(ids), mask, options, on_token);
}

GenerateResult generate_ids(LanguageModel& model, const std::vector<std::vector<int64_t>>& prompts,
                            const GenerateOptions& options, const TokenCallback& on_token) {
  if (prompts.empty()) return {};
  const auto [ids, mask] = pad_prompts(model, prompts);
  at::NoGradGuard no_grad;
  return generate(model, model.embed(ids), mask, options, on_token);
}

}  // namespace xib
