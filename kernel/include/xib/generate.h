// Generation on any LanguageModel: greedy decoding, sampling and beam search from input
// embeddings (prefill, then one token per step through the model's KV cache), stopping rules
// (EOS ids, max/min new tokens, context length) and streaming callbacks.
//
//   GenerateOptions o{.max_new_tokens = 32};
//   GenerateResult r = greedy_generate_ids(lm, {{1, 2, 3}, {4, 5}}, o);   // left-pads the batch
//   r.tokens[0]  → the new ids of row 0 (its EOS included when it stopped on one)
//
//   GenerateOptions qa{.max_new_tokens = 10, .min_new_tokens = 1, .num_beams = 5,
//                      .length_penalty = -1, .repetition_penalty = 1.5};
//   GenerateResult r = generate(lm, embeddings, mask, qa);            // beam search
//
// The semantics are transformers 5's `generate(inputs_embeds=…)` (checked token for token by
// tests/eval against tools/fixtures/llama/make_beam_fixture.py). With input embeddings
// transformers' `input_ids` hold only the generated tokens, so:
//  - the repetition penalty and no-repeat-ngram see the generated tokens only, never the prompt;
//  - lengths count generated tokens: max/min_new_tokens, and the length penalty's `len` of a
//    finished hypothesis (score = sum of its log-probs / len ** length_penalty, EOS counted);
//  - transformers 5 gives the repetition penalty `prompt_ignore_length` = the number of leading
//    padding columns of the row's mask, and applies it to those generated-only ids: the first p
//    generated tokens of a row left-padded by p are not penalised. `penalty_skips_left_padding`
//    (default true) reproduces this; false penalises every generated token.
// Logits processors run in transformers' order — repetition penalty, no-repeat-ngram, EOS
// suppression before min_new_tokens — on the logits (greedy, sampling) or on the log-softmax
// (beam search); sampling then applies temperature → top-k → top-p.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xib/config.h"
#include "xib/tensor.h"

namespace xib {

class LanguageModel;

struct GenerateOptions {
  int64_t max_new_tokens = 64;
  /// EOS is suppressed (its logits set to −inf) until this many tokens were generated.
  int64_t min_new_tokens = 0;
  /// Ids that end a row; empty: the model's eos_ids().
  std::vector<int64_t> eos_ids = {};
  /// 1: greedy or sampling; more: beam search with this many beams per row.
  int64_t num_beams = 1;
  /// Hypotheses returned per row (GenerateResult::returned): at most num_beams for beam search;
  /// with sampling, independent samples per row.
  int64_t num_return_sequences = 1;
  /// Beam search: a finished hypothesis scores sum(log-probs) / len ** length_penalty, len = its
  /// generated tokens (EOS included). Negative values favour short answers.
  double length_penalty = 1.0;
  /// > 1 discourages tokens already generated (logit / p when positive, × p when negative).
  double repetition_penalty = 1.0;
  /// > 0: an n-gram of generated tokens of this size never repeats.
  int64_t no_repeat_ngram_size = 0;
  /// Beam search stop rule, as transformers' early_stopping: "false" (its default: stop a row
  /// when num_beams hypotheses finished and the best running beam, normalised by the current
  /// length, cannot beat the worst of them), "true" (stop as soon as num_beams finished),
  /// "never" (with length_penalty > 0 the bound uses max_new_tokens: canonical beam search).
  std::string early_stopping = "false";
  /// Sample instead of taking the argmax (with num_beams > 1: beam sampling).
  bool do_sample = false;
  /// Sampling: logits / temperature, then top-k, then top-p (transformers' defaults).
  double temperature = 1.0;
  int64_t top_k = 50;  ///< 0: no top-k filter
  double top_p = 1.0;  ///< 1: no nucleus filter
  /// Seed of the sampler's generator (a LibTorch CPU generator): same seed, same samples.
  int64_t seed = 0;
  /// transformers 5 quirk, see the header comment.
  bool penalty_skips_left_padding = true;

  template <class V>
  void fields(V& v) {
    v("max_new_tokens", max_new_tokens, "most tokens generated per row");
    v("min_new_tokens", min_new_tokens, "EOS is not allowed before this many tokens");
    v("eos_ids", eos_ids, "ids that end a row (default: the model's)");
    v("num_beams", num_beams, "beams per row (1: greedy or sampling)");
    v("num_return_sequences", num_return_sequences, "hypotheses returned per row");
    v("length_penalty", length_penalty, "beam scores are divided by length ** length_penalty");
    v("repetition_penalty", repetition_penalty, "> 1 discourages repeating generated tokens");
    v("no_repeat_ngram_size", no_repeat_ngram_size, "n-grams of this size never repeat (0: off)");
    v("early_stopping", early_stopping, "beam search stop rule: false, true or never (transformers')");
    v("do_sample", do_sample, "sample instead of taking the most likely token");
    v("temperature", temperature, "sampling temperature");
    v("top_k", top_k, "sample among the k most likely tokens (0: all)");
    v("top_p", top_p, "sample from the smallest set with this much probability (1: all)");
    v("seed", seed, "seed of the sampler");
    v("penalty_skips_left_padding", penalty_skips_left_padding,
      "transformers 5: the repetition penalty ignores the first p tokens of a row left-padded by p");
  }
  void validate(Validator& v) const {
    v.require(max_new_tokens >= 0, "max_new_tokens", "0 or more", max_new_tokens);
    v.require(min_new_tokens >= 0 && min_new_tokens <= max_new_tokens, "min_new_tokens", "between 0 and max_new_tokens",
              min_new_tokens);
    v.require(num_beams >= 1, "num_beams", "1 or more", num_beams);
    v.require(num_return_sequences >= 1 && (num_beams == 1 || num_return_sequences <= num_beams),
              "num_return_sequences", "between 1 and num_beams", num_return_sequences);
    v.require(length_penalty == length_penalty, "length_penalty", "a number", length_penalty);
    v.require(repetition_penalty > 0, "repetition_penalty", "a positive number (1: off)", repetition_penalty);
    v.require(no_repeat_ngram_size >= 0, "no_repeat_ngram_size", "0 or more", no_repeat_ngram_size);
    v.one_of("early_stopping", early_stopping, {"false", "true", "never"});
    v.require(temperature > 0, "temperature", "a positive number", temperature);
    v.require(top_k >= 0, "top_k", "0 or more (0: off)", top_k);
    v.require(top_p > 0 && top_p <= 1, "top_p", "in (0, 1] (1: off)", top_p);
  }
};

/// One returned hypothesis.
struct Hypothesis {
  std::vector<int64_t> tokens = {};  ///< new ids, EOS included when it ended on one
  /// Beam search: sum of log-probs / len ** length_penalty (transformers' sequences_scores);
  /// greedy and sampling: sum of the processed log-probs of the chosen tokens.
  double score = 0;
};

/// After each step: the step's token of every row (rows already finished before this step
/// get −1) and which rows are finished now. Return false to stop generating.
using TokenCallback = std::function<bool(const std::vector<int64_t>& tokens, const std::vector<bool>& finished)>;

struct GenerateResult {
  std::vector<std::vector<int64_t>> tokens = {};  ///< new ids per row, EOS included when hit (beam: the best)
  std::vector<bool> stopped_on_eos = {};
  /// Per row, num_return_sequences hypotheses, best first (beam search) or in sampling order.
  std::vector<std::vector<Hypothesis>> returned = {};
  int64_t prompt_positions = 0;  ///< T of the (padded) prompt batch
  int64_t steps = 0;             ///< decode steps after the prefill
  double prefill_seconds = 0;    ///< time of the prompt's forward
  double decode_seconds = 0;     ///< time of the remaining steps
};

/** Greedy decoding, sampling or beam search (by options.num_beams / do_sample) from input
    embeddings [B, T, d_llm] with attention mask [B, T] (left padding: rows end at the last
    column). ConfigError for invalid options, UsageError when T leaves no room below the context
    length. Beam search runs B · num_beams rows through one KV cache (reordered with
    KvCache::select_rows); its callback sees each row's best running beam's newest token
    (progress only: the returned hypothesis may come from another beam). */
GenerateResult generate(LanguageModel& model, const Tensor& embeddings, const Tensor& attention_mask,
                        const GenerateOptions& options, const TokenCallback& on_token = {});

/// generate() from token ids: rows of different lengths are left-padded.
GenerateResult generate_ids(LanguageModel& model, const std::vector<std::vector<int64_t>>& prompts,
                            const GenerateOptions& options, const TokenCallback& on_token = {});

/** Greedy decoding from input embeddings [B, T, d_llm] with attention mask [B, T] (left padding:
    rows end at the last column), whatever options.num_beams / do_sample say (the logits
    processors apply). UsageError when T leaves no room below the context length. */
GenerateResult greedy_generate(LanguageModel& model, const Tensor& embeddings, const Tensor& attention_mask,
                               const GenerateOptions& options, const TokenCallback& on_token = {});

/// Greedy decoding from token ids: rows of different lengths are left-padded.
GenerateResult greedy_generate_ids(LanguageModel& model, const std::vector<std::vector<int64_t>>& prompts,
                                   const GenerateOptions& options, const TokenCallback& on_token = {});

/// Holds back the bytes of an incomplete UTF-8 sequence at the end of streamed text, so a
/// character split over two tokens is printed whole.
class Utf8Stream {
 public:
  /// Appends `bytes`; returns the longest prefix of what is pending that ends on a complete
  /// character (invalid bytes pass through as they are).
  std::string push(std::string_view bytes);
  /// Whatever is still held back.
  std::string flush();

 private:
  std::string pending_;
};

}  // namespace xib
