// The LLM prompt assembly, token by token against hand-written rows (word-level tokenizer:
// "[x]" marks aligner positions, "-" an ignored label).
#include <torch/torch.h>

#include "engine_fakes.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/assembly.h"
#include "xib/error.h"

using namespace xib;
using xib::test::FakeLm;
using xib::test::label_text;
using xib::test::mask_text;
using xib::test::row_text;

namespace {

/// Aligner-like tokens [B, N, d] with distinct values, requiring grad.
at::Tensor tokens(int64_t b, int64_t n, int64_t d, double base) {
  return (torch::arange(b * n * d, torch::kFloat32).view({b, n, d}) * 0.5 + base).requires_grad_(true);
}

Assembled build(FakeLm& lm, const PromptOptions& o, const std::vector<ModalityTokens>& m,
                const std::vector<std::string>& instructions, const std::vector<std::string>& answers,
                PromptMode mode) {
  return assemble_prompt(lm, lm.tokenizer(), o, m, instructions, answers, mode);
}

}  // namespace

TEST_CASE("one modality, training: BOS + cue + aligner tokens + instruction + answer + EOS, right-padded") {
  FakeLm lm;
  const std::vector<ModalityTokens> m = {{.name = "image", .cue = " image: ", .tokens = tokens(2, 2, 4, 100)}};
  const Assembled a =
      build(lm, {}, m, {"what is this?", "describe"}, {"a cat", "a small red dog"}, PromptMode::training);
  const auto& tok = lm.tokenizer();
  CHECK(row_text(tok, a.token_ids, 0) == "<s> image: [x] [x] what is this? a cat </s>");
  CHECK(row_text(tok, a.token_ids, 1) == "<s> image: [x] [x] describe a small red dog </s>");
  CHECK(label_text(tok, a.labels, 0) == "- - - - - - - a cat </s>");
  CHECK(label_text(tok, a.labels, 1) == "- - - - - a small red dog </s>");
  CHECK(mask_text(a.attention_mask, 0) == "1 1 1 1 1 1 1 1 1 1");

  // Different lengths: the shorter row is padded on the right with the pad id, mask 0, label −100.
  const Assembled b = build(lm, {}, m, {"what is this?", "describe"}, {"a cat", "a dog"}, PromptMode::training);
  CHECK(row_text(tok, b.token_ids, 1) == "<s> image: [x] [x] describe a dog </s> <pad> <pad>");
  CHECK(label_text(tok, b.labels, 1) == "- - - - - a dog </s> - -");
  CHECK(mask_text(b.attention_mask, 1) == "1 1 1 1 1 1 1 1 0 0");
  CHECK(b.pad_id == 0);
  CHECK(b.eos_id == 2);

  // Where the modality sits, and what the embeddings hold there and elsewhere.
  REQUIRE(a.spans.size() == 2);
  REQUIRE(a.spans[0].size() == 1);
  CHECK(a.spans[0][0].modality == "image");
  CHECK(a.spans[0][0].begin == 2);
  CHECK(a.spans[0][0].end == 4);
  CHECK(a.embeddings.sizes() == std::vector<int64_t>{2, 10, 4});
  CHECK(torch::equal(a.embeddings.slice(1, 2, 4), m[0].tokens));
  const at::Tensor text_ids = a.token_ids.slice(1, 4, 10);
  CHECK(torch::allclose(a.embeddings.slice(1, 4, 10), lm.embed(text_ids)));
}

TEST_CASE("clean_tokenization off: the cue keeps its space and BOS, the instruction gets a BOS") {
  FakeLm lm;
  PromptOptions o;
  o.clean_tokenization = false;
  const std::vector<ModalityTokens> m = {{.name = "image", .cue = " image: ", .tokens = tokens(1, 2, 4, 0)}};
  const Assembled a = build(lm, o, m, {"what is this?"}, {"a cat"}, PromptMode::training);
  CHECK(row_text(lm.tokenizer(), a.token_ids, 0) == "<s> ▁ image: [x] [x] <s> what is this? a cat </s>");
  CHECK(label_text(lm.tokenizer(), a.labels, 0) == "- - - - - - - - - a cat </s>");
}

TEST_CASE("prefix and postfix: the prefix keeps the BOS, the cue loses it") {
  FakeLm lm;
  PromptOptions o;
  o.prefix = "USER: ";
  o.postfix = "\nASSISTANT:";
  const std::vector<ModalityTokens> m = {{.name = "audio", .cue = " audio: ", .tokens = tokens(1, 2, 4, 0)}};
  const Assembled a = build(lm, o, m, {"what is it?"}, {"rain"}, PromptMode::training);
  CHECK(row_text(lm.tokenizer(), a.token_ids, 0) == "<s> USER: audio: [x] [x] what is it? ASSISTANT: rain </s>");
  CHECK(label_text(lm.tokenizer(), a.labels, 0) == "- - - - - - - - - rain </s>");
  CHECK(a.spans[0][0].begin == 3);

  // Without clean tokenization every part keeps its BOS and the cue its space.
  o.clean_tokenization = false;
  const Assembled b = build(lm, o, m, {"what is it?"}, {"rain"}, PromptMode::training);
  CHECK(row_text(lm.tokenizer(), b.token_ids, 0) ==
        "<s> USER: <s> ▁ audio: [x] [x] <s> what is it? ASSISTANT: rain </s>");
}

TEST_CASE("two modalities for generation: BOS on the first cue only, a space after each, left padding") {
  FakeLm lm;
  const std::vector<ModalityTokens> m = {{.name = "image", .cue = " image: ", .tokens = tokens(2, 2, 4, 10)},
                                         {.name = "audio", .cue = " audio: ", .tokens = tokens(2, 3, 4, 50)}};
  // Generation strips the instruction's surrounding whitespace.
  const Assembled a = build(lm, {}, m, {"  which one is louder?  ", "which?"}, {}, PromptMode::generation);
  const auto& tok = lm.tokenizer();
  CHECK(row_text(tok, a.token_ids, 0) == "<s> image: [x] [x] ▁ audio: [x] [x] [x] ▁ which one is louder?");
  CHECK(row_text(tok, a.token_ids, 1) == "<pad> <pad> <pad> <s> image: [x] [x] ▁ audio: [x] [x] [x] ▁ which?");
  CHECK(mask_text(a.attention_mask, 1) == "0 0 0 1 1 1 1 1 1 1 1 1 1 1");
  CHECK(label_text(tok, a.labels, 0) == "- - - - - - - - - - - - - -");
  REQUIRE(a.spans[1].size() == 2);
  CHECK(a.spans[1][0].modality == "image");
  CHECK(a.spans[1][0].begin == 5);
  CHECK(a.spans[1][1].modality == "audio");
  CHECK(a.spans[1][1].begin == 9);
  CHECK(a.spans[1][1].end == 12);
  CHECK(torch::equal(a.embeddings[1].slice(0, 9, 12), m[1].tokens[1]));
  CHECK(torch::equal(a.embeddings[0].slice(0, 6, 9), m[1].tokens[0]));
}

TEST_CASE("add_space: never in training, in generation and scoring unless turned off") {
  FakeLm lm;
  const auto& tok = lm.tokenizer();
  const std::vector<ModalityTokens> m = {{.name = "image", .cue = " image: ", .tokens = tokens(1, 2, 4, 0)}};
  PromptOptions o;  // add_space defaults to on
  CHECK(row_text(tok, build(lm, o, m, {"q?"}, {"yes"}, PromptMode::training).token_ids, 0) ==
        "<s> image: [x] [x] q? yes </s>");
  CHECK(row_text(tok, build(lm, o, m, {"q?"}, {}, PromptMode::generation).token_ids, 0) == "<s> image: [x] [x] ▁ q?");
  // Scoring: the candidate is labelled, without EOS, after a spaced prompt.
  const Assembled s = build(lm, o, m, {"q?"}, {"a dog"}, PromptMode::scoring);
  CHECK(row_text(tok, s.token_ids, 0) == "<s> image: [x] [x] ▁ q? a dog");
  CHECK(label_text(tok, s.labels, 0) == "- - - - - - a dog");
  o.add_space = false;
  CHECK(row_text(tok, build(lm, o, m, {"q?"}, {}, PromptMode::generation).token_ids, 0) == "<s> image: [x] [x] q?");
}

TEST_CASE("truncation in training: the instruction from the left at max_input_tokens, the answer from the right") {
  FakeLm lm;
  const auto& tok = lm.tokenizer();
  const std::vector<ModalityTokens> m = {{.name = "image", .cue = " image: ", .tokens = tokens(2, 1, 4, 0)}};
  PromptOptions o;
  o.max_input_tokens = 3;
  o.max_answer_tokens = 3;
  const Assembled a = build(lm, o, m, {"one two three four five", "six"}, {"a b c d", "a b"}, PromptMode::training);
  CHECK(row_text(tok, a.token_ids, 0) == "<s> image: [x] three four five a b c");  // EOS cut with the answer
  CHECK(label_text(tok, a.labels, 0) == "- - - - - - a b c");
  CHECK(row_text(tok, a.token_ids, 1) == "<s> image: [x] six a b </s> <pad> <pad>");
  // The postfix counts as input; a leading BOS (clean tokenization off) stays first.
  o.clean_tokenization = false;
  o.postfix = " end";
  const Assembled b = build(lm, o, m, {"one two three four five", "six"}, {"x", "y"}, PromptMode::training);
  CHECK(row_text(tok, b.token_ids, 0) == "<s> ▁ image: [x] <s> five end x </s>");
  // Generation and scoring prompts keep the whole instruction (upstream truncates in training only).
  o.clean_tokenization = true;
  o.add_space = false;
  CHECK(row_text(tok, build(lm, o, m, {"one two three four five", "six"}, {}, PromptMode::generation).token_ids, 0) ==
        "<s> image: [x] one two three four five end");
  CHECK(row_text(tok, build(lm, o, m, {"one two three four five", "six"}, {"x", "y"}, PromptMode::scoring).token_ids,
                 0) == "<s> image: [x] one two three four five end x");
}

TEST_CASE("the upstream training cue quirk: off by default, on it doubles cue and tokens with a prefix") {
  FakeLm lm;
  const auto& tok = lm.tokenizer();
  const std::vector<ModalityTokens> m = {{.name = "image", .cue = " image: ", .tokens = tokens(1, 2, 4, 7)}};
  PromptOptions o;
  o.prefix = "USER: ";
  CHECK(row_text(tok, build(lm, o, m, {"q?"}, {"yes"}, PromptMode::training).token_ids, 0) ==
        "<s> USER: image: [x] [x] q? yes </s>");
  o.upstream_training_cue_quirk = true;
  const Assembled a = build(lm, o, m, {"q?"}, {"yes"}, PromptMode::training);
  CHECK(row_text(tok, a.token_ids, 0) == "<s> USER: image: [x] [x] <s> image: [x] [x] q? yes </s>");
  CHECK(label_text(tok, a.labels, 0) == "- - - - - - - - - - yes </s>");
  REQUIRE(a.spans[0].size() == 2);
  CHECK(a.spans[0][1].begin == 7);
  CHECK(torch::equal(a.embeddings[0].slice(0, 3, 5), m[0].tokens[0]));
  CHECK(torch::equal(a.embeddings[0].slice(0, 7, 9), m[0].tokens[0]));
  // Only training prompts: generation is as without it.
  CHECK(row_text(tok, build(lm, o, m, {"q?"}, {}, PromptMode::generation).token_ids, 0) ==
        "<s> USER: image: [x] [x] ▁ q?");
  // Without a prefix it keeps every cue's BOS (upstream's forward), no doubling.
  o.prefix.clear();
  const std::vector<ModalityTokens> two = {m[0], {.name = "audio", .cue = " audio: ", .tokens = tokens(1, 1, 4, 0)}};
  CHECK(row_text(tok, build(lm, o, two, {"q?"}, {"yes"}, PromptMode::training).token_ids, 0) ==
        "<s> image: [x] [x] <s> audio: [x] q? yes </s>");
  o.upstream_training_cue_quirk = false;
  CHECK(row_text(tok, build(lm, o, two, {"q?"}, {"yes"}, PromptMode::training).token_ids, 0) ==
        "<s> image: [x] [x] audio: [x] q? yes </s>");
}

TEST_CASE("gradients reach the aligner tokens through the assembled embeddings, once per use") {
  FakeLm lm;
  const std::vector<ModalityTokens> m = {{.name = "image", .cue = " image: ", .tokens = tokens(1, 2, 4, 0)}};
  PromptOptions o;
  o.prefix = "USER:";
  o.upstream_training_cue_quirk = true;  // the tokens appear twice
  const Assembled a = build(lm, o, m, {"q?"}, {"yes"}, PromptMode::training);
  a.embeddings.sum().backward();
  REQUIRE(m[0].tokens.grad().defined());
  CHECK(torch::allclose(m[0].tokens.grad(), torch::full({1, 2, 4}, 2.0f)));
  CHECK(torch::isfinite(lm.loss(a.embeddings, a.attention_mask, a.labels)).item<bool>());
}

TEST_CASE("align_modality: one call for an input, one per segment for a sequence, concatenated") {
  xib::test::RecordingAligner aligner(2, 3, 4);
  const std::vector<std::string> instructions = {"first", "second"};
  const at::Tensor single = torch::randn({2, 5, 3});
  const at::Tensor out = align_modality(aligner, single, false, instructions);
  CHECK(out.sizes() == std::vector<int64_t>{2, 2, 4});
  REQUIRE(aligner.calls.size() == 1);

  aligner.calls.clear();
  const at::Tensor seq = torch::randn({2, 3, 5, 3});  // B 2, S 3, T 5, D 3
  const at::Tensor s = align_modality(aligner, seq, true, instructions);
  CHECK(s.sizes() == std::vector<int64_t>{2, 6, 4});
  REQUIRE(aligner.calls.size() == 3);
  for (const auto& c : aligner.calls) {
    CHECK(c.instructions == instructions);  // every segment sees its own row's instruction
    CHECK(c.shape == std::vector<int64_t>{2, 5, 3});
  }
  for (int64_t k = 0; k < 3; ++k) {
    const at::Tensor want = aligner.align(seq.select(1, k).contiguous(), instructions);
    CHECK(torch::allclose(s.slice(1, 2 * k, 2 * k + 2), want));
  }
}

TEST_CASE("align_modality: upstream's sequence instruction quirk gives segments other samples' instructions") {
  xib::test::RecordingAligner aligner(2, 3, 4);
  const std::vector<std::string> three = {"a", "b", "c"};
  const at::Tensor seq = torch::randn({3, 2, 5, 3});  // B 3, S 2
  const at::Tensor quirk = align_modality(aligner, seq, true, three, true);
  REQUIRE(aligner.calls.size() == 2);
  // Upstream: row b·S + s of the batch-major stack gets instruction (b·S + s) mod B.
  CHECK(aligner.calls[0].instructions == std::vector<std::string>{"a", "c", "b"});  // s = 0: rows 0, 2, 4
  CHECK(aligner.calls[1].instructions == std::vector<std::string>{"b", "a", "c"});  // s = 1: rows 1, 3, 5
  aligner.calls.clear();
  const at::Tensor own = align_modality(aligner, seq, true, three);
  for (const auto& c : aligner.calls) CHECK(c.instructions == three);
  CHECK(quirk.sizes() == own.sizes());
  // With B = 1 every index is 0: the quirk changes nothing.
  aligner.calls.clear();
  const std::vector<std::string> one = {"a"};
  align_modality(aligner, torch::randn({1, 4, 5, 3}), true, one, true);
  REQUIRE(aligner.calls.size() == 4);
  for (const auto& c : aligner.calls) CHECK(c.instructions == one);
}

TEST_CASE("bad input: wrong widths, ranks and counts are clear errors") {
  FakeLm lm;  // hidden 4
  xib::test::RecordingAligner aligner(2, 3, 4);
  const std::vector<std::string> two = {"a", "b"};
  CHECK_THROWS_AS(align_modality(aligner, torch::randn({2, 5, 3}), true, two), ShapeError);
  CHECK_THROWS_AS(align_modality(aligner, torch::randn({2, 5, 7}), false, two), ShapeError);
  CHECK_THROWS_AS(align_modality(aligner, torch::randn({3, 5, 3}), false, two), UsageError);

  const std::vector<ModalityTokens> wide = {{.name = "image", .cue = " image: ", .tokens = torch::zeros({2, 2, 8})}};
  try {
    build(lm, {}, wide, two, two, PromptMode::training);
    FAIL("a width mismatch was accepted");
  } catch (const ShapeError& e) {
    CHECK(e.info().what.find("hidden size") != std::string::npos);
    CHECK(e.info().where == "modality 'image'");
    CHECK(e.info().got.find("8") != std::string::npos);
  }
  const std::vector<ModalityTokens> ok = {{.name = "image", .cue = " image: ", .tokens = torch::zeros({2, 2, 4})}};
  CHECK_THROWS_AS(build(lm, {}, ok, {"only one"}, {"x"}, PromptMode::training), UsageError);
  CHECK_THROWS_AS(build(lm, {}, ok, two, {"x"}, PromptMode::training), UsageError);
  CHECK_NOTHROW(build(lm, {}, ok, two, {}, PromptMode::generation));
}
