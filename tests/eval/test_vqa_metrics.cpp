// VQA answer normalisation and accuracy (xib::eval) against the official VQA evaluation code
// (GT-Vision-Lab/VQA vqaEval.py, as copied by LAVIS) run by
// tools/fixtures/eval/make_metrics_fixture.py → tests/eval/data/metrics_fixture.json.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "xib/error.h"
#include "xib/eval/eval_files.h"
#include "xib/eval/vqa_metrics.h"

using namespace xib::eval;
using nlohmann::json;

namespace {

const json& vqa_fixture() {
  static const json j =
      json::parse(xib::test::read_file(xib::test::source_dir() / "tests/eval/data/metrics_fixture.json"))["vqa"];
  return j;
}

}  // namespace

TEST_CASE("eval: VQA processPunctuation and processDigitArticle are identical on every case") {
  const json& cases = vqa_fixture()["normalization"];
  REQUIRE(cases.size() >= 70);
  for (const auto& c : cases) {
    const std::string text = c["text"].get<std::string>();
    CAPTURE(text);
    CHECK(vqa_process_punctuation(text) == c["punctuation"].get<std::string>());
    CHECK(vqa_process_digit_article(text) == c["digit_article"].get<std::string>());
    CHECK(vqa_normalize_answer(text) == c["normalized"].get<std::string>());
  }
}

TEST_CASE("eval: VQA accuracy equals the official per-question accuracy") {
  const json& cases = vqa_fixture()["accuracy"];
  REQUIRE(cases.size() >= 15);
  std::set<double> distinct;
  for (const auto& c : cases) {
    CAPTURE(c["prediction"].get<std::string>());
    double got = vqa_answer_accuracy(c["prediction"].get<std::string>(), c["answers"].get<std::vector<std::string>>());
    double want = c["accuracy"].get<double>();
    CHECK(std::abs(got - want) < 1e-12);
    distinct.insert(want);
  }
  CHECK(distinct.size() >= 4);  // 0, 0.3, 0.6, 0.9, 1 and between
}

TEST_CASE("eval: VQA accuracy by hand: min(n/3, 1) over the leave-one-out subsets") {
  std::vector<std::string> answers(10, "no");
  for (int i = 0; i < 2; ++i) answers[i] = "yes";
  // 2 humans said yes: 8 subsets keep both (2/3), 2 subsets keep one (1/3) → 0.6
  CHECK(vqa_answer_accuracy("Yes.", answers) == doctest::Approx(0.6));
  CHECK(vqa_answer_accuracy("no", answers) == doctest::Approx(1.0));
  CHECK(vqa_answer_accuracy("maybe", answers) == 0.0);
  CHECK(vqa_answer_accuracy("two", {"2"}) == 0.0);  // one answer: the others are empty
  CHECK(exact_match_accuracy("Two", {"2"}) == 1.0);
  CHECK(exact_match_accuracy("the cat", {"dog", "Cat!"}) == 1.0);
  CHECK(exact_match_accuracy("cats", {"cat"}) == 0.0);
}

TEST_CASE("eval: vqa_accuracy aggregates per question and per type, and writes JSON") {
  std::map<std::string, VqaReference> refs;
  refs["q1"] = {std::vector<std::string>(10, "yes"), "yes/no", "is this"};
  refs["q2"] = {{"2", "2", "2", "3", "3", "3", "3", "3", "3", "3"}, "number", "how many"};
  refs["q3"] = {std::vector<std::string>(10, "red"), "other", "what color"};
  std::map<std::string, std::string> preds = {{"q1", "Yes"}, {"q2", "two"}, {"q3", "blue"}};
  VqaScores s = vqa_accuracy(preds, refs);
  CHECK(s.questions == 3);
  CHECK(s.per_question["q1"] == doctest::Approx(100.0));
  CHECK(s.per_question["q2"] == doctest::Approx(90.0));  // 3 said 2: 7 subsets 1, 3 subsets 2/3
  CHECK(s.per_question["q3"] == 0.0);
  CHECK(s.accuracy == doctest::Approx((100.0 + 90.0 + 0.0) / 3));
  CHECK(s.per_answer_type["number"] == doctest::Approx(90.0));
  CHECK(s.per_question_type["what color"] == 0.0);
  json j = s.to_json();
  CHECK(j["overall"].get<double>() == s.accuracy);
  CHECK(j["perAnswerType"]["yes/no"].get<double>() == doctest::Approx(100.0));
  CHECK(j["perQuestion"]["q2"].get<double>() == doctest::Approx(90.0));
  CHECK_FALSE(s.to_json(false).contains("perQuestion"));

  VqaScores e = vqa_accuracy({{"q1", "yes"}}, {{"q1", {{"Yes!"}}}}, {.metric = "exact"});
  CHECK(e.accuracy == doctest::Approx(100.0));
  CHECK(e.per_answer_type.empty());
}

TEST_CASE("eval: vqa_accuracy rejects bad input") {
  std::map<std::string, VqaReference> refs = {{"q1", {{"yes"}}}, {"q2", {{"no"}}}};
  CHECK_THROWS_AS(vqa_accuracy({}, refs), xib::FormatError);
  CHECK_THROWS_AS(vqa_accuracy({{"q9", "yes"}}, refs, {.require_all = false}), xib::FormatError);
  CHECK_THROWS_AS(vqa_accuracy({{"q1", "yes"}}, refs), xib::FormatError);
  CHECK_NOTHROW(vqa_accuracy({{"q1", "yes"}}, refs, {.require_all = false}));
  CHECK_THROWS_AS(vqa_accuracy({{"q1", "yes"}}, {{"q1", {}}}), xib::FormatError);
  CHECK_THROWS_AS(vqa_answer_accuracy("yes", {}), xib::FormatError);
  CHECK_THROWS_AS(exact_match_accuracy("yes", {}), xib::FormatError);
  try {
    vqa_accuracy({{"q1", "yes"}}, {{"q1", {{"yes"}}}}, {.metric = "exactt"});
    FAIL("expected ConfigError");
  } catch (const xib::ConfigError& e) {
    CHECK(e.report().find("exact") != std::string::npos);
  }
  try {
    vqa_accuracy({{"q1", "yes"}}, {{"q1", {}}});
    FAIL("expected FormatError");
  } catch (const xib::FormatError& e) {
    CHECK(e.info().where == "question q1");
  }
}

TEST_CASE("eval: VQA prediction and reference files (VQA v2, LAVIS and plain formats)") {
  xib::test::TempDir dir;
  auto preds = read_vqa_predictions(
      dir.write("res.json", R"([{"question_id": 1, "answer": "Two"}, {"question_id": 2, "answer": "yes"}])"));
  CHECK(preds["1"] == "Two");
  auto refs = read_vqa_references(dir.write("ann.json", R"({"annotations": [
      {"question_id": 1, "answer_type": "number", "question_type": "how many",
       "answers": [{"answer": "2", "answer_id": 1}, {"answer": "2", "answer_id": 2}, {"answer": "2", "answer_id": 3}]},
      {"question_id": 2, "answers": [{"answer": "no"}]}]})"));
  CHECK(refs["1"].answers.size() == 3);
  CHECK(refs["1"].answer_type == "number");
  CHECK(refs["1"].question_type == "how many");
  VqaScores s = vqa_accuracy(preds, refs);
  CHECK(s.per_question["1"] == doctest::Approx(200.0 / 3));  // each subset keeps 2 of 3 → 2/3
  CHECK(s.per_question["2"] == 0.0);

  auto lavis = read_vqa_references(
      dir.write("lavis.json", R"([{"question_id": "q", "answer": ["a", "b"]}, {"question_id": "r", "answer": "c"}])"));
  CHECK(lavis["q"].answers == std::vector<std::string>{"a", "b"});
  CHECK(lavis["r"].answers == std::vector<std::string>{"c"});
  CHECK(read_vqa_references(dir.write("plain.json", R"({"7": ["x"]})"))["7"].answers.size() == 1);
  CHECK(read_vqa_predictions(dir.write("p.json", R"({"7": "x"})"))["7"] == "x");

  CHECK_THROWS_AS(read_vqa_references(dir / "missing.json"), xib::IoError);
  CHECK_THROWS_AS(read_vqa_references(dir.write("dup.json", R"([{"question_id": 1, "answer": "a"},
                                                                  {"question_id": 1, "answer": "b"}])")),
                  xib::FormatError);
  CHECK_THROWS_AS(read_vqa_references(dir.write("b1.json", R"([{"question_id": 1}])")), xib::FormatError);
  CHECK_THROWS_AS(read_vqa_references(dir.write("b2.json", R"([{"question_id": 1, "answers": "a"}])")),
                  xib::FormatError);
  CHECK_THROWS_AS(read_vqa_references(dir.write("b3.json", R"([{"question_id": 1, "answers": [{"x": 1}]}])")),
                  xib::FormatError);
  CHECK_THROWS_AS(read_vqa_predictions(dir.write("b4.json", R"([{"question_id": 1, "answer": null}])")),
                  xib::FormatError);
  CHECK_THROWS_AS(read_vqa_predictions(dir.write("b5.json", R"("text")")), xib::FormatError);
}
