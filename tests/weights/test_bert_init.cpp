// Real data: initialising a 6-layer, hidden-384 Q-Former from all-MiniLM-L6-v2 (a BertModel)
// with load_attention=False. Skipped, with a message, when the model cache lacks the model.
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "test_skip.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/io/safetensors.h"
#include "xib/model_cache.h"
#include "xib/weights/maps.h"
#include "xib/weights/weight_loader.h"
#include "xib/weights/weight_map.h"

using namespace xib::weights;

namespace {

std::optional<xib::io::SafetensorsFile> minilm() {
  const auto file = xib::ModelCache::default_root() / "all-minilm-l6-v2" / "model.safetensors";
  if (!std::filesystem::exists(file)) {
    xib::test::skip_missing_model(file.string(), "all-minilm-l6-v2");
    return std::nullopt;
  }
  return xib::io::SafetensorsFile(file);
}

// MiniLM's vocabulary has no [DEC]: 30522 rows, where the X-InstructBLIP Q-Former has 30523.
const maps::QFormerShape kShape{.layers = 6, .hidden = 384, .ffn = 1536, .vocab = 30522, .encoder_width = 1408};

bool has_reason(const std::vector<Noted>& list, const std::string& name, const std::string& part) {
  for (const auto& n : list) {
    if (n.name == name) return n.reason.find(part) != std::string::npos;
  }
  return false;
}

}  // namespace

TEST_CASE("bert init: all-MiniLM-L6-v2 plans onto a 6-layer q-former with load_attention=False") {
  const auto file = minilm();
  if (!file) return;
  const auto em = expand(maps::bert_qformer_init({.load_attention = false}), {.layers = 6});
  const auto expected = maps::qformer_params(kShape);
  const auto p = plan(em, source_tensors(file->records()), expected, {.source_label = "all-MiniLM-L6-v2"});
  CHECK_MESSAGE(p.ok(), p.summary());
  MESSAGE(p.summary());

  CHECK(file->records().size() == 104);
  CHECK(p.unexpected.empty());
  // Skipped: 10 attention tensors per layer, token-type embeddings, position_ids, the pooler.
  CHECK(p.skipped.size() == 6 * 10 + 1 + 1 + 2);
  // Loaded: word/position embeddings + their LayerNorm, and per layer the FFN, copied into
  // the query FFN too (BLIP-2 stage 1).
  CHECK(p.assignments.size() == 4 + 6 * 12);
  // Fresh: self-attention (skipped by load_attention=False), cross-attention on layers 0, 2, 4
  // (BERT has none), query tokens, the encoder LayerNorm and llm_proj.
  CHECK(p.fresh.size() == 6 * 10 + 3 * 10 + 1 + 2 + 2);
  CHECK(p.assignments.size() + p.fresh.size() == expected.size());
  CHECK(has_reason(p.fresh, "qformer.layer.0.self_attn.q.weight", "load_attention=False"));
  CHECK(has_reason(p.fresh, "qformer.layer.4.cross_attn.k.weight", "BERT has none"));
  CHECK(has_reason(p.fresh, "query_tokens", "N(0, 0.02)"));
  CHECK(p.missing.empty());
}

TEST_CASE("bert init: MiniLM against the wrong sizes says why") {
  const auto file = minilm();
  if (!file) return;
  const auto source = source_tensors(file->records());
  SUBCASE("vocabulary with [DEC]") {
    auto shape = kShape;
    shape.vocab = 30523;
    const auto p = plan(expand(maps::bert_qformer_init(), {.layers = 6}), source, maps::qformer_params(shape));
    REQUIRE(p.misshaped.size() == 1);
    CHECK(p.misshaped[0].to == "qformer.embeddings.word.weight");
    CHECK(p.hint.find("vocabulary sizes differ") != std::string::npos);
  }
  SUBCASE("twelve layers") {
    auto shape = kShape;
    shape.layers = 12;
    const auto p = plan(expand(maps::bert_qformer_init(), {.layers = 12}), source, maps::qformer_params(shape));
    CHECK(p.missing.size() == 6 * 22);  // layers 6 … 11: self-attention, FFN and query FFN
    CHECK(p.hint.find("the checkpoint has 6 layers") != std::string::npos);
  }
  SUBCASE("bert-base names") {
    const auto p =
        plan(expand(maps::bert_qformer_init({.prefix = "bert."}), {.layers = 6}), source, maps::qformer_params(kShape));
    CHECK(p.hint.find("under 'bert.'") != std::string::npos);
  }
}

TEST_CASE("bert init: MiniLM's weights land in the q-former parameters") {
  const auto file = minilm();
  if (!file) return;
  std::map<std::string, at::Tensor> params;
  for (const auto& d : maps::qformer_params(kShape)) params[d.name] = at::full(d.shape, 42.0f);
  const auto em = expand(maps::bert_qformer_init({.load_attention = false}), {.layers = 6});
  const auto report = load_weights(em, file->records(), params, {.source_label = "all-MiniLM-L6-v2"});
  CHECK(report.loaded == 4 + 6 * 12);
  CHECK(report.fresh.size() == 95);

  const auto up = record_to_tensor(file->tensor("encoder.layer.3.intermediate.dense.weight"));
  CHECK(at::equal(params["qformer.layer.3.ffn.up.weight"], up));
  CHECK(at::equal(params["qformer.layer.3.query_ffn.up.weight"], up));
  CHECK(at::equal(params["qformer.embeddings.word.weight"],
                  record_to_tensor(file->tensor("embeddings.word_embeddings.weight"))));
  // Fresh parameters are left untouched.
  CHECK(params["qformer.layer.3.self_attn.q.weight"].eq(42.0f).all().item<bool>());
}
