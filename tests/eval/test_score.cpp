// Candidate scoring (xib/score.h) against transformers' log-probabilities (fixtures from
// tools/fixtures/llama/make_beam_fixture.py), its bad inputs, and `xib score`.
#include "test_skip.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
// clang-format off
#include "llm_fixture.h"
// clang-format on

#include <algorithm>
#include <cmath>
#include <numeric>

#include <nlohmann/json.hpp>

#include "xib/error.h"
#include "xib/score.h"

namespace fs = std::filesystem;
using xib::test::id_rows;
using xib::test::Ref;

namespace {

/// The reference ranking of one row: candidates by summed log-prob, highest first.
std::vector<size_t> ref_ranking(const at::Tensor& logp_row) {
  const at::Tensor sums = logp_row.to(at::kDouble).sum(-1);
  std::vector<size_t> order(sums.size(0));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return sums[a].item<double>() > sums[b].item<double>(); });
  return order;
}

void check_scores(const std::vector<std::vector<xib::CandidateScore>>& got, const at::Tensor& want_logp,
                  double tolerance) {
  REQUIRE(static_cast<int64_t>(got.size()) == want_logp.size(0));
  for (int64_t b = 0; b < want_logp.size(0); ++b) {
    CAPTURE(b);
    REQUIRE(static_cast<int64_t>(got[b].size()) == want_logp.size(1));
    double worst = 0;
    for (int64_t c = 0; c < want_logp.size(1); ++c) {
      const auto& s = got[b][c];
      double sum = 0;
      for (size_t k = 0; k < s.token_logprobs.size(); ++k) {
        const double want = want_logp[b][c][static_cast<int64_t>(k)].item<double>();
        worst = std::max(worst, std::abs(s.token_logprobs[k] - want));
        sum += want;
      }
      CHECK(std::abs(s.sum - sum) <= tolerance * static_cast<double>(s.token_logprobs.size()));
      CHECK(s.mean == doctest::Approx(s.sum / static_cast<double>(s.token_logprobs.size())));
    }
    CHECK(worst <= tolerance);
    CHECK(xib::rank_by_nll(got[b]) == ref_ranking(want_logp[b]));
  }
}

}  // namespace

TEST_CASE("score: per-token log-probs of shared candidates equal transformers' on the tiny model (1e-4)") {
  auto lm = xib::test::load_llm(xib::test::tiny_model(), false);
  const Ref ref(xib::test::eval_data() / "beam_tiny.ref.safetensors");
  const auto cands = id_rows(ref["score_cands"]);
  const at::Tensor e = lm->embed(ref["score_ids"]);
  const auto shared = xib::score_shared_candidates(*lm, e, ref["score_mask"], cands);
  for (const auto& row : shared) {
    REQUIRE(row.size() == cands.size());
    for (size_t c = 0; c < cands.size(); ++c) CHECK(row[c].token_logprobs.size() == cands[c].size());
  }
  check_scores(shared, ref["score_logp"], 1e-4);

  // Per-row candidate lists: row 1 scores a subset in another order, row 0 none.
  const auto per_row = xib::score_candidates(*lm, e, ref["score_mask"], {{}, {cands[2], cands[0]}});
  REQUIRE(per_row[0].empty());
  REQUIRE(per_row[1].size() == 2);
  CHECK(per_row[1][0].sum == doctest::Approx(shared[1][2].sum).epsilon(1e-5));
  CHECK(per_row[1][1].sum == doctest::Approx(shared[1][0].sum).epsilon(1e-5));
}

TEST_CASE("score: bad inputs are errors") {
  auto lm = xib::test::load_llm(xib::test::tiny_model(), false);
  const at::Tensor e = lm->embed(at::tensor({5, 6, 7}, at::kLong).view({1, 3}));
  const at::Tensor m = at::ones({1, 3}, at::kLong);
  CHECK_THROWS_AS(xib::score_shared_candidates(*lm, e, m, {{4}, {}}), xib::UsageError);
  CHECK_THROWS_AS(xib::score_shared_candidates(*lm, e, m, {{4, lm->vocab_size()}}), xib::UsageError);
  CHECK_THROWS_AS(xib::score_shared_candidates(*lm, e, m, {{-1}}), xib::UsageError);
  CHECK_THROWS_AS(xib::score_candidates(*lm, e, m, {{{4}}, {{5}}}), xib::ShapeError);
  CHECK_THROWS_AS(xib::score_shared_candidates(*lm, e, at::ones({1, 2}, at::kLong), {{4}}), xib::ShapeError);
  const std::vector<int64_t> too_long(static_cast<size_t>(lm->context_length()), 4);
  CHECK_THROWS_AS(xib::score_shared_candidates(*lm, e, m, {too_long}), xib::UsageError);
  // No tokenizer loaded: the text convenience says so.
  CHECK_THROWS_AS(xib::score_texts(*lm, "a", {"b"}), xib::Error);
}

TEST_CASE("score: SmolLM2-135M-Instruct log-probs equal transformers' (1e-3), from ids and from text") {
  const fs::path fixture = xib::test::eval_data() / "beam_smollm2.ref.safetensors";
  if (!fs::exists(xib::test::smollm2_gguf()) || !fs::exists(fixture)) {
    return xib::test::skip_missing_model(xib::test::smollm2_gguf(), "smollm2-135m-instruct");
  }
  auto lm = xib::test::load_llm(xib::test::smollm2_gguf(), true);
  const Ref ref(fixture);
  const at::Tensor ids = ref["score_ids"];
  const auto cands = id_rows(ref["score_cands"]);
  check_scores(xib::score_shared_candidates(*lm, lm->embed(ids), at::ones_like(ids), cands), ref["score_logp"], 1e-3);

  const std::string prompt = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n";
  const std::vector<std::string> texts = {"Paris", "London", "The capital of France is Paris.", "Berlin"};
  const auto from_text = xib::score_texts(*lm, prompt, texts);
  check_scores({from_text}, ref["score_logp"], 1e-3);

  // `xib score --raw --json` prints the same numbers and the ranking.
  std::vector<std::string> args = {"score",    "--model", xib::test::smollm2_gguf().string(), "--raw", "--json",
                                   "--prompt", prompt};
  for (const auto& t : texts) {
    args.push_back("--candidate");
    args.push_back(t);
  }
  const auto r = xib::test::run_xib(args);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const auto j = nlohmann::json::parse(r.out);
  REQUIRE(j["candidates"].size() == texts.size());
  for (size_t c = 0; c < texts.size(); ++c) {
    CHECK(j["candidates"][c]["text"] == texts[c]);
    CHECK(j["candidates"][c]["nll"].get<double>() == doctest::Approx(-from_text[c].sum).epsilon(1e-5));
  }
  CHECK(j["ranking"].get<std::vector<size_t>>() == xib::rank_by_nll(from_text));

  // The table lists the most likely candidate first.
  args.erase(std::find(args.begin(), args.end(), "--json"));
  const auto table = xib::test::run_xib(args);
  REQUIRE(table.exit_code == 0);
  const auto first_row = table.out.substr(table.out.find('\n') + 1);
  CHECK(first_row.find(texts[xib::rank_by_nll(from_text).front()]) < first_row.find('\n'));
}

TEST_CASE("xib score: usage errors exit 2") {
  const auto none = xib::test::run_xib({"score", "--model", xib::test::tiny_model().string(), "--prompt", "hi"});
  CHECK(none.exit_code == 2);
  CHECK(none.err.find("candidate") != std::string::npos);
  const auto no_prompt = xib::test::run_xib({"score", "--candidate", "a"});
  CHECK(no_prompt.exit_code == 2);
  const auto empty = xib::test::run_xib({"score", "--prompt", "hi", "--candidate", ""});
  CHECK(empty.exit_code == 2);
}

TEST_CASE("xib score --json: a prompt and candidates that are not UTF-8 still give valid JSON") {
  if (!fs::exists(xib::test::smollm2_gguf()))
    return xib::test::skip_missing_model(xib::test::smollm2_gguf(), "smollm2-135m-instruct");
  const std::string bad = std::string("a photo of \xff\xfe caf") + "\xc3";  // stray bytes, a cut sequence
  const auto r = xib::test::run_xib({"score", "--model", xib::test::smollm2_gguf().string(), "--raw", "--json",
                                     "--prompt", bad, "--candidate", "ok", "--candidate", "\x80 x"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const auto j = nlohmann::json::parse(r.out);                                 // throws on invalid JSON or UTF-8
  CHECK(j["prompt"].get<std::string>().find("a photo of \xef\xbf\xbd") == 0);  // U+FFFD in place
  CHECK(j["candidates"].size() == 2);
  const auto table = xib::test::run_xib(
      {"score", "--model", xib::test::smollm2_gguf().string(), "--raw", "--prompt", bad, "--candidate", "\x80 x"});
  CHECK(table.exit_code == 0);
}
