// `xib ask`: answer a question about one or more input files with a trained run's aligners,
// streaming (eval::ask(), xib/eval/answers.h). `--input MODALITY=FILE` is repeatable; every
// loaded modality also gets the shorthand `--MODALITY FILE`.
#include <fmt/format.h>

#include <iostream>
#include <regex>

#include "command.h"
#include "xib/eval/answers.h"
#include "xib/modality.h"
#include "xib/registry.h"

namespace xib::cli {

namespace {

/// "NAME=FILE" → {NAME, FILE}; a plain "FILE" → {"", FILE} (the run's only modality).
eval::AskInput parse_input(const std::string& text) {
  static const std::regex named(R"(([A-Za-z0-9_][A-Za-z0-9_.-]*)=(.+))");
  std::smatch m;
  if (std::regex_match(text, m, named)) return {.modality = m[1].str(), .file = m[2].str()};
  return {.modality = {}, .file = text};
}

int ask(const po::variables_map& vm) {
  if (!vm.count("run")) {
    throw UsageError({.what = "no run given",
                      .expected = "xib ask --run RUN_DIR --input MODALITY=FILE \"question\"",
                      .hint = "RUN_DIR is the out: folder of a `kind: train` recipe"});
  }
  eval::AskOptions o;
  o.run = vm["run"].as<std::string>();
  o.step = vm["step"].as<int64_t>();
  if (vm.count("input")) {
    for (const auto& text : vm["input"].as<std::vector<std::string>>()) o.inputs.push_back(parse_input(text));
  }
  for (const auto& name : Registry::global().names<Modality>()) {
    if (!vm.count(name)) continue;
    for (const auto& file : vm[name].as<std::vector<std::string>>())
      o.inputs.push_back({.modality = name, .file = file});
  }
  if (o.inputs.empty()) {
    throw UsageError({.what = "no input given",
                      .where = "xib ask",
                      .expected = "--input MODALITY=FILE (repeatable; --input FILE when the run has one modality), "
                                  "or --MODALITY FILE",
                      .hint = "see `xib ask --help` for the modalities loaded"});
  }
  if (vm.count("question")) o.question = vm["question"].as<std::string>();
  o.beams = vm["beams"].as<int64_t>();
  if (vm.count("max-new-tokens")) o.max_new_tokens = vm["max-new-tokens"].as<int64_t>();
  if (vm.count("min-new-tokens")) o.min_new_tokens = vm["min-new-tokens"].as<int64_t>();
  if (vm.count("repetition-penalty")) o.repetition_penalty = vm["repetition-penalty"].as<double>();

  const eval::AskResult r = eval::ask(o, [](std::string_view piece) { std::cout << piece << std::flush; });
  std::cout << "\n" << std::flush;
  if (vm.count("stats")) {
    const GenerateResult& g = r.result;
    std::string inputs;
    for (size_t i = 0; i < r.inputs.size(); ++i) {
      inputs += fmt::format("{}{} {}", i ? ", " : "", r.inputs[i].modality, r.inputs[i].file.string());
    }
    std::cerr << fmt::format(
        "{} (step {}); {}; prompt {} positions in {:.3f} s; {} decode steps in {:.3f} s ({}){}\n",
        r.checkpoint.string(), r.step, inputs, g.prompt_positions, g.prefill_seconds, g.steps, g.decode_seconds,
        r.options.num_beams > 1 ? fmt::format("{} beams", r.options.num_beams) : "greedy",
        g.stopped_on_eos.empty() || g.stopped_on_eos.front() ? "" : ", stopped at the token limit");
  }
  return 0;
}

}  // namespace

Command ask_command() {
  return {
      .name = "ask",
      .summary = "ask a trained run about input files (one or several modalities); the answer streams",
      .usage = "xib ask --run RUN_DIR --input MODALITY=FILE… [\"question\"] [--beams N] [--max-new-tokens N]",
      .details =
          "Loads the run's model (config.yaml) with the aligners of its newest complete checkpoint\n"
          "(--step for another), encodes each file with its modality's evaluation preprocessing and\n"
          "answers the question (the instruction of the aligners and the LLM) with SPEC's QA settings;\n"
          "without a question it describes the input (\"a short description\", captioning settings).\n"
          "--input MODALITY=FILE may be repeated to ask about several modalities at once (one file\n"
          "each, in the order given); --input FILE is enough when the run has one modality, and every\n"
          "loaded modality has the shorthand --MODALITY FILE (listed below).\n"
          "Greedy by default, printed token by token; --beams N > 1 runs beam search (SPEC: 5) and\n"
          "prints the answer when it is done. See docs/evaluation.md.",
      .options =
          [](po::options_description& o, po::positional_options_description& p) {
            o.add_options()("run", po::value<std::string>()->value_name("RUN_DIR"),
                            "a trained run folder (config.yaml, checkpoints/)")(
                "input", po::value<std::vector<std::string>>()->value_name("MODALITY=FILE")->composing(),
                "an input file of a modality (repeatable)")(
                "question", po::value<std::string>()->value_name("TEXT"),
                "the question (also the first positional argument; none: describe the input)")(
                "beams", po::value<int64_t>()->default_value(1)->value_name("N"),
                "beam search with N beams (1: greedy, streamed)")("max-new-tokens",
                                                                  po::value<int64_t>()->value_name("N"),
                                                                  "most tokens to generate (QA: 10, caption: 80)")(
                "min-new-tokens", po::value<int64_t>()->value_name("N"),
                "tokens before EOS is allowed (QA: 1, caption: 10)")(
                "repetition-penalty", po::value<double>()->value_name("P"),
                "> 1 discourages repeating generated tokens (QA: 1.5, caption: 1.15)")(
                "step", po::value<int64_t>()->default_value(0)->value_name("N"),
                "the run's checkpoint step (0: the newest complete one)")(
                "stats", "print the checkpoint, prompt and decode timings to stderr");
            // One shorthand per loaded modality: --NAME FILE means --input NAME=FILE.
            for (const auto& name : Registry::global().names<Modality>()) {
              if (name == "run" || name == "input" || name == "question" || name == "beams" || name == "step" ||
                  name == "stats" || name == "help")
                continue;
              o.add_options()(name.c_str(), po::value<std::vector<std::string>>()->value_name("FILE")->composing(),
                              fmt::format("shorthand of --input {}=FILE", name).c_str());
            }
            p.add("question", 1);
          },
      .run = ask,
      .options_from_plugins = true,
  };
}

}  // namespace xib::cli
