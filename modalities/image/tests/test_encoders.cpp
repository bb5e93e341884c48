// Encoders against their references: EfficientNet-Lite0 with the real ImageNet weights against
// efficientnet_lite_pytorch (tools/make_efficientnet_fixtures.py), EVA ViT against timm's Eva
// (random small config, f32 and bf16-stored weights), and the EVA weight map against the
// (name, shape) list of LAVIS's own ViT-g (tools/make_eva_fixtures.py).
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "encoders.h"
#include "test_skip.h"
#include "test_support.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/error.h"
#include "xib/io/weight_source.h"
#include "xib/model_cache.h"
#include "xib/weights/weight_loader.h"

namespace fs = std::filesystem;
using namespace xib;
using namespace xib::image;

namespace {

fs::path data() { return fs::path(XIB_IMAGE_TEST_DATA); }

std::map<std::string, torch::Tensor> read_tensors(const fs::path& file) {
  std::map<std::string, torch::Tensor> out;
  const auto src = io::open_weights(file);
  for (const auto& r : src->tensors()) out[r.name] = weights::record_to_tensor(r);
  return out;
}

fs::path lite0_weights() { return ModelCache::default_root() / "efficientnet-lite0/efficientnet-lite0.pth"; }

EncoderOptions small_eva(const fs::path& weights) {
  EncoderOptions o;
  o.type = "eva_vit_g";
  o.weights = weights;
  o.image_size = 21;
  o.patch_size = 7;
  o.width = 32;
  o.depth = 2;
  o.heads = 4;
  return o;
}

std::vector<weights::SourceTensor> lavis_keys() {
  std::ifstream in(data() / "eva/lavis_eva_vit_g_keys.txt");
  std::vector<weights::SourceTensor> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string name, dims;
    ls >> name >> dims;
    weights::SourceTensor t{.name = name};
    std::istringstream ds(dims);
    for (std::string d; std::getline(ds, d, ',');) t.shape.push_back(std::stoll(d));
    out.push_back(t);
  }
  return out;
}

}  // namespace

TEST_CASE("efficientnet_lite0: tokens equal efficientnet_lite_pytorch's with the ImageNet weights") {
  if (!fs::exists(lite0_weights())) {
    return xib::test::skip_missing_model(lite0_weights(), "efficientnet-lite0");
  }
  EncoderOptions o;
  o.weights = lite0_weights();
  const auto enc = make_encoder(o);
  CHECK(enc->name() == "efficientnet_lite0");
  CHECK(enc->width() == 1280);
  const auto io = read_tensors(data() / "efficientnet/lite0_64px.safetensors");
  const torch::Tensor tokens = enc->encode(io.at("input"));
  CHECK(tokens.sizes() == torch::IntArrayRef{2, 4, 1280});
  CHECK(torch::allclose(tokens, io.at("tokens"), 1e-4, 1e-5));
  CHECK_FALSE(tokens.requires_grad());
  CHECK(enc->encode(torch::zeros({1, 3, 224, 224})).sizes() == torch::IntArrayRef{1, 49, 1280});
  CHECK(enc->weights_id().starts_with("sha256:5793442"));
}

TEST_CASE("efficientnet_lite0: the map consumes the checkpoint, skipping only the classifier and counters") {
  if (!fs::exists(lite0_weights())) {
    return xib::test::skip_missing_model(lite0_weights(), "efficientnet-lite0");
  }
  const EfficientNetLiteConfig c;
  CHECK(c.blocks().size() == 16);
  const auto src = io::open_weights(lite0_weights());
  const auto p = weights::plan(weights::expand(efficientnet_lite_map(c), {}), weights::source_tensors(src->tensors()),
                               efficientnet_lite_params(c));
  CHECK(p.ok());
  CHECK(p.unexpected.empty());
  CHECK(p.missing.empty());
  CHECK(p.assignments.size() == efficientnet_lite_params(c).size());
  size_t fc = 0, counters = 0;
  for (const auto& s : p.skipped) {
    fc += s.name.starts_with("_fc.");
    counters += s.name.ends_with("num_batches_tracked");
  }
  CHECK(fc == 2);
  CHECK(counters == 49);  // one per BatchNorm
}

TEST_CASE("eva_vit: tokens equal timm Eva's (random small config, no final norm)") {
  const auto io = read_tensors(data() / "eva/timm_eva_small_io.safetensors");
  const auto enc = make_encoder(small_eva(data() / "eva/timm_eva_small.safetensors"));
  CHECK(enc->num_tokens() == 10);
  CHECK(enc->width() == 32);
  const torch::Tensor tokens = enc->encode(io.at("input"));
  CHECK(tokens.sizes() == io.at("tokens").sizes());
  CHECK(torch::allclose(tokens, io.at("tokens"), 1e-5, 1e-5));

  // The same weights stored in bf16 load (upcast to f32) and give timm's result for them.
  const auto bf16 = make_encoder(small_eva(data() / "eva/timm_eva_small_bf16.safetensors"));
  CHECK(torch::allclose(bf16->encode(io.at("input")), io.at("tokens_bf16_weights"), 1e-5, 1e-5));
}

TEST_CASE("eva_vit: wrong sizes and missing weights are reported") {
  auto deeper = small_eva(data() / "eva/timm_eva_small.safetensors");
  deeper.depth = 3;
  CHECK_THROWS_AS(make_encoder(deeper), weights::WeightMapError);
  auto wider = small_eva(data() / "eva/timm_eva_small.safetensors");
  wider.width = 64;
  try {
    make_encoder(wider);
    FAIL("no error");
  } catch (const weights::WeightMapError& e) {
    CHECK(e.plan().misshaped.size() > 10);
  }
  EncoderOptions none;
  none.type = "eva_vit_g";
  CHECK_THROWS_AS(make_encoder(none), ConfigError);
  auto small = small_eva(data() / "eva/timm_eva_small.safetensors");
  const auto enc = make_encoder(small);
  CHECK_THROWS_AS(enc->encode(torch::zeros({1, 3, 28, 28})), ShapeError);
  EncoderOptions bad;
  bad.type = "resnet";
  CHECK_THROWS_AS(make_encoder(bad), NotFoundError);
}

TEST_CASE("eva_vit: the map consumes exactly LAVIS ViT-g's names and reports block 39 as unused") {
  const auto keys = lavis_keys();
  REQUIRE(keys.size() == 511);  // 4 + 39 blocks × 13
  const EvaVitConfig g;         // ViT-g/14 defaults
  CHECK(g.mlp_hidden() == 6144);
  const auto map = weights::expand(eva_vit_map(39, 40), {.layers = 39});
  const auto p = weights::plan(map, keys, eva_vit_params(g));
  CHECK(p.ok());
  CHECK(p.missing.empty());
  CHECK(p.unexpected.empty());
  CHECK(p.misshaped.empty());
  CHECK(p.skipped.empty());
  std::set<std::string> consumed;
  for (const auto& a : p.assignments)
    for (const auto& f : a.from)
      if (f != weights::kZeros) consumed.insert(f);
  std::set<std::string> names;
  for (const auto& k : keys) names.insert(k.name);
  CHECK(consumed == names);

  // The released checkpoint has a 40th block (index 39): skipped, and said why.
  auto full = keys;
  for (const auto& k : keys) {
    if (k.name.starts_with("blocks.38.")) full.push_back({.name = "blocks.39." + k.name.substr(10), .shape = k.shape});
  }
  const auto p40 = weights::plan(map, full, eva_vit_params(g));
  CHECK(p40.ok());
  REQUIRE(p40.skipped.size() == 13);
  for (const auto& s : p40.skipped) {
    CHECK(s.name.starts_with("blocks.39."));
    CHECK(s.reason.find("deliberately unused") != std::string::npos);
  }
}
