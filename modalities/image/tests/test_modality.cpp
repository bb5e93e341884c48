// The image Modality from a recipe section: processor, encoder and its own aligner; the plugin
// registers it and `xib plugins` lists it.
#include <torch/torch.h>

#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "image_modality.h"
#include "image_prompts.h"
#include "test_support.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/aligner.h"
#include "xib/error.h"
#include "xib/prompts.h"
#include "xib/registry.h"

namespace fs = std::filesystem;
using namespace xib;

namespace {

fs::path data() { return fs::path(XIB_IMAGE_TEST_DATA); }

ConfigSection section(const std::string& yaml) {
  auto src = ConfigSource::from_string(yaml, "test.yaml", data());
  return src->section("image");
}

/// What the model hands the modality: its name and the LLM's width (0: encoder only).
ModalityContext context(int64_t llm_width) { return {.name = "image", .llm_width = llm_width}; }

}  // namespace

TEST_CASE("image modality: processor, encoder and a linear aligner from one section") {
  image::ImageModality m(context(16), section(R"(
image:
  encoder: {type: efficientnet_lite0, random_init: true}
  aligner: {type: linear, queries: 4, hidden: 8}
)"));
  CHECK(m.name() == "image");
  CHECK(m.cue() == " image: ");
  CHECK_FALSE(m.is_sequence());
  const torch::Tensor px = m.processor().load(data() / "processor/odd_p.png", false);
  CHECK(px.sizes() == torch::IntArrayRef{3, 224, 224});
  const torch::Tensor tokens = m.encoder().encode(px.unsqueeze(0));
  CHECK(tokens.sizes() == torch::IntArrayRef{1, 49, 1280});
  REQUIRE(m.has_aligner());
  CHECK(m.aligner().type() == "linear");
  CHECK(m.aligner().input_width() == 1280);  // the encoder's width, handed over by the modality
  CHECK(m.aligner().output_width() == 16);   // the LLM's, from the context
  const std::vector<std::string> instr = {"a short description"};
  CHECK(m.aligner().align(tokens, instr).sizes() == torch::IntArrayRef{1, 4, 16});
}

TEST_CASE("image modality: eva_vit_g with the upstream normalisation and sizes from the recipe") {
  image::ImageModality m(context(0), section(R"(
image:
  encoder: {type: eva_vit_g, weights: eva/timm_eva_small.safetensors, image_size: 21, patch_size: 7,
            width: 32, depth: 2, heads: 4}
  processor: {size: 21}
)"));
  CHECK(m.processor().mean()[0] == doctest::Approx(0.48145466));
  const torch::Tensor px = m.processor().load(data() / "processor/tall_l.png", false);
  CHECK(m.encoder().encode(px.unsqueeze(0)).sizes() == torch::IntArrayRef{1, 10, 32});
  CHECK_FALSE(m.has_aligner());
  CHECK_THROWS_AS(m.aligner(), ConfigError);
}

TEST_CASE("image modality: recipe mistakes are ConfigErrors naming the key") {
  auto report = [](const std::string& yaml) -> std::string {
    try {
      image::ImageModality m(context(16), section(yaml));
    } catch (const Error& e) {
      return std::string(e.kind()) + ": " + e.report();
    }
    return "no error";
  };
  CHECK(report("image: {encoder: {type: efficientnet_lite1}}").find("efficientnet_lite0") != std::string::npos);
  CHECK(report("image: {encoder: {type: efficientnet_lite0, random_init: true}, procesor: {}}").find("processor") !=
        std::string::npos);
  CHECK(report("image: {encoder: {type: eva_vit_g}}").find("needs a weights file") != std::string::npos);
  CHECK(report("image: {encoder: {type: efficientnet_lite0, random_init: true}, processor: {resize: crap}}")
            .find("ConfigError") != std::string::npos);
  // Per-type aligner keys: a typo is refused with the nearest key of any type; a width is the model's.
  CHECK(report("image: {encoder: {type: efficientnet_lite0, random_init: true}, aligner: {type: linear, layres: 2}}")
            .find("did you mean 'layers'") != std::string::npos);
  CHECK(report("image: {encoder: {type: efficientnet_lite0, random_init: true}, aligner: {type: linear, llm_width: 4}}")
            .find("the model sets it") != std::string::npos);
  CHECK(report("image: {encoder: {type: efficientnet_lite0, random_init: true}, aligner: {type: qformr}}")
            .find("NotFoundError") != std::string::npos);
}

TEST_CASE("image plugin: xib plugins loads it and lists the modality and its encoders") {
  const auto r = xib::test::run_xib({"plugins", "--json"});
  REQUIRE(r.exit_code == 0);
  const auto all = nlohmann::json::parse(r.out);
  bool found = false;
  for (const auto& p : all) {
    if (p["name"] != "image") continue;
    found = true;
    CHECK(p["status"] == "loaded");
    const std::string provides = p["provides"].dump();
    CHECK(provides.find("image") != std::string::npos);
    CHECK(provides.find("efficientnet_lite0") != std::string::npos);
    CHECK(provides.find("eva_vit_g") != std::string::npos);
    CHECK(provides.find("prompts:image") != std::string::npos);
  }
  CHECK(found);
}

TEST_CASE("image prompts: the cue, several templates per task, {question} in every QA one and in no caption one") {
  const ModalityPrompts& p = image::image_prompts();
  CHECK(p.cue == " image: ");
  REQUIRE(p.templates.count("caption") == 1);
  REQUIRE(p.templates.count("qa") == 1);
  for (const auto& [task, ts] : p.templates) {
    CHECK(ts.size() >= 5);
    CHECK(std::set<std::string>(ts.begin(), ts.end()).size() == ts.size());
    for (const auto& t : ts) CHECK((t.find("{question}") != std::string::npos) == (task == "qa"));
  }
  CHECK(p.templates.at("caption").front() == kCaptionEvalInstruction);
  // A recipe may set its own cue; the default is the registered one.
  image::ImageModality own(context(0), section("image: {encoder: {random_init: true}, cue: ' picture: '}"));
  CHECK(own.cue() == " picture: ");
}
