// `kind: eval` pieces without a model: SPEC's generation settings, the recipe's checks, the blind
// control's permutation, and generated ids → answer text.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "xib/config.h"
#include "xib/error.h"
#include "xib/eval/eval_recipe.h"
#include "xib/tokenizer.h"

using namespace xib;
using namespace xib::eval;

namespace {

/// Ids → words: 0 "<pad>", 1 "</s>" (special), 2.. plain pieces (8: the first byte of "é").
class WordTokenizer : public Tokenizer {
 public:
  std::string name() const override { return "words"; }
  int64_t vocab_size() const override { return 10; }
  std::vector<int64_t> encode(std::string_view, bool) const override { return {}; }
  std::string decode(std::span<const int64_t> ids, bool skip_special) const override {
    std::string out;
    for (const int64_t id : ids) {
      if (skip_special && (id == 0 || id == 1)) continue;
      out += piece(id);
    }
    return out;
  }
  std::string piece(int64_t id) const override {
    static const char* const words[] = {"<pad>", "</s>", " a", " red", " circle", "\n", " ", "é", " \xC3"};
    return words[id];
  }
  std::optional<int64_t> bos_id() const override { return std::nullopt; }
  std::optional<int64_t> eos_id() const override { return 1; }
  std::optional<int64_t> pad_id() const override { return 0; }
};

EvalRecipe bind_recipe(const std::string& yaml) {
  auto source = ConfigSource::from_string(yaml, "eval.yaml", "/tmp");
  return bind<EvalRecipe>(source->section());
}

}  // namespace

TEST_CASE("eval: SPEC's generation settings per task, each overridable in the recipe") {
  const GenerateOptions c = spec_generate_options("caption");
  CHECK(c.num_beams == 5);
  CHECK(c.max_new_tokens == 80);
  CHECK(c.min_new_tokens == 10);
  CHECK(c.repetition_penalty == doctest::Approx(1.15));
  CHECK(c.length_penalty == doctest::Approx(1.0));
  const GenerateOptions q = spec_generate_options("qa");
  CHECK(q.num_beams == 5);
  CHECK(q.max_new_tokens == 10);
  CHECK(q.min_new_tokens == 1);
  CHECK(q.length_penalty == doctest::Approx(-1.0));
  CHECK(q.repetition_penalty == doctest::Approx(1.5));
  CHECK_THROWS_AS(spec_generate_options("retrieval"), NotFoundError);

  const EvalRecipe r = bind_recipe(
      "run: r\ndata: {test: [{reader: caption, path: a.json}]}\ngenerate: {qa: {num_beams: 1}, caption: "
      "{max_new_tokens: 20}}\n");
  CHECK(r.generate.for_task("qa").num_beams == 1);
  CHECK(r.generate.for_task("qa").length_penalty == doctest::Approx(-1.0));  // the rest stays SPEC's
  CHECK(r.generate.for_task("caption").max_new_tokens == 20);
  CHECK(r.generate.for_task("caption").min_new_tokens == 10);
  CHECK(r.run == std::filesystem::path("/tmp/r"));  // relative to the recipe
  CHECK(r.control == "none");
}

TEST_CASE("eval: bad recipes are ConfigErrors naming the key") {
  const std::string data = "data: {test: [{reader: caption, path: a.json}]}\n";
  const auto message = [&](const std::string& yaml) -> std::string {
    try {
      bind_recipe(yaml);
    } catch (const ConfigError& e) {
      return e.report();
    }
    return "";
  };
  CHECK(message("run: r\n" + data + "control: blnd\n").find("blind") != std::string::npos);
  CHECK(message(data).find("run") != std::string::npos);  // neither run nor model
  CHECK(message("run: r\nmodel: {llm: {path: x}}\n" + data).find("model") != std::string::npos);  // both
  CHECK(message("run: r\n").find("test") != std::string::npos);                                   // no test data
  CHECK(message("run: r\n" + data + "batch_size: 0\n").find("batch_size") != std::string::npos);
  CHECK(message("run: r\n" + data + "qa_metric: bleu\n").find("qa_metric") != std::string::npos);
  CHECK(message("run: r\n" + data + "generate: {qa: {num_beamz: 2}}\n").find("num_beams") != std::string::npos);
  CHECK(message("run: r\n" + data).empty());
}

TEST_CASE("eval: the blind control is a seeded permutation that never gives a sample its own input") {
  // 12 questions about 4 images (3 each) and 9 captions of 9 images.
  for (const size_t per : {size_t{3}, size_t{1}}) {
    const size_t images = per == 3 ? 4 : 9;
    std::vector<std::string> keys;
    for (size_t i = 0; i < images; ++i) {
      for (size_t q = 0; q < per; ++q) keys.push_back("image=" + std::to_string(i) + ".png");
    }
    std::set<std::vector<size_t>> seen;
    for (uint64_t seed = 1; seed <= 5; ++seed) {
      const auto donors = blind_donors(keys, seed);
      REQUIRE(donors.size() == keys.size());
      std::set<size_t> distinct(donors.begin(), donors.end());
      CHECK(distinct.size() == keys.size());  // a permutation
      for (size_t i = 0; i < keys.size(); ++i) CHECK(keys[donors[i]] != keys[i]);
      CHECK(blind_donors(keys, seed) == donors);  // the seed decides
      seen.insert(donors);
    }
    CHECK(seen.size() > 1);  // and different seeds give different assignments
  }
  // Impossible cases: one input for most samples, or a single sample.
  CHECK_THROWS_AS(blind_donors(std::vector<std::string>{"a", "a", "a", "b"}, 1), UsageError);
  CHECK_THROWS_AS(blind_donors(std::vector<std::string>{"a"}, 1), UsageError);
  CHECK(blind_donors(std::vector<std::string>{"a", "a", "b", "b"}, 1).size() == 4);  // exactly half works
}

TEST_CASE("eval: generated ids become the answer with id 0 and EOS dropped, specials skipped, stripped") {
  const WordTokenizer tok;
  const std::vector<int64_t> eos = {1};
  CHECK(answer_text(tok, std::vector<int64_t>{6, 2, 3, 4, 1}, eos) == "a red circle");
  CHECK(answer_text(tok, std::vector<int64_t>{0, 2, 0, 4, 5}, eos) == "a circle");  // id 0 → EOS → skipped
  CHECK(answer_text(tok, std::vector<int64_t>{1}, eos).empty());
  CHECK(answer_text(tok, std::vector<int64_t>{}, eos).empty());
  CHECK(answer_text(tok, std::vector<int64_t>{7, 6}, eos) == "é");
  CHECK(answer_text(tok, std::vector<int64_t>{2, 8}, eos) == "a \xEF\xBF\xBD");  // half of "é" → U+FFFD
}
