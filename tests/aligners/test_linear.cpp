// The linear aligner (projection_only) against a plain PyTorch reference (fixtures from
// tools/fixtures/make_qformer_fixtures.py): output, every gradient, loading and bad input.
#include <map>
#include <string>
#include <vector>

#include "aligner_fixtures.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/aligners/linear.h"
#include "xib/weights/maps.h"

using namespace xib;
using xib::test::compare;

namespace {

aligners::LinearOptions fixture_linear() {
  return {.modality = "image", .queries = 8, .hidden = 32, .encoder_width = 24, .llm_width = 16};
}

}  // namespace

TEST_CASE("linear: output and gradients match the PyTorch reference") {
  auto a = aligners::make_linear(fixture_linear());
  const auto p = a->load({.path = test::aligner_data("linear_weights.safetensors")});
  CHECK(p.source_label.find("as lavis") != std::string::npos);
  CHECK(p.assignments.size() == 6);
  CHECK_FALSE(a->uses_instruction());
  CHECK(a->type() == "linear");

  auto io = test::read_tensors("linear_io.safetensors");
  const at::Tensor out = a->align(io["tokens"], {});  // no instruction needed
  const auto d = compare(out, io["output"]);
  CHECK_MESSAGE(d.empty(), d);
  (out * io["probe"]).sum().backward();

  const auto params = a->named_parameters();
  const auto expected =
      weights::maps::linear_params({.queries = 8, .hidden = 32, .encoder_width = 24, .llm_width = 16});
  REQUIRE(params.size() == expected.size());
  std::map<std::string, at::Tensor> want;
  for (size_t i = 0; i < params.size(); ++i) {
    CHECK(params[i].first == expected[i].name);
    CHECK(params[i].second.sizes().vec() == expected[i].shape);
    want[params[i].first] = at::zeros_like(params[i].second).detach();
  }
  io::SafetensorsFile grads(test::aligner_data("linear_grads.safetensors"));
  weights::load_weights(weights::expand(weights::maps::lavis_linear(), {.vars = {{"m", "image"}}}), grads.records(),
                        want);
  for (const auto& [name, t] : params) {
    REQUIRE(t.grad().defined());
    const auto g = compare(t.grad(), want[name]);
    CHECK_MESSAGE(g.empty(), name << ": " << g);
  }
}

TEST_CASE("linear: the instructions do not matter") {
  auto a = aligners::make_linear(fixture_linear());
  at::NoGradGuard no_grad;
  const at::Tensor tokens = at::randn({2, 3, 24});
  const std::vector<std::string> two = {"a", "b"};
  CHECK(at::equal(a->align(tokens, two), a->align(tokens, {})));
}

TEST_CASE("linear: bad input and the wrong checkpoint are refused") {
  auto a = aligners::make_linear(fixture_linear());
  at::NoGradGuard no_grad;
  SUBCASE("wrong encoder width") {
    CHECK(test::report_of<ShapeError>([&] {
            a->align(at::randn({2, 3, 25}), {});
          }).find("[B, T ≥ 1, 24]") != std::string::npos);
  }
  SUBCASE("no tokens to pool") { CHECK_THROWS_AS(a->align(at::randn({2, 0, 24}), {}), ShapeError); }
  SUBCASE("a Q-Former checkpoint") {
    CHECK(test::report_of<ConfigError>([&] {
            a->load({.path = test::aligner_data("qformer_weights.safetensors")});
          }).find("cannot read init format 'hf_instructblip'") != std::string::npos);
  }
  SUBCASE("another modality") {
    auto o = fixture_linear();
    o.modality = "pc";
    auto pc = aligners::make_linear(o);
    CHECK(test::report_of<NotFoundError>([&] {
            pc->load({.path = test::aligner_data("linear_weights.safetensors")});
          }).find("aligners for: image") != std::string::npos);
  }
  SUBCASE("options") {
    auto o = fixture_linear();
    o.queries = 0;
    CHECK(test::report_of<ConfigError>([&] { aligners::make_linear(o); }).find("queries") != std::string::npos);
  }
}
