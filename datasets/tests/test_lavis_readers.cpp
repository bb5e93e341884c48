// The caption and qa readers on small LAVIS-format fixtures: ids, input paths, templates,
// answers drawn by frequency, evaluation mode and the options.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

#include "dataset_test_support.h"
#include "xib/prompts.h"

using namespace xib;
using namespace xib::datasets;
using xib::test::dataset_data;
using xib::test::open_lavis;

namespace {
bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}
}  // namespace

TEST_CASE("caption reader: ids, inputs, a sampled template and the caption") {
  const auto d = open_lavis("{reader: caption, path: caption_train.json}");
  CHECK(d.name() == "caption_train");
  CHECK(d.task() == "caption");
  CHECK(d.modalities() == std::vector<std::string>{"image"});
  REQUIRE(d.size() == 4);
  Rng rng(3);
  const Sample s0 = d.get(0, rng);
  CHECK(s0.id == "caption_train:red_1");
  CHECK(s0.dataset == "caption_train");
  CHECK(s0.task == "caption");
  REQUIRE(s0.inputs.count("image") == 1);
  CHECK(s0.inputs.at("image") == std::vector<std::filesystem::path>{dataset_data() / "images/val/0001.png"});
  CHECK(s0.answer == "a red square on its own.");
  CHECK(s0.references == std::vector<std::string>{"a red square on its own."});
  CHECK(contains(instruction_templates("image", "caption"), s0.instruction));
  CHECK(d.get(2, rng).id == "caption_train:2");  // an integer image_id
  CHECK(d.get(3, rng).id == "caption_train:3");  // none: the index
}

TEST_CASE("the instruction comes from the generator: same state same sample, many states many templates") {
  const auto d = open_lavis("{reader: caption, path: caption_train.json}");
  std::set<std::string> seen;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Rng a(seed), b(seed);
    const Sample x = d.get(1, a);
    CHECK(x.instruction == d.get(1, b).instruction);
    seen.insert(x.instruction);
  }
  CHECK(seen.size() == instruction_templates("image", "caption").size());
}

TEST_CASE("caption lists: training draws one caption, evaluation uses 'a short description' and the first") {
  const auto train = open_lavis("{reader: caption, path: caption_eval.json}");
  std::set<std::string> drawn;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    Rng rng(seed);
    const Sample s = train.get(0, rng);
    CHECK(s.references == std::vector<std::string>{"a red square.", "red.", "a small red image."});
    CHECK(contains(s.references, s.answer));
    drawn.insert(s.answer);
  }
  CHECK(drawn.size() == 3);

  const auto eval = open_lavis("{reader: caption, path: caption_eval.json, evaluation: true}");
  Rng rng(1);
  const Sample e = eval.get(0, rng);
  CHECK(e.instruction == "a short description");
  CHECK(e.instruction == kCaptionEvalInstruction);
  CHECK(e.answer == "a red square.");
  CHECK(e.id == "caption_eval:1");
}

TEST_CASE("qa reader: the question inside a template, answers drawn by their frequency") {
  const auto d = open_lavis("{reader: qa, path: vqa_train.json}");
  REQUIRE(d.size() == 3);
  CHECK(d.task() == "qa");
  std::map<std::string, int> count;
  const int n = 8000;
  for (int i = 0; i < n; ++i) {
    Rng rng(static_cast<uint64_t>(i));
    const Sample s = d.get(0, rng);
    CHECK(s.instruction.find("what colour is the square?") != std::string::npos);
    ++count[s.answer];
  }
  // red 3/4, crimson 1/4; σ ≈ 0.005, tolerance 0.03; uniform over distinct answers would give 0.5.
  CHECK(count.size() == 2);
  CHECK(std::abs(count["red"] / double(n) - 0.75) < 0.03);

  Rng rng(5);
  const Sample s0 = d.get(0, rng);
  CHECK(s0.id == "vqa_train:101");
  CHECK(s0.references == std::vector<std::string>{"red", "red", "red", "crimson"});
  const Sample s1 = d.get(1, rng);
  CHECK(s1.id == "vqa_train:q102");
  CHECK(s1.answer == "yes");
  CHECK(s1.references == std::vector<std::string>{"yes"});
  CHECK(d.get(2, rng).id == "vqa_train:2");
  // Every filled template is one of the qa templates with the question put in.
  std::set<std::string> filled;
  for (const auto& t : instruction_templates("image", "qa")) filled.insert(fill_template(t, "is it green?"));
  for (uint64_t seed = 0; seed < 50; ++seed) {
    Rng r(seed);
    CHECK(filled.count(d.get(1, r).instruction) == 1);
  }
}

TEST_CASE("answer weights count repeated answers, in first-seen order") {
  const auto w = answer_weights({"one", "1", "one", "1", "one", "2"});
  REQUIRE(w.size() == 3);
  CHECK(w[0].first == "one");
  CHECK(w[0].second == doctest::Approx(0.5));
  CHECK(w[1].first == "1");
  CHECK(w[1].second == doctest::Approx(1.0 / 3));
  CHECK(w[2].second == doctest::Approx(1.0 / 6));
}

TEST_CASE("qa evaluation: the question as the instruction and the most frequent answer") {
  const auto d = open_lavis("{reader: qa, path: vqa_train.json, evaluation: true}");
  Rng rng(0);
  const Sample s = d.get(2, rng);
  CHECK(s.instruction == "how many squares are there?");
  CHECK(s.answer == "one");
  CHECK(s.references.size() == 6);
}

TEST_CASE("options: modality templates, 3d as pc, own instructions, limit, name, root, task") {
  Rng rng(2);
  const auto audio = open_lavis("{reader: caption, path: caption_train.json, modality: audio}");
  const Sample a = audio.get(0, rng);
  CHECK(a.inputs.count("audio") == 1);
  CHECK(contains(instruction_templates("audio", "caption"), a.instruction));

  const auto pc = open_lavis("{reader: qa, path: vqa_train.json, modality: 3d}");
  CHECK(pc.modalities() == std::vector<std::string>{"pc"});
  CHECK(pc.get(0, rng).inputs.count("pc") == 1);
  CHECK(pc.templates() == instruction_templates("pc", "qa"));

  const auto own =
      open_lavis("{reader: qa, path: vqa_train.json, instructions: ['Q: {question} A:'], limit: 2, name: vqa}");
  CHECK(own.size() == 2);
  const Sample o = own.get(1, rng);
  CHECK(o.instruction == "Q: is it green? A:");
  CHECK(o.id == "vqa:q102");
  CHECK(o.dataset == "vqa");

  const auto rooted = open_lavis("{reader: caption, path: caption_train.json, root: images, check_files: false}");
  CHECK(rooted.get(0, rng).inputs.at("image").front() == dataset_data() / "images/images/val/0001.png");

  const auto tasked = open_lavis("{reader: caption, path: caption_train.json, task: qa, instructions: [describe.]}");
  CHECK(tasked.get(0, rng).task == "qa");
}

TEST_CASE("templates come from the registered prompts of the modality, filling and evaluation instructions") {
  xib::test::register_test_prompts();
  CHECK(instruction_templates("audio", "qa") == xib::test::test_prompts("audio").templates.at("qa"));
  CHECK(modality_prompts("pc")->cue == " pc: ");
  CHECK(fill_template("{question} or {question}?", "x") == "x or x?");
  CHECK(fill_template("no placeholder", "x") == "no placeholder");
  CHECK(evaluation_instruction("caption") == "a short description");
  CHECK(evaluation_instruction("qa", "why?") == "why?");
}

TEST_CASE("sample index past the end is an error") {
  const auto d = open_lavis("{reader: caption, path: caption_train.json}");
  Rng rng(0);
  CHECK_THROWS_AS(d.get(4, rng), Error);
}
