// Caption metrics (xib::eval) against pycocoevalcap 1.2: BLEU-1..4, ROUGE-L and CIDEr-D on its
// PTBTokenizer output, per image and corpus; the C++ PTB tokenizer against CoreNLP 3.4.1's
// output on the same captions and on extra cases (tests/eval/data/metrics_fixture.json from
// tools/fixtures/eval/make_metrics_fixture.py).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "xib/error.h"
#include "xib/eval/caption_metrics.h"
#include "xib/eval/eval_files.h"
#include "xib/eval/ptb_tokenizer.h"

using namespace xib::eval;
using nlohmann::json;

namespace {

const json& fixture() {
  static const json j =
      json::parse(xib::test::read_file(xib::test::source_dir() / "tests/eval/data/metrics_fixture.json"));
  return j;
}

const json& images() { return fixture()["captions"]["images"]; }

std::vector<CaptionPair> tokenized_pairs() {
  std::vector<CaptionPair> pairs;
  for (const auto& im : images())
    pairs.push_back(
        {im["candidate_tokenized"].get<std::string>(), im["references_tokenized"].get<std::vector<std::string>>()});
  return pairs;
}

}  // namespace

TEST_CASE("eval: the fixture covers the caption kinds it promises") {
  REQUIRE(images().size() == 30);
  std::map<std::string, int> kinds;
  for (const auto& im : images()) ++kinds[im["kind"].get<std::string>()];
  for (const char* k : {"identical", "partial", "empty", "repeated", "long", "unrelated", "other"})
    CHECK_MESSAGE(kinds[k] >= 4, k);
}

TEST_CASE("eval: BLEU-1..4 per image and corpus match pycocoevalcap within 1e-6") {
  BleuResult b = bleu(tokenized_pairs());
  REQUIRE(b.per_image.size() == images().size());
  for (size_t i = 0; i < images().size(); ++i)
    for (int k = 0; k < 4; ++k) {
      CAPTURE(i);
      CAPTURE(k);
      CHECK(std::abs(b.per_image[i][k] - images()[i]["scores"]["Bleu"][k].get<double>()) < 1e-6);
    }
  for (int k = 0; k < 4; ++k)
    CHECK(std::abs(b.corpus[k] - fixture()["captions"]["corpus"]["Bleu"][k].get<double>()) < 1e-6);
  // not a trivial fixture: the scores spread out
  CHECK(b.corpus[3] > 0.05);
  CHECK(b.corpus[3] < 0.95);
}

TEST_CASE("eval: ROUGE-L per image and mean match pycocoevalcap within 1e-6") {
  auto pairs = tokenized_pairs();
  double sum = 0;
  for (size_t i = 0; i < pairs.size(); ++i) {
    CAPTURE(i);
    double r = rouge_l(pairs[i]);
    CHECK(std::abs(r - images()[i]["scores"]["ROUGE_L"].get<double>()) < 1e-6);
    sum += r;
  }
  CHECK(std::abs(sum / pairs.size() - fixture()["captions"]["corpus"]["ROUGE_L"].get<double>()) < 1e-6);
}

TEST_CASE("eval: CIDEr-D per image and corpus match pycocoevalcap within 1e-4") {
  CiderResult c = cider_d(tokenized_pairs());
  REQUIRE(c.per_image.size() == images().size());
  bool some_high = false;
  for (size_t i = 0; i < images().size(); ++i) {
    CAPTURE(i);
    double want = images()[i]["scores"]["CIDEr"].get<double>();
    CHECK(std::abs(c.per_image[i] - want) < 1e-4);
    some_high = some_high || want > 1.0;
  }
  CHECK(some_high);
  CHECK(std::abs(c.corpus - fixture()["captions"]["corpus"]["CIDEr"].get<double>()) < 1e-4);
}

TEST_CASE("eval: the PTB tokenizer reproduces CoreNLP + pycocoevalcap on every fixture caption") {
  int n = 0;
  for (const auto& im : images()) {
    CHECK(ptb_tokenize_caption(im["candidate"].get<std::string>()) == im["candidate_tokenized"].get<std::string>());
    for (size_t r = 0; r < im["references"].size(); ++r) {
      CHECK(ptb_tokenize_caption(im["references"][r].get<std::string>()) ==
            im["references_tokenized"][r].get<std::string>());
      ++n;
    }
  }
  for (const auto& t : fixture()["tokenizer"]) {
    CAPTURE(t["text"].get<std::string>());
    CHECK(ptb_tokenize_caption(t["text"].get<std::string>()) == t["tokenized"].get<std::string>());
    ++n;
  }
  CHECK(n > 150);
}

TEST_CASE("eval: hand-written PTB expectations") {
  CHECK(ptb_tokenize("A man's dog can't jump.") ==
        std::vector<std::string>{"a", "man", "'s", "dog", "ca", "n't", "jump"});
  CHECK(ptb_tokenize("(left) -- right!") == std::vector<std::string>{"-lrb-", "left", "-rrb-", "right"});
  // CoreNLP: a one-letter abbreviation keeps its period unless a capital follows
  CHECK(ptb_tokenize("the U.S. flag, 1,000 stars; 3.5 m. Then vitamin c. and x") ==
        std::vector<std::string>{"the", "u.s.", "flag", "1,000", "stars", "3.5", "m", "then", "vitamin", "c.", "and",
                                 "x"});
  CHECK(ptb_tokenize("").empty());
  CHECK(ptb_tokenize(" ... , ; ").empty());
  CHECK(ptb_tokenize_caption("Two\nlines") == "two lines");
}

TEST_CASE("eval: caption_scores on raw captions equals the scorers on pycocoevalcap's tokens") {
  std::map<std::string, std::string> preds;
  std::map<std::string, std::vector<std::string>> refs;
  for (const auto& im : images()) {
    preds[im["id"].get<std::string>()] = im["candidate"].get<std::string>();
    refs[im["id"].get<std::string>()] = im["references"].get<std::vector<std::string>>();
  }
  CaptionScores s = caption_scores(preds, refs);
  CHECK(s.images == 30);
  const json& corpus = fixture()["captions"]["corpus"];
  for (int k = 0; k < 4; ++k) CHECK(std::abs(s.bleu[k] - corpus["Bleu"][k].get<double>()) < 1e-6);
  CHECK(std::abs(s.rouge_l - corpus["ROUGE_L"].get<double>()) < 1e-6);
  CHECK(std::abs(s.cider - corpus["CIDEr"].get<double>()) < 1e-4);
  REQUIRE(s.per_image.size() == 30);
  for (const auto& im : images()) {
    auto it = std::find_if(s.per_image.begin(), s.per_image.end(),
                           [&](const auto& p) { return p.id == im["id"].get<std::string>(); });
    REQUIRE(it != s.per_image.end());
    CHECK(std::abs(it->cider - im["scores"]["CIDEr"].get<double>()) < 1e-4);
    CHECK(std::abs(it->bleu[3] - im["scores"]["Bleu"][3].get<double>()) < 1e-6);
    CHECK(std::abs(it->rouge_l - im["scores"]["ROUGE_L"].get<double>()) < 1e-6);
  }
  json j = s.to_json();
  CHECK(j["images"] == 30);
  CHECK(j["CIDEr"].get<double>() == s.cider);
  CHECK(j["Bleu_4"].get<double>() == s.bleu[3]);
  CHECK(j["per_image"].size() == 30);
  CHECK_FALSE(s.to_json(false).contains("per_image"));

  // without tokenization, on pre-tokenized text, the same numbers
  std::map<std::string, std::string> tpreds;
  std::map<std::string, std::vector<std::string>> trefs;
  for (const auto& im : images()) {
    tpreds[im["id"].get<std::string>()] = im["candidate_tokenized"].get<std::string>();
    trefs[im["id"].get<std::string>()] = im["references_tokenized"].get<std::vector<std::string>>();
  }
  CaptionScores t = caption_scores(tpreds, trefs, {.tokenize = false});
  CHECK(std::abs(t.cider - s.cider) < 1e-12);
}

TEST_CASE("eval: identical captions score the maximum, disjoint ones zero") {
  std::vector<CaptionPair> same = {{"a man riding a horse on the beach", {"a man riding a horse on the beach"}},
                                   {"two dogs play in the snow", {"two dogs play in the snow"}}};
  BleuResult b = bleu(same);
  for (double v : b.corpus) CHECK(v == doctest::Approx(1.0));
  CHECK(rouge_l(same[0]) == doctest::Approx(1.0));
  CaptionPair disjoint{"xyz", {"a man riding a horse"}};
  CHECK(rouge_l(disjoint) == 0.0);
  CHECK(bleu({disjoint}).corpus[0] < 1e-9);
}

TEST_CASE("eval: caption metrics reject bad input with FormatError") {
  std::map<std::string, std::vector<std::string>> refs = {{"1", {"a cat"}}, {"2", {"a dog"}}};
  CHECK_THROWS_AS(caption_scores({}, refs), xib::FormatError);
  CHECK_THROWS_AS(caption_scores({{"3", "a cow"}}, refs, {.require_all = false}), xib::FormatError);
  CHECK_THROWS_AS(caption_scores({{"1", "a cat"}}, refs), xib::FormatError);  // "2" missing
  CHECK_NOTHROW(caption_scores({{"1", "a cat"}}, refs, {.require_all = false}));
  CHECK_THROWS_AS(caption_scores({{"1", "a cat"}}, {{"1", {}}}), xib::FormatError);
  try {
    caption_scores({{"1", "a cat"}}, refs);
    FAIL("expected FormatError");
  } catch (const xib::FormatError& e) {
    CHECK(std::string(e.what()).find("no prediction") != std::string::npos);
    CHECK(e.info().got == "2");
    CHECK(e.info().hint.find("require_all") != std::string::npos);
  }
  CHECK_THROWS_AS(bleu({}), xib::FormatError);
  CHECK_THROWS_AS(cider_d({}), xib::FormatError);
  CHECK_THROWS_AS(cider_d({{"a cat", {}}}), xib::FormatError);
  CHECK_THROWS_AS(rouge_l({"a cat", {}}), xib::FormatError);
}

TEST_CASE("eval: caption prediction and reference files (COCO formats and plain objects)") {
  xib::test::TempDir dir;
  auto preds = read_caption_predictions(
      dir.write("res.json", R"([{"image_id": 42, "caption": "A cat."}, {"image_id": "x7", "caption": "a dog"}])"));
  CHECK(preds == std::map<std::string, std::string>{{"42", "A cat."}, {"x7", "a dog"}});
  auto refs = read_caption_references(dir.write(
      "ann.json", R"({"annotations": [{"image_id": 42, "caption": "a cat"}, {"image_id": 42, "caption": "cat ."},
                                      {"image_id": "x7", "caption": "a dog"}]})"));
  CHECK(refs["42"] == std::vector<std::string>{"a cat", "cat ."});
  CHECK(refs["x7"].size() == 1);
  CaptionScores s = caption_scores(preds, refs);
  CHECK(s.images == 2);
  CHECK(s.per_image[0].id == "42");

  auto plain = read_caption_references(dir.write("plain.json", R"({"1": ["a b", "c d"]})"));
  CHECK(plain["1"].size() == 2);
  CHECK(read_caption_predictions(dir.write("p.json", R"({"1": "a b"})"))["1"] == "a b");

  auto out = dir / "out/scores.json";
  write_json_file(out, s.to_json());
  CHECK(nlohmann::json::parse(xib::test::read_file(out))["images"] == 2);

  CHECK_THROWS_AS(read_caption_predictions(dir / "missing.json"), xib::IoError);
  CHECK_THROWS_AS(read_caption_predictions(dir.write("bad.json", "[{")), xib::FormatError);
  CHECK_THROWS_AS(read_caption_predictions(dir.write("dup.json", R"([{"image_id": 1, "caption": "a"},
                                                                       {"image_id": 1, "caption": "b"}])")),
                  xib::FormatError);
  CHECK_THROWS_AS(read_caption_predictions(dir.write("noid.json", R"([{"caption": "a"}])")), xib::FormatError);
  CHECK_THROWS_AS(read_caption_predictions(dir.write("num.json", R"([{"image_id": 1, "caption": 3}])")),
                  xib::FormatError);
  CHECK_THROWS_AS(read_caption_predictions(dir.write("fid.json", R"([{"image_id": 1.5, "caption": "a"}])")),
                  xib::FormatError);
  CHECK_THROWS_AS(read_caption_references(dir.write("r1.json", R"({"1": "not a list"})")), xib::FormatError);
  CHECK_THROWS_AS(read_caption_references(dir.write("r2.json", "3")), xib::FormatError);
  try {
    read_caption_predictions(dir.write("noid2.json", R"([{"image_id": 1, "caption": "a"}, {"caption": "b"}])"));
    FAIL("expected FormatError");
  } catch (const xib::FormatError& e) {
    CHECK(e.info().where.find("entry 1") != std::string::npos);
    CHECK(e.info().expected.find("image_id") != std::string::npos);
  }
  CHECK_THROWS_AS(write_json_file(dir.write("file", "x") / "sub.json", s.to_json()), xib::IoError);
}
