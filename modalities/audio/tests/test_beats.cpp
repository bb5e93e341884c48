// BEATs against upstream's own code (tools/fixtures/audio/make_beats_fixture.py): the forward of a
// random small model saved in upstream's checkpoint layout ({"cfg", "model"}), its relative
// position buckets, the weight map against the full-size BEATs_iter3_plus_AS2M key list, and
// the errors for checkpoints and inputs that do not fit.
#include <fmt/format.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "encoders.h"
#include "tensor_fixtures.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/error.h"
#include "xib/io/safetensors.h"
#include "xib/io/weight_source.h"
#include "xib/weights/weight_loader.h"

namespace fs = std::filesystem;
using namespace xib;
using namespace xib::audio;

namespace {

fs::path beats_data() { return fs::path(XIB_AUDIO_TEST_DATA) / "beats"; }
fs::path beats_small_pt() { return beats_data() / "beats_small.pt"; }

/// make_beats_fixture.py's SMALL configuration.
BeatsOptions beats_small_sizes() {
  BeatsOptions b;
  b.embed_dim = 24;
  b.conv_bias = true;
  b.layers = 2;
  b.width = 32;
  b.ffn = 64;
  b.heads = 4;
  b.conv_pos = 16;
  b.conv_pos_groups = 4;
  return b;
}

EncoderOptions beats_small(const fs::path& weights) {
  EncoderOptions o;
  o.type = "beats";
  o.weights = weights;
  o.beats = beats_small_sizes();
  return o;
}

/// "name<TAB>d0,d1,…" lines ('#' comments) → source tensors.
std::vector<weights::SourceTensor> beats_full_keys() {
  std::ifstream in(beats_data() / "beats_iter3_plus_as2m_keys.txt");
  REQUIRE(in.good());
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

TEST_CASE("beats: tokens equal upstream BEATs.extract_features (random small config)") {
  const auto io = test::read_tensor_file(beats_data() / "beats_small_io.safetensors");
  const auto enc = make_beats(beats_small(beats_small_pt()));
  CHECK(enc->name() == "beats");
  CHECK(enc->width() == 32);
  CHECK_FALSE(enc->num_tokens().has_value());
  CHECK(enc->weights_id().starts_with("sha256:"));
  double worst = 0;
  for (const char* key : {"a", "b"}) {
    CAPTURE(key);
    const torch::Tensor input = io.at(std::string("input_") + key).to(torch::kFloat32);
    const torch::Tensor want = io.at(std::string("output_") + key);
    const torch::Tensor got = enc->encode(input);
    CHECK_FALSE(got.requires_grad());
    CHECK((got.scalar_type() == torch::kFloat32));
    REQUIRE(got.sizes() == want.sizes());  // [B, (T/16)·8, 32]
    worst = std::max(worst, (got - want).abs().max().item<double>());
    CHECK(test::compare(got, want, 0, 1e-5) == "");
  }
  MESSAGE("beats parity: max |ours - upstream| = " << worst);
  // A sample alone gives what it gave in the batch.
  const torch::Tensor one = enc->encode(io.at("input_a").to(torch::kFloat32).slice(0, 1, 2));
  CHECK(test::compare(one, io.at("output_a").slice(0, 1, 2), 0, 1e-5) == "");
}

TEST_CASE("beats: the pre-norm branch equals upstream's (no DeepNorm, relative positions or projection)") {
  const auto io = test::read_tensor_file(beats_data() / "beats_small_io.safetensors");
  EncoderOptions o = beats_small(beats_data() / "beats_prenorm.pt");
  o.beats.embed_dim = 16;
  o.beats.conv_bias = false;
  o.beats.layers = 1;
  o.beats.width = 16;
  o.beats.ffn = 32;
  o.beats.heads = 2;
  o.beats.conv_pos = 3;
  o.beats.conv_pos_groups = 2;
  o.beats.layer_norm_first = true;
  o.beats.deep_norm = false;
  o.beats.relative_position_embedding = false;
  o.beats.gru_rel_pos = false;
  const auto enc = make_beats(o);
  const torch::Tensor got = enc->encode(io.at("prenorm_input_a").to(torch::kFloat32));
  const torch::Tensor& want = io.at("prenorm_output_a");
  REQUIRE(got.sizes() == want.sizes());  // [1, 16, 16]
  MESSAGE("beats pre-norm parity: max |ours - upstream| = " << (got - want).abs().max().item<double>());
  CHECK(test::compare(got, want, 0, 1e-5) == "");
}

TEST_CASE("beats: relative position buckets equal upstream's for distances -1000 to 1000") {
  const auto io = test::read_tensor_file(beats_data() / "beats_small_io.safetensors");
  const torch::Tensor rel = torch::arange(-1000, 1001, torch::kLong);
  const torch::Tensor got = beats_relative_buckets(rel, 320, 800);
  CHECK((got.scalar_type() == torch::kLong));
  CHECK(torch::equal(got, io.at("buckets_320_800").to(torch::kLong)));
  CHECK(got.min().item<int64_t>() == 0);
  CHECK(got.max().item<int64_t>() == 319);
}

TEST_CASE("beats: the fixture checkpoint loads with nothing missing or unexpected") {
  const BeatsOptions c = beats_small_sizes();
  const auto src = io::open_weights(beats_small_pt(), {.prefix = "model"});  // next to "cfg"
  const auto p = weights::plan(weights::expand(beats_map(c), {.layers = c.layers}),
                               weights::source_tensors(src->tensors()), beats_params(c));
  CHECK(p.ok());
  CHECK(p.missing.empty());
  CHECK(p.unexpected.empty());
  CHECK(p.misshaped.empty());
  CHECK(p.assignments.size() == beats_params(c).size());
  // Layer 0's copy of the shared relative position table is skipped: upstream keeps the last.
  REQUIRE(p.skipped.size() == 1);
  CHECK(p.skipped[0].name == "encoder.layers.0.self_attn.relative_attention_bias.weight");
  CHECK(p.skipped[0].reason.find("last layer") != std::string::npos);
  // The file as make_beats gets it: the wrapper "model" is found and stripped.
  EncoderOptions o = beats_small(beats_small_pt());
  CHECK_NOTHROW(make_beats(o));
  o.weights.clear();
  CHECK_THROWS_AS(make_beats(o), ConfigError);  // no file and no random_init
}

TEST_CASE("beats: the map consumes exactly the full-size BEATs_iter3_plus_AS2M names") {
  const auto keys = beats_full_keys();
  REQUIRE(keys.size() == 250);  // 10 + 12 layers × 20
  const BeatsOptions full;      // BEATs_iter3_plus_AS2M's sizes
  const auto map = weights::expand(beats_map(full), {.layers = full.layers});
  const auto p = weights::plan(map, keys, beats_params(full));
  CHECK(p.ok());
  CHECK(p.missing.empty());
  CHECK(p.unexpected.empty());
  CHECK(p.misshaped.empty());
  CHECK(p.assignments.size() == beats_params(full).size());
  CHECK(p.skipped.size() == 11);  // the shared table's copies in layers 0 … 10
  std::set<std::string> consumed;
  for (const auto& a : p.assignments) consumed.insert(a.from.begin(), a.from.end());
  for (const auto& s : p.skipped) {
    CHECK(s.name.ends_with("relative_attention_bias.weight"));
    consumed.insert(s.name);
  }
  std::set<std::string> names;
  for (const auto& k : keys) names.insert(k.name);
  CHECK(consumed == names);
  int64_t total = 0;
  for (const auto& d : beats_params(full)) {
    int64_t n = 1;
    for (const int64_t s : d.shape) n *= s;
    total += n;
  }
  CHECK(total == 90311792);  // upstream's parameter count (the shared table once)

  // A fine-tuned checkpoint's classifier head is skipped, with its reason.
  auto tuned = keys;
  tuned.push_back({.name = "predictor.weight", .shape = {527, 768}});
  tuned.push_back({.name = "predictor.bias", .shape = {527}});
  const auto pt = weights::plan(map, tuned, beats_params(full));
  CHECK(pt.ok());
  CHECK(pt.skipped.size() == 13);
}

TEST_CASE("beats: a checkpoint with a missing and a mis-shaped tensor is refused, naming both") {
  const auto src = io::open_weights(beats_small_pt());
  std::vector<io::TensorRecord> records;
  for (auto r : src->tensors()) {
    if (r.name == "model.encoder.layers.1.fc2.weight") continue;  // missing
    if (r.name == "model.layer_norm.weight") {                    // [24] → [4, 6]
      REQUIRE(r.contiguous());
      r.shape = {4, 6};
      r.strides.clear();
    }
    records.push_back(r);
  }
  const fs::path bad = fs::temp_directory_path() / fmt::format("xib_beats_bad_{}.safetensors", ::getpid());
  io::write_safetensors(bad, records);
  try {
    make_beats(beats_small(bad));
    FAIL("no error");
  } catch (const weights::WeightMapError& e) {
    const std::string what = e.report();
    CHECK(what.find("encoder.layers.1.fc2.weight") != std::string::npos);
    CHECK(what.find("layer_norm.weight") != std::string::npos);
    REQUIRE(e.plan().missing.size() == 1);
    CHECK(e.plan().missing[0].name == "encoder.layers.1.fc2.weight");
    REQUIRE(e.plan().misshaped.size() == 1);
    CHECK(e.plan().misshaped[0].to == "layer_norm.weight");
  }
  fs::remove(bad);

  // Sizes that do not fit the checkpoint.
  auto deeper = beats_small(beats_small_pt());
  deeper.beats.layers = 3;
  CHECK_THROWS_AS(make_beats(deeper), weights::WeightMapError);
}

TEST_CASE("beats: wrong input shapes are a ShapeError") {
  auto o = beats_small({});
  o.random_init = true;
  const auto enc = make_beats(o);
  CHECK(enc->weights_id() == "random");
  const torch::Tensor ok = enc->encode(torch::randn({1, 32, 128}));
  CHECK(ok.sizes() == torch::IntArrayRef{1, 16, 32});
  CHECK(torch::isfinite(ok).all().item<bool>());
  CHECK_THROWS_AS(enc->encode(torch::zeros({1, 64, 80})), ShapeError);   // mel bins
  CHECK_THROWS_AS(enc->encode(torch::zeros({1, 50, 128})), ShapeError);  // T not a multiple of 16
  CHECK_THROWS_AS(enc->encode(torch::zeros({1, 0, 128})), ShapeError);   // no frames
  CHECK_THROWS_AS(enc->encode(torch::zeros({64, 128})), ShapeError);     // no batch dimension
  CHECK_THROWS_AS(enc->encode(torch::Tensor()), ShapeError);
}
