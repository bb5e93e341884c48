// `xib ask`: answer a question about any input file with a trained run's aligner, streaming
// (eval::ask(), xib/eval/answers.h).
#include <fmt/format.h>

#include <iostream>

#include "command.h"
#include "xib/eval/answers.h"

namespace xib::cli {

namespace {

int ask(const po::variables_map& vm) {
  if (!vm.count("run")) {
    throw UsageError({.what = "no run given",
                      .expected = "xib ask --run RUN_DIR --image FILE \"question\"",
                      .hint = "RUN_DIR is the out: folder of a `kind: train` recipe"});
  }
  const bool image = vm.count("image") > 0, input = vm.count("input") > 0;
  if (image == input) {
    throw UsageError({.what = image ? "both --image and --input given" : "no input given",
                      .where = "xib ask",
                      .expected = "--image FILE, or --input FILE (with --modality NAME when the run has several)"});
  }
  eval::AskOptions o;
  o.run = vm["run"].as<std::string>();
  o.step = vm["step"].as<int64_t>();
  o.file = image ? vm["image"].as<std::string>() : vm["input"].as<std::string>();
  o.modality = vm.count("modality") ? vm["modality"].as<std::string>() : (image ? "image" : "");
  if (vm.count("question")) o.question = vm["question"].as<std::string>();
  o.beams = vm["beams"].as<int64_t>();
  if (vm.count("max-new-tokens")) o.max_new_tokens = vm["max-new-tokens"].as<int64_t>();
  if (vm.count("min-new-tokens")) o.min_new_tokens = vm["min-new-tokens"].as<int64_t>();
  if (vm.count("repetition-penalty")) o.repetition_penalty = vm["repetition-penalty"].as<double>();

  load_plugins(vm);
  const eval::AskResult r = eval::ask(o, [](std::string_view piece) { std::cout << piece << std::flush; });
  std::cout << "\n" << std::flush;
  if (vm.count("stats")) {
    const GenerateResult& g = r.result;
    std::cerr << fmt::format(
        "{} (step {}); {} {}; prompt {} positions in {:.3f} s; {} decode steps in {:.3f} s ({}){}\n",
        r.checkpoint.string(), r.step, r.modality, o.file.string(), g.prompt_positions, g.prefill_seconds, g.steps,
        g.decode_seconds, r.options.num_beams > 1 ? fmt::format("{} beams", r.options.num_beams) : "greedy",
        g.stopped_on_eos.empty() || g.stopped_on_eos.front() ? "" : ", stopped at the token limit");
  }
  return 0;
}

}  // namespace

Command ask_command() {
  return {
      .name = "ask",
      .summary = "ask a trained run about an image (or any input file); the answer streams",
      .usage = "xib ask --run RUN_DIR --image FILE [\"question\"] [--beams N] [--max-new-tokens N]",
      .details =
          "Loads the run's model (config.yaml) with the aligners of its newest complete checkpoint\n"
          "(--step for another), encodes the file with the modality's evaluation preprocessing and\n"
          "answers the question (the instruction of the aligner and the LLM) with SPEC's QA settings;\n"
          "without a question it describes the input (\"a short description\", captioning settings).\n"
          "Greedy by default, printed token by token; --beams N > 1 runs beam search (SPEC: 5) and\n"
          "prints the answer when it is done. --input FILE with --modality NAME asks about another\n"
          "modality's file (--modality may be left out when the run has one modality).\n"
          "See docs/evaluation.md.",
      .options =
          [](po::options_description& o, po::positional_options_description& p) {
            o.add_options()("run", po::value<std::string>()->value_name("RUN_DIR"),
                            "a trained run folder (config.yaml, checkpoints/)")(
                "image", po::value<std::string>()->value_name("FILE"), "the image to ask about (modality image)")(
                "input", po::value<std::string>()->value_name("FILE"), "an input file of --modality")(
                "modality", po::value<std::string>()->value_name("NAME"), "the modality of --input")(
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
            p.add("question", 1);
          },
      .run = ask,
  };
}

}  // namespace xib::cli
