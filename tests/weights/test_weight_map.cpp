// Weight maps as data: expansion, planning (every category at once), skips, hints. Torch-free.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "xib/error.h"
#include "xib/weights/maps.h"
#include "xib/weights/weight_map.h"

using namespace xib::weights;
using xib::io::DType;

namespace {

std::vector<std::string> targets(const ExpandedMap& m) {
  std::vector<std::string> out;
  for (const auto& e : m.entries) out.push_back(e.to);
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

/// A checkpoint that fits `expected` exactly through the (identity-only) map.
std::vector<SourceTensor> perfect_source(const ExpandedMap& map, const std::vector<DestParam>& expected) {
  std::vector<SourceTensor> out;
  for (const auto& e : map.entries) {
    auto d = std::find_if(expected.begin(), expected.end(), [&](const DestParam& p) { return p.name == e.to; });
    const bool seen =
        std::any_of(out.begin(), out.end(), [&](const SourceTensor& s) { return s.name == e.from.front(); });
    if (d != expected.end() && !seen) out.push_back({.name = e.from.front(), .shape = d->shape, .dtype = DType::f32});
  }
  return out;
}

std::string report_of(const WeightPlan& p) {
  try {
    p.raise_if_failed();
  } catch (const WeightMapError& e) {
    return e.report();
  }
  return {};
}

}  // namespace

TEST_CASE("weight map: placeholders expand over layers, steps, inner indices and vars") {
  WeightMap map{.name = "t",
                .entries = {{.from = {"{m}_enc.layer.{i}.w"}, .to = "enc.{i}.w"},
                            {.from = {"{m}_enc.layer.{i}.x.w"}, .to = "enc.{i}.x.w", .layer_step = 2},
                            {.from = {"moe.{i}.expert.{j}.w"}, .to = "moe.{i}.{j}.w", .inner = 2},
                            {.from = {"{m}_tokens"}, .to = "tokens"}},
                .skips = {{.pattern = "blocks.{layers}.*", .reason = "block {layers} is unused"}},
                .allow_missing = {{.pattern = "enc.{i}.fresh", .reason = "new"}}};
  const auto em = expand(map, {.layers = 5, .vars = {{"m", "audio"}}});
  const auto t = targets(em);
  CHECK(t.size() == 5 + 3 + 10 + 1);
  CHECK(em.entries.front().from.front() == "audio_enc.layer.0.w");
  CHECK(has(t, "enc.4.w"));
  CHECK(has(t, "enc.4.x.w"));
  CHECK_FALSE(has(t, "enc.1.x.w"));
  CHECK(has(t, "moe.3.1.w"));
  CHECK(has(t, "tokens"));
  REQUIRE(em.skips.size() == 1);
  CHECK(em.skips[0].pattern == "blocks.5.*");
  CHECK(em.skips[0].reason == "block 5 is unused");
  CHECK(em.allow_missing.size() == 5);
}

TEST_CASE("weight map: malformed tables are ConfigErrors") {
  CHECK_THROWS_AS(expand({.entries = {{.from = {"{m}.w"}, .to = "w"}}}, {.layers = 1}), xib::ConfigError);
  try {
    expand({.entries = {{.from = {"{q}.w"}, .to = "w"}}}, {.layers = 1, .vars = {{"m", "x"}}});
    FAIL("expected a ConfigError");
  } catch (const xib::ConfigError& e) {
    CHECK(e.report().find("{m}") != std::string::npos);  // lists the known placeholders
  }
  CHECK_THROWS_AS(expand({.entries = {{.from = {"a"}, .to = "w"}, {.from = {"b"}, .to = "w"}}}, {}), xib::ConfigError);
  CHECK_THROWS_AS(expand({.entries = {{.from = {"a", "b"}, .to = "w"}}}, {}), xib::ConfigError);
  CHECK_THROWS_AS(
      expand({.entries = {{.from = {std::string(kZeros)}, .to = "w", .transform = Transform::concat(0)}}}, {}),
      xib::ConfigError);
  CHECK_THROWS_AS(expand({.entries = {{.from = {"a"}, .to = "w", .transform = Transform::split(0, 3, 3)}}}, {}),
                  xib::ConfigError);
  CHECK_THROWS_AS(expand({.entries = {{.from = {"a.{j}"}, .to = "w.{j}"}}}, {}), xib::ConfigError);
  CHECK_THROWS_AS(expand({.entries = {{.from = {"a.{i"}, .to = "w"}}}, {.layers = 1}), xib::ConfigError);
}

TEST_CASE("weight map: glob matching") {
  CHECK(glob_match("*attention*", "image_Qformer.bert.encoder.layer.0.crossattention.self.query.weight"));
  CHECK(glob_match("a.*.b", "a.x.y.b"));
  CHECK(glob_match("a.?.b", "a.1.b"));
  CHECK_FALSE(glob_match("a.?.b", "a.12.b"));
  CHECK_FALSE(glob_match("cls.*", "bert.cls.x"));
  CHECK(glob_match("exact", "exact"));
  CHECK_FALSE(glob_match("exact", "exactly"));
}

TEST_CASE("weight plan: every category is reported at once") {
  WeightMap map{.name = "toy",
                .entries = {{.from = {"a.w"}, .to = "A"},
                            {.from = {"b.w"}, .to = "B", .transform = Transform::transpose()},
                            {.from = {"c.qkv"}, .to = "Q", .transform = Transform::split(0, 0, 3)},
                            {.from = {"c.qkv"}, .to = "K", .transform = Transform::split(0, 1, 3)},
                            {.from = {"c.qkv"}, .to = "V", .transform = Transform::split(0, 2, 3)},
                            {.from = {"d.w"}, .to = "D"},
                            {.from = {"e.w"}, .to = "E"},
                            {.from = {"h.w"}, .to = "H", .transform = Transform::transpose()}},
                .skips = {{.pattern = "junk.*", .reason = "not ours"}},
                .allow_missing = {{.pattern = "F*", .reason = "starts fresh"}}};
  const std::vector<SourceTensor> source = {
      {.name = "a.w", .shape = {2, 3}},
      {.name = "b.w", .shape = {3, 2}},  // transposed [2, 3], the model wants [4, 3]
      {.name = "c.qkv", .shape = {6, 2}},
      {.name = "d.w", .shape = {2}, .dtype = DType::i64},  // an int where a float is needed
      {.name = "h.w", .shape = {4}},                       // transpose of a 1-D tensor
      {.name = "junk.x", .shape = {1}},
      {.name = "extra.z", .shape = {1}},
  };
  const std::vector<DestParam> expected = {
      {.name = "A", .shape = {2, 3}}, {.name = "B", .shape = {4, 3}}, {.name = "Q", .shape = {2, 2}},
      {.name = "K", .shape = {2, 2}}, {.name = "V", .shape = {2, 2}}, {.name = "D", .shape = {2}},
      {.name = "E", .shape = {5}},    {.name = "G", .shape = {1}},    {.name = "F1", .shape = {1}},
      {.name = "H", .shape = {4}},
  };
  const auto p = plan(expand(map, {}), source, expected, {.source_label = "toy.safetensors"});
  CHECK_FALSE(p.ok());
  CHECK(p.assignments.size() == 4);  // A, Q, K, V
  REQUIRE(p.missing.size() == 2);
  CHECK(p.missing[0].name == "E");
  CHECK(p.missing[0].why.find("e.w") != std::string::npos);
  CHECK(p.missing[1].name == "G");
  CHECK(p.unexpected == std::vector<std::string>{"extra.z"});
  REQUIRE(p.misshaped.size() == 2);
  CHECK(p.misshaped[0].to == "B");
  CHECK(p.misshaped[0].got == std::vector<int64_t>{2, 3});
  CHECK(p.misshaped[1].to == "H");
  CHECK(p.misshaped[1].note.find("2-D") != std::string::npos);
  REQUIRE(p.dtype_problems.size() == 1);
  CHECK(p.dtype_problems[0].got == DType::i64);
  REQUIRE(p.skipped.size() == 1);
  CHECK(p.skipped[0].reason == "not ours");
  REQUIRE(p.fresh.size() == 1);
  CHECK(p.fresh[0].name == "F1");

  const auto report = report_of(p);
  for (const char* part : {"missing (2)", "unexpected (1)", "mis-shaped (2)", "dtype (1)", "skipped (1, deliberate)",
                           "fresh (1, deliberate)", "toy.safetensors", "hint:"}) {
    CHECK_MESSAGE(report.find(part) != std::string::npos, part, "\n", report);
  }
  try {
    p.raise_if_failed();
  } catch (const WeightMapError& e) {
    CHECK(std::string(e.kind()) == "WeightMapError");
    CHECK(e.plan().missing.size() == 2);
    CHECK(dynamic_cast<const xib::ShapeError*>(&e) != nullptr);
  }
}

TEST_CASE("weight plan: lenient mode turns unexpected tensors into warnings") {
  WeightMap map{.name = "toy", .entries = {{.from = {"a"}, .to = "A"}}};
  const std::vector<SourceTensor> source = {{.name = "a", .shape = {1}}, {.name = "z", .shape = {1}}};
  const std::vector<DestParam> expected = {{.name = "A", .shape = {1}}};
  const auto strict = plan(expand(map, {}), source, expected);
  CHECK_FALSE(strict.ok());
  CHECK(strict.hint.find("skip") != std::string::npos);
  const auto lenient = plan(expand(map, {}), source, expected, {.strict = false});
  CHECK(lenient.ok());
  CHECK_NOTHROW(lenient.raise_if_failed());
  CHECK(lenient.unexpected.size() == 1);
  REQUIRE(lenient.warnings.size() == 1);
  CHECK(lenient.warnings[0].find("z") != std::string::npos);
  CHECK(lenient.summary().find("(ignored)") != std::string::npos);
}

TEST_CASE("weight plan: an x-instructblip checkpoint fits our q-former, with and without load_attention") {
  const maps::QFormerShape shape{.layers = 4,
                                 .hidden = 8,
                                 .ffn = 16,
                                 .vocab = 11,
                                 .max_positions = 6,
                                 .queries = 3,
                                 .encoder_width = 5,
                                 .llm_width = 7};
  const auto expected = maps::qformer_params(shape);
  const auto em = expand(maps::lavis_qformer(), {.layers = 4, .vars = {{"m", "audio"}}});
  auto source = perfect_source(em, expected);
  source.push_back({.name = "audio_Qformer.bert.embeddings.position_ids", .shape = {1, 6}, .dtype = DType::i64});
  source.push_back({.name = "llm_model.model.embed_tokens.weight", .shape = {9, 7}});
  CHECK(source.size() == expected.size() + 2);

  const auto full = plan(em, source, expected);
  CHECK_MESSAGE(full.ok(), report_of(full));
  CHECK(full.assignments.size() == expected.size());
  CHECK(full.skipped.size() == 2);
  CHECK(full.fresh.empty());

  // load_attention=False: every name containing "attention" is skipped, and its parameter fresh.
  const auto no_attn =
      plan(expand(maps::lavis_qformer({.load_attention = false}), {.layers = 4, .vars = {{"m", "audio"}}}), source,
           expected);
  CHECK_MESSAGE(no_attn.ok(), report_of(no_attn));
  const size_t attention = 4 * 10 + 2 * 10;  // self-attention every layer, cross-attention on 0 and 2
  CHECK(no_attn.skipped.size() == attention + 2);
  CHECK(no_attn.fresh.size() == attention);
  CHECK(no_attn.fresh.front().reason.find("load_attention=False") != std::string::npos);
  CHECK(no_attn.assignments.size() == expected.size() - attention);

  // The same network under transformers' names.
  const auto hf = expand(maps::hf_instructblip_qformer(), {.layers = 4});
  const auto hf_plan = plan(hf, perfect_source(hf, expected), expected);
  CHECK_MESSAGE(hf_plan.ok(), report_of(hf_plan));
  CHECK(hf_plan.assignments.size() == expected.size());
}

TEST_CASE("weight plan: hints name the likely cause") {
  const maps::QFormerShape shape{.layers = 2,
                                 .hidden = 8,
                                 .ffn = 16,
                                 .vocab = 11,
                                 .max_positions = 6,
                                 .queries = 32,
                                 .encoder_width = 5,
                                 .llm_width = 7};
  const auto expected = maps::qformer_params(shape);
  const auto em = expand(maps::lavis_qformer(), {.layers = 2, .vars = {{"m", "image"}}});

  SUBCASE("queries 16 vs 32") {
    auto source = perfect_source(em, expected);
    for (auto& s : source) {
      if (s.name == "image_query_tokens") s.shape = {1, 16, 8};
    }
    const auto p = plan(em, source, expected);
    REQUIRE(p.misshaped.size() == 1);
    CHECK(p.hint.find("trained with queries: 16") != std::string::npos);
    const auto report = report_of(p);
    CHECK(report.find("[1, 32, 8]") != std::string::npos);
    CHECK(report.find("[1, 16, 8]") != std::string::npos);
  }
  SUBCASE("a prefix the map does not expect") {
    auto source = perfect_source(em, expected);
    for (auto& s : source) s.name = "module." + s.name;
    const auto p = plan(em, source, expected);
    CHECK(p.assignments.empty());
    CHECK(p.hint.find("'module.'") != std::string::npos);
    const auto fixed = plan(em, source, expected, {.strip_prefix = "module"});
    CHECK_MESSAGE(fixed.ok(), report_of(fixed));
  }
  SUBCASE("a prefix the source lacks") {
    // bert-base-uncased's names are under "bert."; all-MiniLM-L6-v2's (a BertModel) are not.
    const auto plain = expand(maps::bert_qformer_init(), {.layers = 2});
    const auto prefixed = expand(maps::bert_qformer_init({.prefix = "bert."}), {.layers = 2});
    const auto p = plan(prefixed, perfect_source(plain, expected), expected);
    CHECK(p.assignments.empty());
    CHECK(p.hint.find("under 'bert.'") != std::string::npos);
  }
  SUBCASE("a width set differently") {
    const auto wide = maps::qformer_params({.layers = 2,
                                            .hidden = 8,
                                            .ffn = 32,
                                            .vocab = 11,
                                            .max_positions = 6,
                                            .queries = 32,
                                            .encoder_width = 5,
                                            .llm_width = 7});
    const auto p = plan(em, perfect_source(em, wide), expected);
    CHECK(p.misshaped.size() == 3 * 2 * 2);  // up.weight, up.bias, down.weight; both FFNs; 2 layers
    CHECK(p.hint.find("width of 32") != std::string::npos);
  }
  SUBCASE("no entry writes what the model expects") {
    const auto p = plan(em, perfect_source(em, expected), {{.name = "other.weight", .shape = {1}}});
    CHECK(p.hint.find("is this the map") != std::string::npos);
  }
}
