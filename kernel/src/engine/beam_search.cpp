// Beam search on the LanguageModel interface, a port of transformers 5's vectorised
// GenerationMixin._beam_search for generation from input embeddings (decoder_prompt_len = 0):
// B rows × num_beams beams in one KV cache, K = max(2, 1 + #EOS) · num_beams candidates per row
// and step, finished hypotheses kept per row with scores sum(log-probs) / len ** length_penalty,
// and transformers' stop rule (early_stopping false / true / "never").
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>

#include "decoding.h"
#include "xib/error.h"
#include "xib/language_model.h"

namespace xib::engine {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

/** tensor [B, beams, ...], indices [B, K] → [B, K, ...] (transformers' _gather_beams). */
at::Tensor gather_beams(const at::Tensor& tensor, const at::Tensor& indices) {
  at::Tensor idx = indices;
  while (idx.dim() < tensor.dim()) idx = idx.unsqueeze(-1);
  return at::take_along_dim(tensor, idx, 1);
}

}  // namespace

GenerateResult beam_search(LanguageModel& model, const at::Tensor& embeddings, const at::Tensor& attention_mask,
                           const GenerateOptions& options, const TokenCallback& on_token) {
  at::NoGradGuard no_grad;
  check_inputs(embeddings, attention_mask, model.hidden_size(), "beam_search");
  const int64_t batch = embeddings.size(0);
  const int64_t prompt = embeddings.size(1);
  const int64_t beams = options.num_beams;
  const int64_t returned = options.num_return_sequences;
  const int64_t max_new = room_for(model, prompt, options.max_new_tokens);

  GenerateResult result;
  result.tokens.resize(batch);
  result.stopped_on_eos.assign(batch, false);
  result.returned.assign(batch, std::vector<Hypothesis>(returned));
  result.prompt_positions = prompt;
  if (max_new <= 0 || batch == 0) return result;

  const std::vector<int64_t> eos = options.eos_ids.empty() ? model.eos_ids() : options.eos_ids;
  const std::set<int64_t> eos_set(eos.begin(), eos.end());
  const bool sample = options.do_sample;
  const double lp = options.length_penalty;
  const bool early_true = options.early_stopping == "true";
  const bool never = options.early_stopping == "never";
  const auto dev = embeddings.device();
  const auto long_on = at::TensorOptions().dtype(at::kLong).device(dev);
  const auto float_on = at::TensorOptions().dtype(at::kFloat).device(dev);
  const auto bool_on = at::TensorOptions().dtype(at::kBool).device(dev);

  const int64_t rows = batch * beams;
  const int64_t keep = std::max<int64_t>(2, 1 + static_cast<int64_t>(eos.size())) * beams;
  at::Tensor mask = attention_mask.to(at::kLong).to(dev).repeat_interleave(beams, 0);  // [B·nb, T]
  const LogitsProcessors processors(options, eos, mask, sample ? static_cast<int64_t>(eos.size()) + 1 : 1);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(options.seed));
  const at::Tensor eos_ids = at::tensor(eos, at::kLong).to(dev);
  const at::Tensor top_beams = at::cat({at::ones({beams}, bool_on), at::zeros({keep - beams}, bool_on)}).unsqueeze(0);
  const at::Tensor batch_offset = at::arange(batch, long_on).view({batch, 1}) * beams;

  // Running beams (their tokens and summed log-probs) and the best finished hypotheses per row.
  at::Tensor running = at::zeros({batch, beams, max_new}, long_on);
  at::Tensor running_scores = at::zeros({batch, beams}, float_on);
  running_scores.narrow(1, 1, beams - 1).fill_(-1e9);  // only beam 0 expands at the first step
  at::Tensor done_seqs = running.clone();
  at::Tensor done_scores = at::full({batch, beams}, -1e9, float_on);
  at::Tensor done_lengths = at::zeros({batch, beams}, long_on);
  at::Tensor is_finished = at::zeros({batch, beams}, bool_on);
  at::Tensor unsatisfied = at::ones({batch, 1}, bool_on);  // the early-stop heuristic still open

  // The prompt runs once per row; its cache rows and last logits are then copied for each beam
  // (the beams share the prompt: running it beams times over would cost beams × the prefill).
  auto cache = model.new_cache(batch, prompt + max_new);
  auto t0 = Clock::now();
  at::Tensor logits = model.decode(embeddings, attention_mask.to(at::kLong).to(dev), *cache, /*last_only=*/true);
  const at::Tensor each_beam = at::arange(batch, long_on).repeat_interleave(beams);
  cache->select_rows(each_beam);
  logits = logits.index_select(0, each_beam);
  result.prefill_seconds = seconds_since(t0);
  t0 = Clock::now();

  int64_t cur = 0;
  std::vector<int64_t> step_tokens(batch);
  std::vector<bool> row_done(batch);
  while (true) {
    if (cur > 0) {
      mask = at::cat({mask, at::ones({rows, 1}, long_on)}, 1);
      const at::Tensor last = running.select(2, cur - 1).reshape({rows, 1});
      logits = model.decode(model.embed(last), mask, *cache, /*last_only=*/true);
      ++result.steps;
    }
    // b. log-probs, processed (penalties see the generated tokens of each beam), plus the beam's sum.
    at::Tensor log_probs = logits.select(1, 0).to(at::kFloat).log_softmax(-1);
    log_probs = processors.process(running.narrow(2, 0, cur).reshape({rows, cur}), log_probs);
    if (sample) log_probs = processors.warp(log_probs);
    const int64_t vocab = log_probs.size(1);
    const at::Tensor acc = (log_probs.view({batch, beams, vocab}) + running_scores.unsqueeze(-1)).reshape({batch, -1});

    // c. the K best (or sampled) continuations over all beams of a row.
    at::Tensor topk_lp, topk_idx;
    if (sample) {
      topk_idx = at::multinomial(acc.softmax(-1).to(at::kCPU), keep, /*replacement=*/false, gen).to(dev);
      topk_lp = acc.gather(1, topk_idx);
      auto [sorted, order] = topk_lp.sort(-1, /*descending=*/true);
      topk_lp = sorted;
      topk_idx = topk_idx.gather(1, order);
    } else {
      std::tie(topk_lp, topk_idx) = acc.topk(keep);
    }
    const at::Tensor src_beam = topk_idx.div(vocab, "floor");
    const at::Tensor topk_ids = topk_idx.remainder(vocab);
    at::Tensor topk_seqs = gather_beams(running, src_beam);  // [B, K, max_new]
    topk_seqs.select(2, cur).copy_(topk_ids);

    // d. stopping criteria per candidate: EOS, or the length limit.
    at::Tensor hits = at::isin(topk_ids, eos_ids);
    if (cur + 1 >= max_new) hits.fill_(true);

    // e. the best num_beams unfinished candidates run on.
    const at::Tensor topk_running_lp = topk_lp + hits.to(at::kFloat) * -1.0e9;
    const at::Tensor next = std::get<1>(topk_running_lp.topk(beams));
    running = gather_beams(topk_seqs, next);
    running_scores = topk_running_lp.gather(1, next);
    const at::Tensor running_src = src_beam.gather(1, next);

    // f. finished candidates among the top num_beams join the hypotheses if good enough.
    const at::Tensor just = hits & top_beams;
    at::Tensor cand = topk_lp / std::pow(static_cast<double>(cur + 1), lp);
    cand = cand + (is_finished.all(-1, /*keepdim=*/true) & early_true).to(at::kFloat) * -1.0e9;
    cand = cand + unsatisfied.logical_not().to(at::kFloat) * -1.0e9;
    cand = cand + just.logical_not().to(at::kFloat) * -1.0e9;
    const at::Tensor merged_scores = at::cat({done_scores, cand}, 1);
    const at::Tensor best = std::get<1>(merged_scores.topk(beams));
    done_seqs = gather_beams(at::cat({done_seqs, topk_seqs}, 1), best);
    done_scores = merged_scores.gather(1, best);
    done_lengths = at::cat({done_lengths, at::full({batch, keep}, cur + 1, long_on)}, 1).gather(1, best);
    is_finished = at::cat({is_finished, just}, 1).gather(1, best);

    // g. the cache follows the running beams; the stop rule.
    cache->select_rows((running_src + batch_offset).reshape({rows}));
    ++cur;
    const int64_t best_len = never && lp > 0.0 ? max_new : cur;
    const at::Tensor best_running = running_scores.narrow(1, 0, 1) / std::pow(static_cast<double>(best_len), lp);
    const at::Tensor worst_done =
        at::where(is_finished, std::get<0>(done_scores.min(1, /*keepdim=*/true)), at::scalar_tensor(-1.0e9, float_on));
    unsatisfied = unsatisfied & (best_running > worst_done).any(-1, /*keepdim=*/true);
    const bool improvement = unsatisfied.any().item<bool>();
    const bool all_full = is_finished.all().item<bool>() && early_true;
    const bool continuations = !hits.all().item<bool>();

    bool keep_going = true;
    if (on_token) {
      const at::Tensor newest = running.select(1, 0).select(1, cur - 1).to(at::kCPU);
      const at::Tensor open = unsatisfied.view({batch}).to(at::kCPU);
      for (int64_t b = 0; b < batch; ++b) {
        row_done[b] = !open[b].item<bool>();
        step_tokens[b] = row_done[b] ? -1 : newest[b].item<int64_t>();
      }
      keep_going = on_token(step_tokens, row_done);
    }
    if (!(improvement && !all_full && continuations) || !keep_going) break;
  }
  result.decode_seconds = seconds_since(t0);

  // Best first; a row stopped (by the callback) before num_beams hypotheses finished falls back
  // on its running beams.
  const at::Tensor seqs = done_seqs.to(at::kCPU), scores = done_scores.to(at::kCPU);
  const at::Tensor lengths = done_lengths.to(at::kCPU), fin = is_finished.to(at::kCPU);
  const at::Tensor run = running.to(at::kCPU), run_scores = running_scores.to(at::kCPU);
  for (int64_t b = 0; b < batch; ++b) {
    int64_t next_running = 0;
    for (int64_t j = 0; j < returned; ++j) {
      Hypothesis& h = result.returned[b][j];
      if (fin[b][j].item<bool>()) {
        const int64_t n = lengths[b][j].item<int64_t>();
        const at::Tensor t = seqs[b][j].narrow(0, 0, n).contiguous();
        h.tokens.assign(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + n);
        h.score = scores[b][j].item<double>();
      } else {
        const int64_t r = next_running++;
        const at::Tensor t = run[b][r].narrow(0, 0, cur).contiguous();
        h.tokens.assign(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + cur);
        h.score = run_scores[b][r].item<double>() / std::pow(static_cast<double>(cur), lp);
      }
    }
    result.tokens[b] = result.returned[b].front().tokens;
    result.stopped_on_eos[b] = !result.tokens[b].empty() && eos_set.count(result.tokens[b].back()) > 0;
  }
  return result;
}

}  // namespace xib::engine
