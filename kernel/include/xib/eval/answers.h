// Answering samples with a model: the inputs through the frozen encoders (evaluation
// preprocessing), the aligners and the generation prompt (left-padded), generate(), and the
// generated ids turned into answer text (xib/eval/eval_recipe.h answer_text()). What `kind: eval`
// runs per batch; ask() is `xib ask`: one input of a trained run, streamed.
//
//   eval::Answers a = eval::generate_answers(model, batch, eval::spec_generate_options("caption"));
//   a.texts[k] answers batch[a.kept[k]]
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "xib/generate.h"
#include "xib/sample.h"

namespace xib {

class XInstructBlip;

namespace eval {

struct Answers {
  std::vector<std::string> texts = {};        ///< one per kept sample
  std::vector<size_t> kept = {};              ///< indices into the samples, in order
  std::vector<std::string> skipped_ids = {};  ///< samples whose input failed to decode (skip_undecodable)
  GenerateResult result = {};                 ///< the raw generation (ids, timings)
};

/** Answers `samples` (their instructions) in one generate() call: encode (training = false)
    → build_prompt → generate (beam search when options.num_beams > 1) → answer_text.
    `feature_samples` (same count), when given, are encoded instead of `samples`: sample i is
    answered from the inputs of feature_samples[i] (the blind control). `on_token` sees every
    step (streaming; with beam search each row's best running beam). `order` sets the modalities'
    order in the prompt (default: the model's). Errors as encode() and generate() raise them. */
Answers generate_answers(XInstructBlip& model, std::span<const Sample> samples, const GenerateOptions& options,
                         const TokenCallback& on_token = {}, std::span<const Sample> feature_samples = {},
                         std::span<const std::string> order = {});

/// One input file of a question and its modality.
struct AskInput {
  std::string modality = {};  ///< empty: the run's only modality
  std::filesystem::path file = {};
};

/// What `xib ask` asks.
struct AskOptions {
  std::filesystem::path run = {};  ///< a trained run folder (xib/trained_run.h)
  int64_t step = 0;                ///< its checkpoint (0: the newest complete one)
  /// One file per modality, in the order their tokens go into the prompt.
  std::vector<AskInput> inputs = {};
  std::string question = {};  ///< empty: describe the input ("a short description", caption settings)
  int64_t beams = 1;          ///< 1: greedy, streamed; more: beam search, the answer at the end
  /// Unset: SPEC's value for the task (QA for a question, captioning without one).
  std::optional<int64_t> max_new_tokens = {}, min_new_tokens = {};
  std::optional<double> repetition_penalty = {};
};

struct AskResult {
  std::string answer = {};
  std::vector<AskInput> inputs = {};  ///< with every modality filled in
  std::filesystem::path checkpoint = {};
  int64_t step = 0;
  GenerateOptions options = {};  ///< the generation settings used
  GenerateResult result = {};
};

/** Loads the run (plugins must be loaded), encodes each input file with its modality's
    evaluation preprocessing, and answers `question` (the instruction of the aligners and the LLM)
    from all of them, their tokens in the order of `inputs`. With greedy decoding `on_text`
    receives the answer piece by piece as it is generated (whole UTF-8 characters; the pieces
    concatenate to the answer). NotFoundError for a missing file (checked before the run is
    loaded) or a modality the run lacks (listing its modalities); UsageError for no input, a
    modality given twice, an input without a modality in a run of several, or bad generation
    settings; the run's and the processors' errors as they raise them. */
AskResult ask(const AskOptions& options, const std::function<void(std::string_view)>& on_text = {});

}  // namespace eval
}  // namespace xib
