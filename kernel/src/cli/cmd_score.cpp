// `xib score`: rank candidate continuations of a prompt by their summed NLL under a language
// model (closed-set classification's rule), printing a table or JSON.
#include <fmt/format.h>

#include <iostream>

#include <nlohmann/json.hpp>

#include "command.h"
#include "lm_prompt.h"
#include "xib/error.h"
#include "xib/json_text.h"
#include "xib/language_model.h"
#include "xib/score.h"
#include "xib/tokenizer.h"

namespace xib::cli {

namespace {

int score(const po::variables_map& vm) {
  if (!vm.count("prompt")) {
    throw UsageError({.what = "no prompt given",
                      .expected = "xib score --model PATH --prompt \"…\" --candidate A --candidate B",
                      .hint = "the prompt may also be the first positional argument"});
  }
  if (!vm.count("candidate")) {
    throw UsageError({.what = "no candidates given",
                      .expected = "one --candidate TEXT per candidate (two or more to rank)",
                      .hint = "e.g. --candidate \" Paris\" --candidate \" London\""});
  }
  const auto candidates = vm["candidate"].as<std::vector<std::string>>();
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (candidates[i].empty()) {
      throw UsageError({.what = "an empty candidate cannot be scored", .where = fmt::format("--candidate #{}", i + 1)});
    }
  }
  const auto model = create_cli_model(vm, "xib score");
  const std::string text = cli_prompt_text(vm, *model);
  const auto scores = score_texts(*model, text, candidates, /*add_bos=*/vm.count("bos") > 0);
  const auto order = rank_by_nll(scores);
  const Tokenizer& tok = model->tokenizer();

  if (vm.count("json")) {
    nlohmann::json out;
    out["model"] = model->name();
    out["prompt"] = text;
    out["candidates"] = nlohmann::json::array();
    for (size_t i = 0; i < candidates.size(); ++i) {
      out["candidates"].push_back({{"text", candidates[i]},
                                   {"tokens", tok.encode(candidates[i], false)},
                                   {"token_logprobs", scores[i].token_logprobs},
                                   {"nll", -scores[i].sum},
                                   {"mean_nll", -scores[i].mean}});
    }
    out["ranking"] = order;
    std::cout << json_text(out, 2) << "\n";
    return 0;
  }
  std::cout << fmt::format("{:>4}  {:>10}  {:>9}  {:>6}  {}\n", "rank", "nll (sum)", "nll/tok", "tokens", "candidate");
  for (size_t r = 0; r < order.size(); ++r) {
    const auto& s = scores[order[r]];
    std::cout << fmt::format("{:>4}  {:>10.4f}  {:>9.4f}  {:>6}  {}\n", r + 1, -s.sum, -s.mean, s.token_logprobs.size(),
                             candidates[order[r]]);
  }
  return 0;
}

}  // namespace

Command score_command() {
  return {
      .name = "score",
      .summary = "rank candidate continuations of a prompt by their NLL under a language model",
      .usage = "xib score --model PATH --prompt \"…\" --candidate A --candidate B … [--raw] [--json]",
      .details =
          "Each candidate is tokenized without BOS or EOS and scored after the prompt: the sum of\n"
          "its tokens' log-probabilities (the NLL is its negative). Candidates are ranked by summed\n"
          "NLL, lowest first, the rule of closed-set classification. Unless --raw, the prompt is the\n"
          "user turn of the model's chat template (with --system as the system turn) and the\n"
          "candidates are the assistant's answer. --json prints per-token log-probabilities too.",
      .options =
          [](po::options_description& o, po::positional_options_description& p) {
            add_model_prompt_options(o, p);
            o.add_options()("candidate", po::value<std::vector<std::string>>()->value_name("TEXT"),
                            "a candidate continuation (repeat the option)")("json", "print JSON instead of a table");
          },
      .run = score,
  };
}

}  // namespace xib::cli
