// `xib generate`: load a language model through its plugin and stream a greedy continuation.
#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <set>
#include <span>

#include "command.h"
#include "lm_prompt.h"
#include "xib/generate.h"
#include "xib/language_model.h"
#include "xib/tokenizer.h"

namespace xib::cli {

namespace {

int generate(const po::variables_map& vm) {
  if (!vm.count("prompt")) {
    throw UsageError({.what = "no prompt given",
                      .expected = "xib generate --model PATH --prompt \"…\"",
                      .hint = "the prompt may also be the first positional argument"});
  }
  const auto model = create_cli_model(vm, "xib generate");
  const Tokenizer& tok = model->tokenizer();
  const std::string text = cli_prompt_text(vm, *model);
  const std::vector<int64_t> ids = tok.encode(text, /*add_bos=*/vm.count("bos") > 0);

  GenerateOptions options;
  options.max_new_tokens = vm["max-new-tokens"].as<int64_t>();
  options.min_new_tokens = vm["min-new-tokens"].as<int64_t>();
  if (options.max_new_tokens < 0 || options.min_new_tokens < 0 || options.min_new_tokens > options.max_new_tokens) {
    throw UsageError({.what = "bad token counts",
                      .expected = "0 <= --min-new-tokens <= --max-new-tokens",
                      .got = fmt::format("--min-new-tokens {} --max-new-tokens {}", options.min_new_tokens,
                                         options.max_new_tokens)});
  }

  Utf8Stream stream;
  const std::set<int64_t> eos = [&] {
    const auto e = model->eos_ids();
    return std::set<int64_t>(e.begin(), e.end());
  }();
  const auto on_token = [&](const std::vector<int64_t>& step, const std::vector<bool>&) {
    const int64_t id = step.front();
    if (id < 0 || eos.count(id)) return true;
    std::cout << stream.push(tok.decode(std::span<const int64_t>(&id, 1), /*skip_special=*/true)) << std::flush;
    return true;
  };
  const GenerateResult r = greedy_generate_ids(*model, {ids}, options, on_token);
  std::cout << stream.flush() << "\n" << std::flush;

  if (vm.count("stats")) {
    const auto generated = static_cast<int64_t>(r.tokens.front().size());
    std::cerr << fmt::format("prompt: {} tokens in {:.3f} s ({:.1f} tokens/s)\n", r.prompt_positions, r.prefill_seconds,
                             r.prompt_positions / std::max(r.prefill_seconds, 1e-9));
    std::cerr << fmt::format(
        "decode: {} tokens in {:.3f} s ({:.1f} tokens/s){}\n", r.steps, r.decode_seconds,
        r.steps / std::max(r.decode_seconds, 1e-9),
        r.stopped_on_eos.front() ? ", stopped on EOS" : fmt::format(", {} generated, no EOS", generated));
  }
  return 0;
}

}  // namespace

Command generate_command() {
  return {
      .name = "generate",
      .summary = "continue a prompt with a language model (greedy), streaming the text",
      .usage = "xib generate --model PATH --prompt \"…\" [--max-new-tokens N] [--raw] [--system \"…\"]",
      .details =
          "--model takes a .gguf file, an HF model folder (config.json, *.safetensors,\n"
          "tokenizer.json) or a model-cache name (`xib models` lists them). Unless --raw, the prompt\n"
          "is the user turn of the model's chat template (e.g. ChatML), with --system as the\n"
          "system turn. Tokens are printed as they come; --stats prints prompt and decode speed to\n"
          "stderr.",
      .options =
          [](po::options_description& o, po::positional_options_description& p) {
            add_model_prompt_options(o, p);
            o.add_options()("max-new-tokens", po::value<int64_t>()->default_value(128)->value_name("N"),
                            "most tokens to generate")(
                "min-new-tokens", po::value<int64_t>()->default_value(0)->value_name("N"),
                "tokens to generate before EOS is allowed")("stats", "print prompt and decode tokens/s to stderr");
          },
      .run = generate,
  };
}

}  // namespace xib::cli
