// Loading aligner weights through the maps: LAVIS's own key list, X-InstructBLIP per-modality
// checkpoints, BLIP-2 stage 1 (vocabulary growth), plain BERT (all-MiniLM-L6-v2), wrong
// modality and wrong sizes; and the recipe `aligner:` section choosing the implementation.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "aligner_fixtures.h"
#include "test_skip.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/aligners/linear.h"
#include "xib/aligners/qformer.h"
#include "xib/model_cache.h"
#include "xib/registry.h"
#include "xib/weights/maps.h"

using namespace xib;
using namespace xib::weights;

namespace {

/// tests/aligners/data/lavis_keys.txt: "name [d0, d1]" per line.
std::vector<SourceTensor> lavis_keys() {
  std::ifstream in(test::aligner_data("lavis_keys.txt"));
  std::vector<SourceTensor> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.find(' ');
    SourceTensor t{.name = line.substr(0, space)};
    std::string dims = line.substr(space + 2, line.size() - space - 3);
    std::replace(dims.begin(), dims.end(), ',', ' ');
    std::istringstream ds(dims);
    for (int64_t d; ds >> d;) t.shape.push_back(d);
    out.push_back(std::move(t));
  }
  return out;
}

bool has(const std::vector<Noted>& list, const std::string& name, const std::string& reason_part) {
  for (const auto& n : list) {
    if (n.name == name) return n.reason.find(reason_part) != std::string::npos;
  }
  return false;
}

aligners::QFormerOptions small_with(std::function<void(aligners::QFormerOptions&)> edit) {
  auto o = test::fixture_qformer();
  edit(o);
  return o;
}

}  // namespace

TEST_CASE("loading: the lavis map consumes exactly LAVIS's own Q-Former keys") {
  const auto source = lavis_keys();
  REQUIRE(source.size() > 300);
  const auto expected = maps::qformer_params({});  // SPEC's sizes: 12 layers, 768, 1408 → 4096
  const auto em = expand(maps::lavis_qformer({}), {.layers = 12, .vars = {{"m", "image"}}});
  const auto p = plan(em, source, expected, {.source_label = "lavis_keys.txt"});
  CHECK_MESSAGE(p.ok(), p.summary());
  CHECK(p.unexpected.empty());
  CHECK(p.missing.empty());
  CHECK(p.misshaped.empty());
  CHECK(p.fresh.empty());
  CHECK(p.assignments.size() == expected.size());
  // Deliberately skipped, with reasons: the position_ids buffer and the MLM head.
  CHECK(p.skipped.size() + p.assignments.size() == source.size());
  CHECK(has(p.skipped, "image_Qformer.bert.embeddings.position_ids", "buffer"));
  CHECK(has(p.skipped, "image_Qformer.cls.predictions.decoder.weight", "MLM head"));
  for (const auto& s : p.skipped) {
    const bool known =
        s.name == "image_Qformer.bert.embeddings.position_ids" || s.name.starts_with("image_Qformer.cls.");
    CHECK_MESSAGE(known, s.name);
  }
}

TEST_CASE("loading: transformers' InstructBLIP checkpoint, detected by its names") {
  auto a = aligners::make_qformer(test::fixture_qformer());
  const auto p = a->load({.path = test::aligner_data("qformer_weights.safetensors")});
  CHECK(p.source_label.find("as hf_instructblip") != std::string::npos);
  CHECK(p.assignments.size() == a->named_parameters().size());
  CHECK(p.fresh.empty());
}

TEST_CASE("loading: X-InstructBLIP per-modality checkpoints, and the wrong modality") {
  test::TempDir dir;
  auto src = aligners::make_qformer(test::fixture_qformer());
  src->load({.path = test::aligner_data("qformer_weights.safetensors")});
  const auto audio_map = expand(maps::lavis_qformer({}), {.layers = 3, .vars = {{"m", "audio"}}});
  auto tensors = test::rename_for(audio_map, src->named_parameters());
  tensors["audio_Qformer.bert.embeddings.position_ids"] = at::arange(128, at::kFloat).unsqueeze(0);
  tensors["audio_Qformer.cls.predictions.bias"] = at::zeros({80});
  const auto file = dir / "audio.safetensors";
  test::write_checkpoint(file, tensors);

  SUBCASE("an image aligner refuses audio_ keys, listing what the checkpoint has") {
    auto image = aligners::make_qformer(test::fixture_qformer());
    try {
      image->load({.path = file});
      FAIL("no error");
    } catch (const NotFoundError& e) {
      const std::string msg = e.report();
      CHECK(msg.find("modality 'image'") != std::string::npos);
      CHECK(msg.find("image_Qformer.*") != std::string::npos);
      CHECK(msg.find("aligners for: audio") != std::string::npos);
      CHECK(e.info().hint.find("modality: audio") != std::string::npos);
    }
  }
  SUBCASE("modality: audio reads it, and the weights arrive") {
    auto o = test::fixture_qformer();
    o.modality = "audio";
    auto audio = aligners::make_qformer(o);
    const auto p = audio->load({.path = file});
    CHECK(p.source_label.find("as lavis") != std::string::npos);
    CHECK(p.skipped.size() == 2);
    const auto want = src->named_parameters();
    const auto got = audio->named_parameters();
    for (size_t i = 0; i < got.size(); ++i) CHECK_MESSAGE(at::equal(got[i].second, want[i].second), got[i].first);
  }
  SUBCASE("a checkpoint holding two modalities: the other one is skipped with its reason") {
    auto both = tensors;
    for (const auto& [name, t] : tensors) both["image" + name.substr(5)] = t;
    test::write_checkpoint(dir / "both.safetensors", both);
    auto image = aligners::make_qformer(test::fixture_qformer());
    const auto p = image->load({.path = dir / "both.safetensors"});
    CHECK(p.assignments.size() == image->named_parameters().size());
    CHECK(has(p.skipped, "audio_query_tokens", "the 'audio' aligner"));
  }
}

TEST_CASE("loading: a checkpoint of another size lists every mismatch") {
  SUBCASE("hidden 64 instead of 32") {
    auto a = aligners::make_qformer(small_with([](auto& o) { o.hidden = 64, o.heads = 4; }));
    try {
      a->load({.path = test::aligner_data("qformer_weights.safetensors")});
      FAIL("no error");
    } catch (const WeightMapError& e) {
      CHECK(e.plan().misshaped.size() > 10);
      const std::string msg = e.report();
      CHECK(msg.find("64]") != std::string::npos);  // expected …
      CHECK(msg.find("32]") != std::string::npos);  // … and got
    }
  }
  SUBCASE("4 layers instead of 3") {
    auto a = aligners::make_qformer(small_with([](auto& o) { o.layers = 4; }));
    try {
      a->load({.path = test::aligner_data("qformer_weights.safetensors")});
      FAIL("no error");
    } catch (const WeightMapError& e) {
      CHECK(e.plan().missing.size() == 22);  // layer 3: self-attention 10, two FFNs 12, no cross (3 % 2)
      CHECK(e.report().find("qformer.layer.3.") != std::string::npos);
    }
  }
  SUBCASE("an unknown format is named") {
    test::TempDir dir;
    test::write_checkpoint(dir / "x.safetensors", {{"foo.bar", at::zeros({2})}});
    auto a = aligners::make_qformer(test::fixture_qformer());
    CHECK(test::report_of<NotFoundError>([&] { a->load({.path = dir / "x.safetensors"}); }).find("foo.bar") !=
          std::string::npos);
  }
}

TEST_CASE("loading: a BLIP-2 stage-1 checkpoint grows the vocabulary by [DEC]") {
  test::TempDir dir;
  auto src = aligners::make_qformer(test::fixture_qformer());  // vocab 80
  src->load({.path = test::aligner_data("qformer_weights.safetensors")});
  const auto em = expand(maps::blip2_qformer({.vocab = 0}), {.layers = 3});
  auto tensors = test::rename_for(em, src->named_parameters());
  auto& word = tensors.at("Qformer.bert.embeddings.word_embeddings.weight");
  word = word.narrow(0, 0, 79).clone();  // stage 1 has one row fewer
  tensors["Qformer.cls.predictions.bias"] = at::zeros({79});
  tensors["vision_proj.weight"] = at::zeros({4, 32});
  tensors["itm_head.weight"] = at::zeros({2, 32});
  tensors["temp"] = at::ones({1});
  tensors["visual_encoder.blocks.0.norm1.weight"] = at::ones({3});
  std::map<std::string, at::Tensor> stored;
  for (const auto& [n, t] : tensors) stored["model." + n] = t;  // blip2_pretrained.pth keeps them under "model"
  test::write_checkpoint(dir / "blip2.safetensors", stored);

  for (bool load_attention : {true, false}) {
    CAPTURE(load_attention);
    auto a = aligners::make_qformer(test::fixture_qformer());
    const auto before = a->named_parameters();
    std::map<std::string, at::Tensor> fresh_copy;
    for (const auto& [n, t] : before) fresh_copy[n] = t.detach().clone();
    const auto p = a->load({.path = dir / "blip2.safetensors", .load_attention = load_attention});
    CHECK(p.source_label.find("as blip2") != std::string::npos);
    REQUIRE(p.warnings.size() == 1);
    CHECK(p.warnings[0].find("entries 79…79 along dim 0 keep their initialisation") != std::string::npos);
    CHECK(has(p.fresh, "llm_proj.weight", "no LLM projection"));
    CHECK(has(p.skipped, "itm_head.weight", "image-text matching"));
    const auto params = a->named_parameters();
    std::map<std::string, at::Tensor> now(params.begin(), params.end());
    const auto& w = now["qformer.embeddings.word.weight"];
    CHECK(at::equal(w.narrow(0, 0, 79), word));
    CHECK(at::equal(w[79], fresh_copy["qformer.embeddings.word.weight"][79]));  // [DEC] stays fresh
    CHECK(at::equal(now["llm_proj.weight"], fresh_copy["llm_proj.weight"]));
    CHECK(at::equal(now["qformer.layer.0.query_ffn.up.weight"],
                    tensors["Qformer.bert.encoder.layer.0.intermediate_query.dense.weight"]));
    const bool attention_loaded = at::equal(now["qformer.layer.0.cross_attn.k.weight"],
                                            tensors["Qformer.bert.encoder.layer.0.crossattention.self.key.weight"]);
    CHECK(attention_loaded == load_attention);
    if (!load_attention) CHECK(has(p.fresh, "qformer.layer.1.self_attn.q.weight", "load_attention=False"));
  }
}

TEST_CASE("loading: initialisation from plain BERT (all-MiniLM-L6-v2) with load_attention=False") {
  const auto file = ModelCache::default_root() / "all-minilm-l6-v2" / "model.safetensors";
  if (!std::filesystem::exists(file)) {
    xib::test::skip_missing_model(file.string(), "all-minilm-l6-v2");
    return;
  }
  aligners::QFormerOptions o{
      .layers = 6, .hidden = 384, .heads = 12, .ffn = 1536, .queries = 4, .encoder_width = 48, .llm_width = 8};
  auto a = aligners::make_qformer(o);
  const auto p = a->load({.path = file, .load_attention = false});
  CHECK(p.source_label.find("as bert") != std::string::npos);
  CHECK(p.assignments.size() == 4 + 6 * 12);
  CHECK(has(p.fresh, "qformer.layer.2.self_attn.v.weight", "load_attention=False"));
  CHECK(has(p.fresh, "qformer.layer.4.cross_attn.q.weight", "BERT has none"));
  REQUIRE(p.warnings.size() == 1);  // row 30522 ([DEC]) keeps its initialisation
  CHECK(p.warnings[0].find("30522…30522") != std::string::npos);
  io::SafetensorsFile st(file);
  const auto params = a->named_parameters();
  std::map<std::string, at::Tensor> now(params.begin(), params.end());
  const at::Tensor up = weights::record_to_tensor(st.tensor("encoder.layer.5.intermediate.dense.weight"));
  CHECK(at::equal(now["qformer.layer.5.ffn.up.weight"], up));
  CHECK(at::equal(now["qformer.layer.5.query_ffn.up.weight"], up));  // BLIP-2's copy into the query FFN
  at::NoGradGuard no_grad;
  const at::Tensor ids = at::tensor({101, 2054, 102}, at::kLong).view({1, 3});
  CHECK(at::isfinite(a->align_ids(at::randn({1, 5, 48}), ids, at::ones_like(ids))).all().item<bool>());
}

TEST_CASE("loading: first_layers initialises a shallower Q-Former from MiniLM's first layers") {
  const auto file = ModelCache::default_root() / "all-minilm-l6-v2" / "model.safetensors";
  if (!std::filesystem::exists(file)) {
    xib::test::skip_missing_model(file.string(), "all-minilm-l6-v2");
    return;
  }
  aligners::QFormerOptions o{.layers = 2,
                             .hidden = 384,
                             .heads = 12,
                             .ffn = 1536,
                             .queries = 4,
                             .cross_attention_freq = 1,
                             .encoder_width = 48,
                             .llm_width = 8};
  SUBCASE("without it, MiniLM's layers 2 to 5 are unexpected and every one is listed") {
    auto a = aligners::make_qformer(o);
    const std::string report = test::report_of<weights::WeightMapError>([&] { a->load({.path = file}); });
    CHECK(report.find("64 unexpected") != std::string::npos);
    CHECK(report.find("encoder.layer.2.") != std::string::npos);
  }
  SUBCASE("with it, layers 0 and 1 load, the rest are skipped with the reason") {
    auto a = aligners::make_qformer(o);
    const auto p = a->load({.path = file, .first_layers = true});
    CHECK(p.unexpected.empty());
    CHECK(p.assignments.size() == 4 + 2 * 22);  // embeddings; self-attention 10, FFN 6, query FFN 6 per layer
    CHECK(has(p.skipped, "encoder.layer.2.attention.self.query.weight", "first 2 layers"));
    CHECK(has(p.skipped, "encoder.layer.5.output.LayerNorm.bias", "first 2 layers"));
    CHECK(has(p.fresh, "qformer.layer.1.cross_attn.k.weight", "BERT has none"));
    io::SafetensorsFile st(file);
    const auto params = a->named_parameters();
    std::map<std::string, at::Tensor> now(params.begin(), params.end());
    CHECK(at::equal(now["qformer.layer.1.self_attn.q.weight"],
                    weights::record_to_tensor(st.tensor("encoder.layer.1.attention.self.query.weight"))));
    CHECK(at::equal(now["qformer.layer.1.query_ffn.down.weight"],
                    weights::record_to_tensor(st.tensor("encoder.layer.1.output.dense.weight"))));
  }
  SUBCASE("with load_attention=false too, only embeddings and FFNs of the first layers load") {
    auto a = aligners::make_qformer(o);
    const auto p = a->load({.path = file, .load_attention = false, .first_layers = true});
    CHECK(p.unexpected.empty());
    CHECK(p.assignments.size() == 4 + 2 * 12);
    CHECK(has(p.fresh, "qformer.layer.0.self_attn.q.weight", "load_attention=False"));
  }
}

TEST_CASE("recipe: `aligner: {type: …}` swaps the implementation and nothing else") {
  // The model's facts come as a typed context, never as recipe keys.
  const AlignerContext ctx{.modality = "image", .encoder_width = 24, .llm_width = 16};
  const std::string keys = "layers: 2, hidden: 32, heads: 4, ffn: 64, queries: 8, vocab: 80, max_positions: 128";
  for (const std::string type : {"qformer", "linear"}) {
    CAPTURE(type);
    auto src = ConfigSource::from_string("aligner: {type: " + type + ", " + keys + "}", "test.yaml", ".");
    const auto a = make_aligner(ctx, src->section("aligner"));
    CHECK(a->type() == type);
    CHECK(a->num_queries() == 8);
    CHECK(a->input_width() == 24);
    CHECK(a->output_width() == 16);
    CHECK(a->uses_instruction() == (type == "qformer"));
  }
  SUBCASE("the type defaults to qformer, and so does an absent section") {
    auto src = ConfigSource::from_string("aligner: {" + keys + "}", "test.yaml", ".");
    CHECK(make_aligner(ctx, src->section("aligner"))->type() == "qformer");
    CHECK(make_aligner(ctx, src->section("nothing_here"))->type() == kDefaultAlignerType);
  }
  SUBCASE("each type declares its own keys; the linear type lists none of the Q-Former's") {
    const auto linear = Registry::global().get(Aligner::kKind, "linear").keys;
    const auto qformer = Registry::global().get(Aligner::kKind, "qformer").keys;
    CHECK(linear == std::vector<std::string>{"queries", "hidden", "encoder_ln_eps", "seed", "init"});
    for (const char* k : {"layers", "heads", "ffn", "cross_attention_freq", "vocab", "dropout", "vocab_file"}) {
      CHECK(std::find(qformer.begin(), qformer.end(), k) != qformer.end());
      CHECK(std::find(linear.begin(), linear.end(), k) == linear.end());
    }
  }
  SUBCASE("a key of another type is accepted (and logged once as unused); a key of none is an error") {
    auto src = ConfigSource::from_string("aligner: {type: linear, queries: 4, hidden: 8, layers: 6, heads: 2}",
                                         "test.yaml", ".");
    const auto a = make_aligner(ctx, src->section("aligner"));
    CHECK(a->type() == "linear");
    CHECK(a->num_queries() == 4);
    auto bad = ConfigSource::from_string("aligner: {type: linear, queries: 4, layres: 6}", "test.yaml", ".");
    const std::string r = test::report_of<ConfigError>([&] { make_aligner(ctx, bad->section("aligner")); });
    CHECK_MESSAGE(r.find("unknown key 'layres'") != std::string::npos, r);
    CHECK_MESSAGE(r.find("did you mean 'layers'") != std::string::npos, r);
    CHECK_MESSAGE(r.find("test.yaml:1") != std::string::npos, r);
  }
  SUBCASE("the widths and the modality are the model's: a recipe key for one is refused, saying so") {
    for (const char* key : {"llm_width", "encoder_width", "modality"}) {
      CAPTURE(key);
      auto src = ConfigSource::from_string(fmt::format("aligner: {{type: qformer, {}: 7}}", key), "test.yaml", ".");
      const std::string r = test::report_of<ConfigError>([&] { make_aligner(ctx, src->section("aligner")); });
      CHECK_MESSAGE(r.find("the model sets it") != std::string::npos, r);
    }
  }
  SUBCASE("a context without the model's facts is a usage error") {
    auto src = ConfigSource::from_string("aligner: {type: linear}", "test.yaml", ".");
    CHECK_THROWS_AS(make_aligner({.modality = "image", .encoder_width = 24}, src->section("aligner")), UsageError);
    CHECK_THROWS_AS(make_aligner({.encoder_width = 24, .llm_width = 16}, src->section("aligner")), UsageError);
  }
  SUBCASE("an unknown type lists the registered ones") {
    auto src = ConfigSource::from_string("aligner: {type: qformr}", "test.yaml", ".");
    try {
      make_aligner(ctx, src->section("aligner"));
      FAIL("no error");
    } catch (const NotFoundError& e) {
      CHECK(e.report().find("linear") != std::string::npos);
      CHECK(e.report().find("did you mean 'qformer'") != std::string::npos);
    }
  }
  SUBCASE("an unknown key names the section") {
    auto src = ConfigSource::from_string("aligner: {type: qformer, layres: 2}", "test.yaml", ".");
    CHECK(test::report_of<ConfigError>([&] { make_aligner(ctx, src->section("aligner")); }).find("layers") !=
          std::string::npos);
  }
  SUBCASE("load_init false (reloading a run) leaves init: unread, even when its file is gone") {
    auto src = ConfigSource::from_string("aligner: {type: qformer, " + keys + ", init: {path: gone.safetensors}}",
                                         "test.yaml", ".");
    AlignerContext reload = ctx;
    reload.load_init = false;
    CHECK(make_aligner(reload, src->section("aligner"))->type() == "qformer");
    CHECK_THROWS(make_aligner(ctx, src->section("aligner")));
  }
  SUBCASE("init: a checkpoint path resolves against the recipe's folder") {
    const auto dir = test::aligner_data("");
    auto src = ConfigSource::from_string(
        "aligner: {type: qformer, layers: 3, hidden: 32, heads: 4, ffn: 64, queries: 8, "
        "vocab: 80, max_positions: 128, init: {path: qformer_weights.safetensors}}",
        "test.yaml", dir);
    const auto a = make_aligner(ctx, src->section("aligner"));
    auto ref = aligners::make_qformer(test::fixture_qformer());
    ref->load({.path = test::aligner_data("qformer_weights.safetensors")});
    CHECK(at::equal(a->named_parameters().back().second, ref->named_parameters().back().second));
  }
  SUBCASE("a linear aligner skips a Q-Former-only init (bert) and starts fresh, so recipes swap type: alone") {
    auto src = ConfigSource::from_string(
        "aligner: {type: linear, queries: 4, hidden: 8, layers: 6, "
        "init: {path: no_such_bert.safetensors, format: bert}}",
        "test.yaml", ".");
    const auto a = make_aligner(ctx, src->section("aligner"));
    const auto fresh = aligners::make_linear({.queries = 4, .hidden = 8, .encoder_width = 24, .llm_width = 16});
    REQUIRE(a->named_parameters().size() == fresh->named_parameters().size());
    for (size_t i = 0; i < fresh->named_parameters().size(); ++i) {
      CHECK(at::equal(a->named_parameters()[i].second, fresh->named_parameters()[i].second));
    }
  }
  SUBCASE("init: a bare model-cache name (all-minilm-l6-v2) resolves to the cache's folder") {
    if (!ModelCache().find("all-minilm-l6-v2")) {
      return xib::test::skip_missing_model(ModelCache::default_root() / "all-minilm-l6-v2", "all-minilm-l6-v2");
    }
    auto src = ConfigSource::from_string(
        "aligner: {type: qformer, layers: 6, hidden: 384, heads: 12, ffn: 1536, queries: 4, "
        "init: {path: all-minilm-l6-v2, format: bert}}",
        "test.yaml", test::aligner_data(""));
    const auto a = make_aligner({.modality = "image", .encoder_width = 48, .llm_width = 8}, src->section("aligner"));
    io::SafetensorsFile st(ModelCache().resolve("all-minilm-l6-v2/model.safetensors"));
    const auto params = a->named_parameters();
    std::map<std::string, at::Tensor> now(params.begin(), params.end());
    CHECK(at::equal(now["qformer.layer.5.ffn.up.weight"],
                    weights::record_to_tensor(st.tensor("encoder.layer.5.intermediate.dense.weight"))));
  }
  SUBCASE("a bad init format is refused with the choices") {
    auto src = ConfigSource::from_string("aligner: {type: linear, init: {format: bret}}", "test.yaml", ".");
    CHECK(test::report_of<ConfigError>([&] { make_aligner(ctx, src->section("aligner")); }).find("bert") !=
          std::string::npos);
  }
}
