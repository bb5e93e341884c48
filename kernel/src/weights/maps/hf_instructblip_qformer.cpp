// transformers' InstructBlipForConditionalGeneration names → our Q-Former aligner.
#include "map_builder.h"
#include "xib/weights/maps.h"

namespace xib::weights::maps {

namespace {

using detail::Row;

// Under qformer.encoder.layer.{i}. → under qformer.layer.{i}.
constexpr Row kLayer[] = {
    {"attention.attention.query", "self_attn.q"},
    {"attention.attention.key", "self_attn.k"},
    {"attention.attention.value", "self_attn.v"},
    {"attention.output.dense", "self_attn.out"},
    {"attention.output.LayerNorm", "self_attn.norm"},
    {"intermediate.dense", "ffn.up"},
    {"output.dense", "ffn.down"},
    {"output.LayerNorm", "ffn.norm"},
    {"intermediate_query.dense", "query_ffn.up"},
    {"output_query.dense", "query_ffn.down"},
    {"output_query.LayerNorm", "query_ffn.norm"},
};
// Only on layers with i % cross_attention_freq == 0.
constexpr Row kCross[] = {
    {"crossattention.attention.query", "cross_attn.q"},     {"crossattention.attention.key", "cross_attn.k"},
    {"crossattention.attention.value", "cross_attn.v"},     {"crossattention.output.dense", "cross_attn.out"},
    {"crossattention.output.LayerNorm", "cross_attn.norm"},
};

}  // namespace

WeightMap hf_instructblip_qformer(const QFormerMapOptions& options) {
  WeightMap map{.name = "transformers instructblip q-former"};
  map.entries.push_back(
      {.from = {"qformer.embeddings.word_embeddings.weight"}, .to = "qformer.embeddings.word.weight"});
  map.entries.push_back(
      {.from = {"qformer.embeddings.position_embeddings.weight"}, .to = "qformer.embeddings.position.weight"});
  detail::add_module(map, "qformer.embeddings.layernorm", "qformer.embeddings.norm");
  for (const Row& r : kLayer) {
    detail::add_module(map, std::string("qformer.encoder.layer.{i}.") + r.upstream,
                       std::string("qformer.layer.{i}.") + r.ours);
  }
  for (const Row& r : kCross) {
    detail::add_module(map, std::string("qformer.encoder.layer.{i}.") + r.upstream,
                       std::string("qformer.layer.{i}.") + r.ours, options.cross_attention_freq);
  }
  map.entries.push_back({.from = {"query_tokens"}, .to = "query_tokens"});
  detail::add_module(map, "vision_model.post_layernorm", "ln");  // BLIP-2's ln_vision
  detail::add_module(map, "language_projection", "llm_proj");

  map.skips = {
      {.pattern = "qformer.embeddings.position_ids", .reason = "a buffer (0 … 511), not a weight"},
      {.pattern = "vision_model.embeddings.*", .reason = "the frozen vision encoder, loaded by its own map"},
      {.pattern = "vision_model.encoder.*", .reason = "the frozen vision encoder, loaded by its own map"},
      {.pattern = "language_model.*", .reason = "the frozen LLM, loaded by its own map"},
  };
  if (!options.load_attention) {
    map.skips.insert(map.skips.begin(), {.pattern = "*attention*",
                                         .reason = "load_attention=False: every weight whose name contains "
                                                   "'attention' is skipped"});
  }
  return map;
}

}  // namespace xib::weights::maps
