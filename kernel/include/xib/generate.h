// Generation on any LanguageModel: the loop (prefill, then one token per step through the
// model's KV cache), stopping rules (EOS ids, max/min new tokens, context length) and
// streaming callbacks. Greedy decoding now; beam search joins the same loop later.
//
//   GenerateOptions o{.max_new_tokens = 32};
//   GenerateResult r = greedy_generate_ids(lm, {{1, 2, 3}, {4, 5}}, o);   // left-pads the batch
//   r.tokens[0]  → the new ids of row 0 (its EOS included when it stopped on one)
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

  template <class V>
  void fields(V& v) {
    v("max_new_tokens", max_new_tokens, "most tokens generated per row");
    v("min_new_tokens", min_new_tokens, "EOS is not allowed before this many tokens");
    v("eos_ids", eos_ids, "ids that end a row (default: the model's)");
  }
  void validate(Validator& v) const {
    v.require(max_new_tokens >= 0, "max_new_tokens", "0 or more", max_new_tokens);
    v.require(min_new_tokens >= 0 && min_new_tokens <= max_new_tokens, "min_new_tokens", "between 0 and max_new_tokens",
              min_new_tokens);
  }
};

/// After each step: the step's token of every row (rows already finished before this step
/// get −1) and which rows are finished now. Return false to stop generating.
using TokenCallback = std::function<bool(const std::vector<int64_t>& tokens, const std::vector<bool>& finished)>;

struct GenerateResult {
  std::vector<std::vector<int64_t>> tokens = {};  ///< new ids per row, EOS included when hit
  std::vector<bool> stopped_on_eos = {};
  int64_t prompt_positions = 0;  ///< T of the (padded) prompt batch
  int64_t steps = 0;             ///< decode steps after the prefill
  double prefill_seconds = 0;    ///< time of the prompt's forward
  double decode_seconds = 0;     ///< time of the remaining steps
};

/** Greedy decoding from input embeddings [B, T, d_llm] with attention mask [B, T] (left padding:
    rows end at the last column). UsageError when T leaves no room below the context length. */
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
