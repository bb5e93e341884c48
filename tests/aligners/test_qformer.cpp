// The Q-Former aligner against transformers' InstructBlipQFormerModel (fixtures from
// tools/fixtures/make_qformer_fixtures.py): outputs and the gradient of every parameter, dropout
// in training mode, WordPiece instructions end to end, and bad input.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aligner_fixtures.h"
#include "test_skip.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/aligners/qformer.h"
#include "xib/model_cache.h"
#include "xib/text/wordpiece.h"
#include "xib/weights/maps.h"

using namespace xib;
using xib::test::compare;

namespace {

std::unique_ptr<aligners::QFormerAligner> fixture_aligner() {
  auto a = aligners::make_qformer(test::fixture_qformer());
  const auto plan = a->load({.path = test::aligner_data("qformer_weights.safetensors")});
  REQUIRE_MESSAGE(plan.ok(), plan.summary());
  return a;
}

std::filesystem::path vocab_txt() { return ModelCache::default_root() / "all-minilm-l6-v2" / "vocab.txt"; }

}  // namespace

TEST_CASE("qformer: parameters are the table of weights::maps::qformer_params") {
  const auto o = test::fixture_qformer();
  const auto a = aligners::make_qformer(o);
  const auto expected = weights::maps::qformer_params(o.shape());
  const auto params = a->named_parameters();
  REQUIRE(params.size() == expected.size());
  for (size_t i = 0; i < params.size(); ++i) {
    CHECK(params[i].first == expected[i].name);
    CHECK(params[i].second.sizes().vec() == expected[i].shape);
    CHECK(params[i].second.requires_grad());
  }
  CHECK(a->num_queries() == 8);
  CHECK(a->input_width() == 24);
  CHECK(a->output_width() == 16);
  CHECK(a->uses_instruction());
}

TEST_CASE("qformer: output and every gradient match transformers' InstructBLIP Q-Former") {
  auto a = fixture_aligner();
  a->set_training(false);
  auto io = test::read_tensors("qformer_io.safetensors");
  CHECK(io["mask"].sum().item<int64_t>() < io["mask"].numel());  // the batch has padded instructions

  const at::Tensor out = a->align_ids(io["tokens"], io["ids"], io["mask"]);
  const auto diff = compare(out, io["output"]);
  CHECK_MESSAGE(diff.empty(), diff);

  (out * io["probe"]).sum().backward();
  // The reference gradients carry transformers' names: the same map brings them to ours.
  const auto params = a->named_parameters();
  std::map<std::string, at::Tensor> want;
  for (const auto& [name, p] : params) want[name] = at::zeros_like(p).detach();
  io::SafetensorsFile grads(test::aligner_data("qformer_grads.safetensors"));
  const auto em = weights::expand(weights::maps::hf_instructblip_qformer({.cross_attention_freq = 2}), {.layers = 3});
  const auto report = weights::load_weights(em, grads.records(), want);
  CHECK(report.loaded == params.size());
  int nonzero = 0;
  for (const auto& [name, p] : params) {
    const at::Tensor g = p.grad().defined() ? p.grad() : at::zeros_like(p);
    const auto d = compare(g, want[name]);
    CHECK_MESSAGE(d.empty(), name << ": " << d);
    nonzero += want[name].abs().sum().item<double>() > 0 ? 1 : 0;
  }
  // Only the last layer's text FFN cannot reach the output (6 tensors with zero gradient).
  CHECK(nonzero == static_cast<int>(params.size()) - 6);
}

TEST_CASE("qformer: training mode applies dropout, seeded") {
  auto a = fixture_aligner();
  auto io = test::read_tensors("qformer_io.safetensors");
  at::NoGradGuard no_grad;
  a->set_training(false);
  const at::Tensor eval1 = a->align_ids(io["tokens"], io["ids"], io["mask"]);
  const at::Tensor eval2 = a->align_ids(io["tokens"], io["ids"], io["mask"]);
  CHECK(at::equal(eval1, eval2));

  a->set_training(true);
  CHECK(a->training());
  a->seed_dropout(7);
  const at::Tensor train1 = a->align_ids(io["tokens"], io["ids"], io["mask"]);
  const at::Tensor train2 = a->align_ids(io["tokens"], io["ids"], io["mask"]);
  a->seed_dropout(7);
  const at::Tensor train1_again = a->align_ids(io["tokens"], io["ids"], io["mask"]);
  CHECK_FALSE(at::allclose(train1, eval1, 1e-3, 1e-3));
  CHECK_FALSE(at::allclose(train1, train2, 1e-3, 1e-3));  // the stream moves on
  CHECK(at::equal(train1, train1_again));                 // same seed, same masks

  // A second aligner with the same seed option reproduces the first's training outputs.
  auto b = fixture_aligner();
  b->set_training(true);
  b->seed_dropout(7);
  CHECK(at::equal(b->align_ids(io["tokens"], io["ids"], io["mask"]), train1));
}

TEST_CASE("qformer: WordPiece instructions end to end match transformers' tokenizer and model") {
  if (!std::filesystem::exists(vocab_txt())) {
    xib::test::skip_missing_model(vocab_txt().string(), "all-minilm-l6-v2");
    return;
  }
  std::ifstream in(test::aligner_data("qformer_wordpiece.json"));
  const auto doc = nlohmann::json::parse(in);
  const auto instructions = doc["instructions"].get<std::vector<std::string>>();
  const auto ids = doc["ids"].get<std::vector<std::vector<int64_t>>>();
  const auto mask = doc["attention_mask"].get<std::vector<std::vector<int64_t>>>();
  auto io = test::read_tensors("qformer_wordpiece.safetensors");

  // The fixture's weights with a 30523-row word embedding: w[r, c] = 0.02 sin(0.37 r + 1.3 c).
  auto small = fixture_aligner();
  auto o = test::fixture_qformer();
  o.vocab = 30523;
  o.vocab_file = vocab_txt();
  auto a = aligners::make_qformer(o);
  {
    at::NoGradGuard no_grad;
    const auto src = small->named_parameters();
    const auto dst = a->named_parameters();
    for (size_t i = 0; i < dst.size(); ++i) {
      if (dst[i].first == "qformer.embeddings.word.weight") {
        const auto r = at::arange(30523, at::kDouble).unsqueeze(1), c = at::arange(32, at::kDouble).unsqueeze(0);
        dst[i].second.copy_((0.37 * r + 1.3 * c).sin().mul(0.02).to(at::kFloat));
      } else {
        dst[i].second.copy_(src[i].second);
      }
    }
  }
  // Our tokenizer gives transformers' ids (left truncation to 128 for the long instruction).
  const auto batch = a->tokenizer()->encode_batch(instructions, {.max_length = 128});
  REQUIRE(batch.length == static_cast<int64_t>(ids[0].size()));
  for (size_t b = 0; b < ids.size(); ++b) {
    for (size_t t = 0; t < ids[b].size(); ++t) {
      CHECK(batch.at(static_cast<int64_t>(b), static_cast<int64_t>(t)) == ids[b][t]);
      CHECK(batch.attention_mask[b * ids[b].size() + t] == mask[b][t]);
    }
  }
  CHECK(batch.length == 128);                        // the long instruction was cut …
  CHECK(ids[2].back() == a->tokenizer()->sep_id());  // … from the left: it still ends with [SEP]
  CHECK(ids[1][0] == a->tokenizer()->cls_id());      // the empty instruction is [CLS] [SEP]
  CHECK(ids[1][1] == a->tokenizer()->sep_id());
  CHECK(mask[1][2] == 0);

  at::NoGradGuard no_grad;
  const at::Tensor out = a->align(io["tokens"], instructions);
  const auto d = compare(out, io["output"]);
  CHECK_MESSAGE(d.empty(), d);
}

TEST_CASE("qformer: an instruction longer than max_text_tokens keeps its end") {
  if (!std::filesystem::exists(vocab_txt())) return;
  auto o = test::fixture_qformer();
  o.vocab = 30523;
  o.max_text_tokens = 6;
  o.vocab_file = vocab_txt();
  auto a = aligners::make_qformer(o);
  const std::vector<std::string> text = {"one two three four five six seven"};
  const auto batch = a->tokenizer()->encode_batch(text, {.max_length = 6});
  REQUIRE(batch.length == 6);
  const auto tok = a->tokenizer();
  CHECK(batch.at(0, 0) == tok->cls_id());
  CHECK(tok->piece(batch.at(0, 1)) == "four");
  CHECK(tok->piece(batch.at(0, 4)) == "seven");
  CHECK(batch.at(0, 5) == tok->sep_id());
  // align() applies the same limit: its output equals align_ids() on the truncated ids.
  at::NoGradGuard no_grad;
  const at::Tensor tokens = at::randn({1, 3, 24});
  const at::Tensor ids = at::tensor(batch.ids, at::kLong).view({1, 6});
  CHECK(at::allclose(a->align(tokens, text), a->align_ids(tokens, ids, at::ones_like(ids))));
}

TEST_CASE("qformer: bad input is refused with what was expected") {
  auto a = aligners::make_qformer(test::fixture_qformer());
  at::NoGradGuard no_grad;
  const at::Tensor ids = at::ones({2, 4}, at::kLong), mask = at::ones({2, 4}, at::kLong);

  SUBCASE("wrong encoder width") {
    try {
      a->align_ids(at::randn({2, 5, 32}), ids, mask);
      FAIL("no error");
    } catch (const ShapeError& e) {
      CHECK(e.report().find("[B, T, 24]") != std::string::npos);
      CHECK(e.report().find("[2, 5, 32]") != std::string::npos);
      CHECK(e.report().find("encoder_width") != std::string::npos);
    }
  }
  SUBCASE("tokens without a batch dimension") {
    CHECK_THROWS_AS(a->align_ids(at::randn({5, 24}), ids, mask), ShapeError);
  }
  SUBCASE("ids of another batch") {
    CHECK(test::report_of<ShapeError>([&] {
            a->align_ids(at::randn({3, 5, 24}), ids, mask);
          }).find("[3, L]") != std::string::npos);
  }
  SUBCASE("token id outside the vocabulary") {
    CHECK(test::report_of<ShapeError>([&] {
            a->align_ids(at::randn({2, 5, 24}), ids * 80, mask);
          }).find("[0, 80)") != std::string::npos);
  }
  SUBCASE("more tokens than positions") {
    const at::Tensor long_ids = at::ones({2, 129}, at::kLong);
    CHECK(test::report_of<ShapeError>([&] {
            a->align_ids(at::randn({2, 5, 24}), long_ids, at::ones_like(long_ids));
          }).find("max_positions") != std::string::npos);
  }
  SUBCASE("instruction count differs from the batch") {
    const std::vector<std::string> one = {"hi"};
    CHECK(test::report_of<ShapeError>([&] {
            a->align(at::randn({2, 5, 24}), one);
          }).find("2 instructions") != std::string::npos);
  }
  SUBCASE("no instruction tokens at all is allowed: the queries alone") {
    const at::Tensor none = at::zeros({2, 0}, at::kLong);
    CHECK(a->align_ids(at::randn({2, 5, 24}), none, none).sizes() == at::IntArrayRef({2, 8, 16}));
  }
  SUBCASE("options") {
    auto o = test::fixture_qformer();
    o.heads = 5;
    o.dropout = 1.0;
    try {
      aligners::make_qformer(o);
      FAIL("no error");
    } catch (const ConfigError& e) {
      CHECK(e.report().find("heads") != std::string::npos);
      CHECK(e.info().details.size() == 1);  // dropout too, reported at once
    }
  }
}

TEST_CASE("qformer: a missing vocabulary file says where to get one") {
  auto o = test::fixture_qformer();
  o.vocab_file = "/nonexistent/vocab.txt";
  auto a = aligners::make_qformer(o);
  const std::vector<std::string> text = {"hi"};
  CHECK(test::report_of<NotFoundError>([&] {
          a->align(at::randn({1, 2, 24}), text);
        }).find("vocab_file") != std::string::npos);
}
