// Beam search and sampling (xib/generate.h) against transformers 5's generate(inputs_embeds=…):
// fixtures from tools/fixtures/llama/make_beam_fixture.py on the tiny random LLaMA
// (plugins/llama/tests/data/tiny-untied) and on SmolLM2-135M-Instruct (skipped, with a message,
// when the model cache lacks it). Sampling is checked for determinism and distribution.
#include "test_skip.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
// clang-format off
#include "llm_fixture.h"
// clang-format on

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "xib/error.h"
#include "xib/generate.h"

namespace fs = std::filesystem;
using xib::GenerateOptions;
using xib::test::id_rows;
using xib::test::Ref;

namespace {

// SPEC "Evaluation": the captioning and QA settings.
GenerateOptions caption() {
  return {.max_new_tokens = 80, .min_new_tokens = 10, .num_beams = 5, .repetition_penalty = 1.15};
}
GenerateOptions qa() {
  return {.max_new_tokens = 10, .min_new_tokens = 1, .num_beams = 5, .length_penalty = -1.0, .repetition_penalty = 1.5};
}
GenerateOptions ngram() { return {.max_new_tokens = 20, .num_beams = 5, .no_repeat_ngram_size = 2}; }

std::shared_ptr<xib::LanguageModel> tiny() { return xib::test::load_llm(xib::test::tiny_model(), false); }

Ref tiny_ref() { return Ref(xib::test::eval_data() / "beam_tiny.ref.safetensors"); }

/// Runs `options` on the fixture case's prompts; checks every returned hypothesis and its score.
void check_case(xib::LanguageModel& lm, const Ref& ref, const std::string& name, GenerateOptions options) {
  CAPTURE(name);
  options.eos_ids = {2, 3};
  const at::Tensor ids = ref[name + "_ids"], mask = ref[name + "_mask"];
  const auto want = id_rows(ref[name + "_out"]);
  const at::Tensor want_scores = ref[name + "_scores"];
  const auto got = xib::generate(lm, lm.embed(ids), mask, options);
  const auto rows = static_cast<size_t>(ids.size(0));
  REQUIRE(got.returned.size() == rows);
  const auto per_row = static_cast<size_t>(options.num_return_sequences);
  for (size_t b = 0; b < rows; ++b) {
    REQUIRE(got.returned[b].size() == per_row);
    CHECK(got.tokens[b] == want[b * per_row]);
    for (size_t j = 0; j < per_row; ++j) {
      CAPTURE(b);
      CAPTURE(j);
      CHECK(got.returned[b][j].tokens == want[b * per_row + j]);
      CHECK(got.returned[b][j].score ==
            doctest::Approx(want_scores[static_cast<int64_t>(b * per_row + j)].item<double>()).epsilon(1e-4));
    }
  }
}

}  // namespace

TEST_CASE(
    "beam search equals transformers on the tiny model: captioning settings (5 beams, min 10, max 80, rep 1.15)") {
  auto lm = tiny();
  const auto ref = tiny_ref();
  check_case(*lm, ref, "caption", caption());
}

TEST_CASE(
    "beam search equals transformers on the tiny model: QA settings (max 10, length penalty -1, rep 1.5), 3 returned") {
  auto lm = tiny();
  const auto ref = tiny_ref();
  auto o = qa();
  o.num_return_sequences = 3;
  check_case(*lm, ref, "qa", o);
}

TEST_CASE("beam search equals transformers on the tiny model: no_repeat_ngram_size 2") {
  auto lm = tiny();
  const auto ref = tiny_ref();
  check_case(*lm, ref, "ngram", ngram());
  // And the property itself: no 2-gram twice in the output.
  const auto got = xib::generate(*lm, lm->embed(ref["ngram_ids"]), ref["ngram_mask"], ngram());
  std::set<std::pair<int64_t, int64_t>> seen;
  const auto& t = got.tokens.front();
  for (size_t i = 0; i + 1 < t.size(); ++i) CHECK(seen.insert({t[i], t[i + 1]}).second);
}

TEST_CASE("beam search equals transformers on the tiny model: a batch of 2 prompts, one left-padded") {
  auto lm = tiny();
  const auto ref = tiny_ref();
  check_case(*lm, ref, "batch_caption", caption());
  check_case(*lm, ref, "batch_qa", qa());
}

TEST_CASE("beam search: penalty_skips_left_padding changes nothing for unpadded rows") {
  auto lm = tiny();
  const auto ref = tiny_ref();
  auto o = caption();
  o.eos_ids = {2, 3};
  const at::Tensor e = lm->embed(ref["caption_ids"]);
  const auto a = xib::generate(*lm, e, ref["caption_mask"], o);
  o.penalty_skips_left_padding = false;
  const auto b = xib::generate(*lm, e, ref["caption_mask"], o);
  CHECK(a.tokens == b.tokens);
  CHECK(a.tokens == id_rows(ref["caption_out"]));
}

TEST_CASE("beam search: one beam with num_beams 1 is greedy, generate_ids pads like greedy_generate_ids") {
  auto lm = tiny();
  const std::vector<std::vector<int64_t>> prompts = {{5, 6, 7, 8}, {9, 10}};
  GenerateOptions o{.max_new_tokens = 12, .eos_ids = {2, 3}};
  const auto greedy = xib::greedy_generate_ids(*lm, prompts, o);
  CHECK(xib::generate_ids(*lm, prompts, o).tokens == greedy.tokens);
  // Beam search's stop rule with early_stopping "true" still returns num_beams-sized results.
  o.num_beams = 3;
  o.num_return_sequences = 2;
  o.early_stopping = "true";
  const auto beams = xib::generate_ids(*lm, prompts, o);
  REQUIRE(beams.returned.size() == 2);
  for (const auto& row : beams.returned) {
    REQUIRE(row.size() == 2);
    CHECK(row[0].score >= row[1].score);
  }
}

TEST_CASE("beam search: the callback sees progress and can stop early") {
  auto lm = tiny();
  const auto ref = tiny_ref();
  auto o = caption();
  int calls = 0;
  const auto r = xib::generate(*lm, lm->embed(ref["caption_ids"]), ref["caption_mask"], o,
                               [&](const std::vector<int64_t>& tokens, const std::vector<bool>& finished) {
                                 CHECK(tokens.size() == 1);
                                 CHECK(finished.size() == 1);
                                 return ++calls < 3;
                               });
  CHECK(calls == 3);
  CHECK(r.tokens.front().size() <= 3);
  CHECK(r.returned.front().size() == 1);
}

TEST_CASE("generate: invalid options and inputs are errors") {
  auto lm = tiny();
  const at::Tensor e = lm->embed(at::tensor({5, 6, 7}, at::kLong).view({1, 3}));
  const at::Tensor m = at::ones({1, 3}, at::kLong);
  const auto bad = [&](GenerateOptions o) { CHECK_THROWS_AS(xib::generate(*lm, e, m, o), xib::ConfigError); };
  bad({.num_beams = 0});
  bad({.num_beams = 2, .num_return_sequences = 3});
  bad({.num_beams = 2, .early_stopping = "maybe"});
  bad({.repetition_penalty = 0});
  bad({.no_repeat_ngram_size = -1});
  bad({.do_sample = true, .temperature = 0});
  bad({.do_sample = true, .top_k = -1});
  bad({.do_sample = true, .top_p = 1.5});
  bad({.max_new_tokens = 2, .min_new_tokens = 3});
  try {
    xib::generate(*lm, e, m, {.num_beams = 2, .early_stopping = "nevr"});
    FAIL("no error");
  } catch (const xib::ConfigError& err) {
    CHECK(err.report().find("never") != std::string::npos);
  }
  CHECK_THROWS_AS(xib::generate(*lm, e.squeeze(0), m, {.num_beams = 2}), xib::ShapeError);
  CHECK_THROWS_AS(xib::generate(*lm, e, at::ones({1, 4}, at::kLong), {.num_beams = 2}), xib::ShapeError);
  const at::Tensor too_long = at::zeros({1, lm->context_length(), lm->hidden_size()});
  CHECK_THROWS_AS(xib::generate(*lm, too_long, at::ones({1, lm->context_length()}, at::kLong), {.num_beams = 2}),
                  xib::UsageError);
}

TEST_CASE("sampling: same seed same tokens, top-k 1 is greedy, batched rows are independent") {
  auto lm = tiny();
  const at::Tensor ids = at::tensor({5, 6, 7, 8, 0, 0, 9, 10}, at::kLong).view({2, 4});
  const at::Tensor mask = at::tensor({1, 1, 1, 1, 0, 0, 1, 1}, at::kLong).view({2, 4});
  const at::Tensor e = lm->embed(ids);
  GenerateOptions o{.max_new_tokens = 16, .eos_ids = {2, 3}, .do_sample = true, .temperature = 1.5, .seed = 7};
  const auto a = xib::generate(*lm, e, mask, o);
  CHECK(xib::generate(*lm, e, mask, o).tokens == a.tokens);
  o.seed = 8;
  const auto c = xib::generate(*lm, e, mask, o);
  CHECK(c.tokens != a.tokens);  // 2 × 16 draws at temperature 1.5: equal only by a vanishing chance

  GenerateOptions greedy{.max_new_tokens = 16, .eos_ids = {2, 3}};
  GenerateOptions top1 = o;
  top1.top_k = 1;
  CHECK(xib::generate(*lm, e, mask, top1).tokens == xib::greedy_generate(*lm, e, mask, greedy).tokens);
  top1.top_k = 0;
  top1.top_p = 1e-6;  // the nucleus keeps the most likely token only
  top1.temperature = 1.0;
  CHECK(xib::generate(*lm, e, mask, top1).tokens == xib::greedy_generate(*lm, e, mask, greedy).tokens);

  // num_return_sequences samples per row; the first row's samples do not depend on the second row.
  o.num_return_sequences = 3;
  const auto many = xib::generate(*lm, e, mask, o);
  REQUIRE(many.returned.size() == 2);
  CHECK(many.returned[0].size() == 3);
  CHECK(many.tokens[0] == many.returned[0][0].tokens);
}

TEST_CASE("sampling: first-token frequencies follow the (filtered) distribution") {
  auto lm = tiny();
  const at::Tensor ids = at::tensor({11, 12, 13}, at::kLong).view({1, 3});
  const at::Tensor e = lm->embed(ids), mask = at::ones({1, 3}, at::kLong);
  at::Tensor probs;
  {
    at::NoGradGuard g;
    probs = lm->forward(e, mask).select(1, 2).squeeze(0).softmax(-1);  // [V]
  }
  const int n = 4000;
  GenerateOptions o{.max_new_tokens = 1, .num_return_sequences = n, .do_sample = true, .top_k = 0, .seed = 3};
  const auto r = xib::generate(*lm, e, mask, o);
  std::map<int64_t, int> counts;
  for (const auto& h : r.returned[0]) counts[h.tokens.at(0)]++;
  // The five most likely tokens: empirical frequency within 4.5 standard deviations.
  const auto top = std::get<1>(probs.topk(5));
  for (int i = 0; i < 5; ++i) {
    const int64_t t = top[i].item<int64_t>();
    const double p = probs[t].item<double>();
    const double sd = std::sqrt(p * (1 - p) / n);
    CAPTURE(t);
    CHECK(std::abs(counts[t] / static_cast<double>(n) - p) <= 4.5 * sd + 1e-9);
  }
  // top-k 3: only the three most likely tokens ever come out.
  o.top_k = 3;
  o.num_return_sequences = 300;
  std::set<int64_t> allowed = {top[0].item<int64_t>(), top[1].item<int64_t>(), top[2].item<int64_t>()};
  const auto topk = xib::generate(*lm, e, mask, o);  // kept alive: the loop reads into it
  for (const auto& h : topk.returned[0]) CHECK(allowed.count(h.tokens.at(0)) == 1);
  // top-p: only the smallest set reaching p (sorted descending) comes out.
  o.top_k = 0;
  o.top_p = 0.5;
  const auto [sorted, order] = probs.sort(-1, /*descending=*/true);
  std::set<int64_t> nucleus;
  double mass = 0;
  for (int64_t i = 0; mass < 0.5; ++i) {
    nucleus.insert(order[i].item<int64_t>());
    mass += sorted[i].item<double>();
  }
  const auto topp = xib::generate(*lm, e, mask, o);
  for (const auto& h : topp.returned[0]) CHECK(nucleus.count(h.tokens.at(0)) == 1);
}

TEST_CASE("beam search equals transformers on SmolLM2-135M-Instruct: captioning and QA settings") {
  const fs::path fixture = xib::test::eval_data() / "beam_smollm2.ref.safetensors";
  if (!fs::exists(xib::test::smollm2_gguf()))
    return xib::test::skip_missing_model(xib::test::smollm2_gguf(), "smollm2-135m-instruct");
  REQUIRE(fs::exists(fixture));
  auto lm = xib::test::load_llm(xib::test::smollm2_gguf(), false);
  const Ref ref(fixture);
  for (int k = 0; ref.has(fmt::format("p{}_ids", k)); ++k) {
    CAPTURE(k);
    const at::Tensor ids = ref[fmt::format("p{}_ids", k)];
    const at::Tensor e = lm->embed(ids), mask = at::ones_like(ids);
    auto c = caption();
    c.eos_ids = {2};
    CHECK(xib::generate(*lm, e, mask, c).tokens == id_rows(ref[fmt::format("p{}_caption", k)]));
    auto q = qa();
    q.eos_ids = {2};
    CHECK(xib::generate(*lm, e, mask, q).tokens == id_rows(ref[fmt::format("p{}_qa", k)]));
  }
}
