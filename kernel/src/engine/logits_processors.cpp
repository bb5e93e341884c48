// transformers' logits processors and sampling warpers (generation/logits_process.py), for
// generation from input embeddings: the "input ids" they see are the generated tokens only.
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <limits>

#include "decoding.h"
#include "xib/error.h"
#include "xib/language_model.h"
#include "xib/weights/weight_map.h"

namespace xib::engine {

void check_inputs(const at::Tensor& embeddings, const at::Tensor& mask, int64_t d, const std::string& where) {
  if (embeddings.dim() != 3 || embeddings.size(2) != d) {
    throw ShapeError({.what = "generation needs input embeddings [B, T, d_llm]",
                      .where = where,
                      .expected = fmt::format("[B, T, {}]", d),
                      .got = weights::shape_str(embeddings.sizes().vec())});
  }
  if (mask.dim() != 2 || mask.size(0) != embeddings.size(0) || mask.size(1) != embeddings.size(1)) {
    throw ShapeError({.what = "attention mask does not match the embeddings",
                      .where = where,
                      .expected = fmt::format("[{}, {}]", embeddings.size(0), embeddings.size(1)),
                      .got = weights::shape_str(mask.sizes().vec())});
  }
}

void check_options(const GenerateOptions& options) {
  Validator v(ConfigSection{});
  options.validate(v);
  v.finish();
}

int64_t room_for(const LanguageModel& model, int64_t prompt, int64_t max_new_tokens) {
  const int64_t context = model.context_length();
  if (prompt >= context) {
    throw UsageError({.what = fmt::format("the prompt ({} positions) leaves no room in the model's context", prompt),
                      .where = model.name(),
                      .expected = fmt::format("fewer than {} positions", context),
                      .got = fmt::format("{}", prompt),
                      .hint = "shorten the prompt"});
  }
  return std::min(max_new_tokens, context - prompt);
}

LogitsProcessors::LogitsProcessors(const GenerateOptions& options, std::vector<int64_t> eos,
                                   const at::Tensor& prompt_mask, int64_t min_tokens_to_keep)
    : options_(options), eos_(std::move(eos)), min_keep_(min_tokens_to_keep) {
  // transformers: padding_lengths = (mask != 0).int().argmax(dim=1), given to the penalty as
  // prompt_ignore_length (an all-padding row gives 0).
  const at::Tensor lead = (prompt_mask != 0).to(at::kInt).argmax(1).to(at::kLong).contiguous();
  skip_.assign(lead.data_ptr<int64_t>(), lead.data_ptr<int64_t>() + lead.numel());
  if (!options_.penalty_skips_left_padding) std::fill(skip_.begin(), skip_.end(), 0);
}

at::Tensor LogitsProcessors::process(const at::Tensor& generated, const at::Tensor& scores_in) const {
  at::Tensor scores = scores_in;
  const int64_t rows = scores.size(0);
  const int64_t vocab = scores.size(1);
  const int64_t t = generated.size(1);
  const float inf = std::numeric_limits<float>::infinity();

  if (options_.repetition_penalty != 1.0 && t > 0) {
    // RepetitionPenaltyLogitsProcessor: ignored positions and ids ≥ V go to an extra column.
    const at::Tensor skip = at::tensor(skip_, at::kLong).to(scores.device());
    const at::Tensor positions = at::arange(t, at::TensorOptions().dtype(at::kLong).device(scores.device()));
    at::Tensor ids = generated.masked_fill(positions.unsqueeze(0) < skip.unsqueeze(1), vocab).clamp_max(vocab);
    at::Tensor padded = at::constant_pad_nd(scores, {0, 1});
    at::Tensor got = padded.gather(1, ids);
    const double p = options_.repetition_penalty;
    got = at::where(got < 0, got * p, got / p);
    scores = padded.scatter(1, ids, got).narrow(1, 0, vocab);
  }
  const int64_t n = options_.no_repeat_ngram_size;
  if (n > 0 && t + 1 >= n) {
    // NoRepeatNGramLogitsProcessor: ban every token that would complete an n-gram seen before.
    const at::Tensor cpu = generated.to(at::kCPU).contiguous();
    const int64_t* g = cpu.data_ptr<int64_t>();
    std::vector<int64_t> ban_rows, ban_ids;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t* row = g + r * t;
      for (int64_t i = 0; i + n <= t; ++i) {
        if (std::equal(row + i, row + i + n - 1, row + t - (n - 1))) {
          ban_rows.push_back(r);
          ban_ids.push_back(row[i + n - 1]);
        }
      }
    }
    if (!ban_rows.empty()) {
      scores = scores.clone();
      scores.index_put_(
          {at::tensor(ban_rows, at::kLong).to(scores.device()), at::tensor(ban_ids, at::kLong).to(scores.device())},
          -inf);
    }
  }
  if (t < options_.min_new_tokens && !eos_.empty()) {
    // MinLengthLogitsProcessor / MinNewTokensLengthLogitsProcessor (the same with embeddings).
    scores = scores.index_fill(1, at::tensor(eos_, at::kLong).to(scores.device()), -inf);
  }
  return scores;
}

at::Tensor LogitsProcessors::warp(const at::Tensor& scores_in) const {
  at::Tensor scores = scores_in;
  if (!options_.do_sample) return scores;
  const float inf = std::numeric_limits<float>::infinity();
  if (options_.temperature != 1.0) scores = scores / options_.temperature;
  if (options_.top_k != 0) {
    const int64_t k = std::min(std::max(options_.top_k, min_keep_), scores.size(-1));
    const at::Tensor kth = std::get<0>(scores.topk(k, -1)).narrow(-1, k - 1, 1);
    scores = scores.masked_fill(scores < kth, -inf);
  }
  if (options_.top_p < 1.0) {
    auto [sorted, order] = scores.sort(-1, /*descending=*/false);
    const at::Tensor cumulative = sorted.softmax(-1).cumsum(-1);
    at::Tensor remove = cumulative <= (1 - options_.top_p);
    remove.narrow(-1, remove.size(-1) - min_keep_, min_keep_).fill_(false);
    remove = remove.scatter(1, order, remove);
    scores = scores.masked_fill(remove, -inf);
  }
  return scores;
}

}  // namespace xib::engine
