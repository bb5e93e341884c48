// The LLM prompt of X-InstructBLIP (SPEC "The LLM prompt"): per row
//
//   [prefix] + per modality: [cue] [aligner tokens] [" " when add_space]
//            + [instruction + postfix] + [answer + EOS]          (training)
//
// assembled into input embeddings, an attention mask and labels (−100 everywhere but on the
// answer and its EOS). Training and scoring prompts are right-padded; generation prompts are
// left-padded, as greedy_generate() (xib/generate.h) expects.
//
//   std::vector<ModalityTokens> m = {{"image", " image: ", aligned}};   // aligned: [B, 32, d]
//   Assembled a = assemble_prompt(lm, lm.tokenizer(), options, m, instructions, answers,
//                                 PromptMode::training);
//   Tensor loss = lm.loss(a.embeddings, a.attention_mask, a.labels);
//
// Tokenization follows upstream LAVIS (blip2_vicuna_xinstruct.py):
//  - the prefix is tokenized with BOS;
//  - each cue is tokenized with BOS; with clean_tokenization the cue is lstripped first and its
//    BOS dropped unless it is the very first thing of the prompt (first modality, no prefix);
//    without clean_tokenization every cue keeps its leading space and its BOS;
//  - the instruction + postfix is tokenized with BOS only when clean_tokenization is off; in
//    training prompts it is truncated from the left to max_input_tokens (a kept BOS stays
//    first), as upstream's forward does — its generate() and predict_class() never truncate;
//    generation strips surrounding whitespace from the instruction first (upstream does);
//  - training answers are `answer` tokens without BOS + EOS, truncated from the right to
//    max_answer_tokens (so a truncated answer loses its EOS, as upstream's does; upstream counts
//    the BOS it drops afterwards too and so keeps one token fewer); scoring candidates get no
//    EOS (upstream predict_class);
//  - add_space: the tokens of " " (no BOS) after each modality's aligner tokens, in generation
//    and scoring prompts only — upstream's training forward never adds it, so a training prompt
//    never does, whatever the option says.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "xib/config.h"
#include "xib/tensor.h"

namespace xib {

class Aligner;
class LanguageModel;
class Tokenizer;

/// `model.prompt:` of a recipe.
struct PromptOptions {
  std::string prefix = {};   ///< text before everything ("USER: " in the "improved" configs), BOS kept
  std::string postfix = {};  ///< text after the instruction ("\nASSISTANT:")
  /// Upstream clean_tokenization: cues lstripped, BOS only at the very start, instruction
  /// without BOS. Off: every cue and the instruction carry their own BOS (upstream's default).
  bool clean_tokenization = true;
  /// Add the " " token(s) after each modality's aligner tokens in generation and scoring prompts
  /// (upstream add_space, default on). Training prompts never get it.
  bool add_space = true;
  int64_t max_input_tokens = 128;   ///< training: instruction + postfix tokens kept, truncated from the left
  int64_t max_answer_tokens = 256;  ///< answer + EOS tokens kept, truncated from the right
  /// Shuffle the order of the modalities in each training forward (upstream does). The model
  /// object draws the order from the Rng it is given.
  bool shuffle_modalities = false;
  /// Compatibility switch, default off: reproduce upstream's *training-forward* cues exactly —
  /// every cue keeps its BOS, and with a prefix and clean tokenization each modality's cue and
  /// aligner tokens appear twice (first the cue without BOS, then with it). Upstream's
  /// generation never does this, so the default (off) builds training prompts the way
  /// generation sees them. Only training prompts are affected.
  bool upstream_training_cue_quirk = false;
  /// Compatibility switch, default off: reproduce upstream's instructions for sequence
  /// modalities (video frames, audio segments). Upstream stacks the segments batch-major
  /// (sample b's segment s is row b·S + s) but repeats the instructions frame-major, so that
  /// row gets sample (b·S + s) mod B's instruction: with B > 1 most segments are aligned with
  /// another sample's instruction. Off: every segment gets its own sample's. Training and
  /// generation alike (upstream's Q-Former pass is the same in both).
  bool upstream_sequence_instruction_quirk = false;

  template <class V>
  void fields(V& v) {
    v("prefix", prefix, "text before the whole prompt (tokenized with BOS)");
    v("postfix", postfix, "text appended to the instruction");
    v("clean_tokenization", clean_tokenization, "lstrip cues, BOS only at the start, instruction without BOS");
    v("add_space", add_space, "a ' ' token after each modality's tokens in generation/scoring prompts");
    v("max_input_tokens", max_input_tokens, "training: instruction + postfix tokens kept (left truncation)");
    v("max_answer_tokens", max_answer_tokens, "answer + EOS tokens kept (right truncation)");
    v("shuffle_modalities", shuffle_modalities, "shuffle the modality order in each training forward");
    v("upstream_training_cue_quirk", upstream_training_cue_quirk,
      "reproduce upstream's training cues (BOS on every cue, cue + tokens twice with a prefix)");
    v("upstream_sequence_instruction_quirk", upstream_sequence_instruction_quirk,
      "reproduce upstream's segment instructions (sample (b·S + s) mod B's, not b's)");
  }
  void validate(Validator& v) const {
    v.require(max_input_tokens > 0, "max_input_tokens", "a positive number", max_input_tokens);
    v.require(max_answer_tokens > 0, "max_answer_tokens", "a positive number", max_answer_tokens);
  }
};

/// What a prompt is built for: the layout, padding side and labels differ.
enum class PromptMode {
  training,    ///< answer + EOS appended and labelled; right padding; never add_space
  generation,  ///< no answer; left padding; add_space; labels all −100
  scoring,     ///< a candidate appended and labelled (no EOS); right padding; add_space
};

/// One modality's contribution to the prompt, in prompt order.
struct ModalityTokens {
  std::string name = {};  ///< "image"
  std::string cue = {};   ///< " image: " (as the modality gives it; lstripped here when clean)
  Tensor tokens;          ///< aligner output [B, N, d_llm] (N = Q, or S·Q for a sequence)
};

/// Where one modality's aligner tokens sit in a row: columns [begin, end).
struct ModalitySpan {
  std::string modality = {};
  int64_t begin = 0;
  int64_t end = 0;
};

struct Assembled {
  Tensor embeddings;      ///< [B, T, d_llm] float32; carries the aligners' gradients
  Tensor attention_mask;  ///< [B, T] int64: 1 token, 0 padding
  Tensor labels;          ///< [B, T] int64: −100 except answer (+ EOS) tokens
  Tensor token_ids;       ///< [B, T] int64: −1 at aligner positions, the pad id at padding
  /// Per row, every block of aligner tokens in prompt order (twice per modality with the quirk).
  std::vector<std::vector<ModalitySpan>> spans;
  int64_t pad_id = 0;  ///< the id used for padding
  int64_t eos_id = 0;  ///< the id appended to training answers
};

/** Build the LLM input. `modalities[k].tokens` [B, N_k, d_llm] (d_llm = lm.hidden_size());
    `instructions` B texts; `answers` B texts for training/scoring (ignored for generation).
    → Assembled with T = the longest row; training/scoring right-padded, generation left-padded.
    Token embeddings come from lm.embed() (no gradient); aligner tokens keep theirs.
    ShapeError on a width or batch mismatch; UsageError on missing answers or instructions. */
Assembled assemble_prompt(LanguageModel& lm, const Tokenizer& tokenizer, const PromptOptions& options,
                          std::span<const ModalityTokens> modalities, std::span<const std::string> instructions,
                          std::span<const std::string> answers, PromptMode mode);

/** One modality's encoder features through its aligner. features [B, T, D] → [B, Q, d_llm];
    with `is_sequence`, features [B, S, T, D] → S aligner calls (segment s: [B, T, D] with the B
    instructions) concatenated in segment order → [B, S·Q, d_llm]. ShapeError when the rank or
    D does not fit the aligner, UsageError when instructions.size() != B. With
    `upstream_instruction_quirk`, segment s of row b gets instruction (b·S + s) mod B
    (PromptOptions::upstream_sequence_instruction_quirk). */
Tensor align_modality(Aligner& aligner, const Tensor& features, bool is_sequence,
                      std::span<const std::string> instructions, bool upstream_instruction_quirk = false);

/// The id appended after training answers: the tokenizer's EOS, else the model's first eos id.
/// NotFoundError when neither has one.
int64_t prompt_eos_id(const LanguageModel& lm, const Tokenizer& tokenizer);
/// The id used for padding: the tokenizer's pad, else the model's, else the EOS id.
int64_t prompt_pad_id(const LanguageModel& lm, const Tokenizer& tokenizer);

}  // namespace xib
