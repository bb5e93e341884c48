// LAVIS X-InstructBLIP names (blip2_vicuna_xinstruct.py + Qformer.py) → our Q-Former aligner.
#include "map_builder.h"
#include "xib/weights/maps.h"

namespace xib::weights::maps {

namespace {

using detail::Row;

// Under {m}_Qformer.bert.encoder.layer.{i}. → under qformer.layer.{i}.
constexpr Row kLayer[] = {
    {"attention.self.query", "self_attn.q"},
    {"attention.self.key", "self_attn.k"},
    {"attention.self.value", "self_attn.v"},
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
    {"crossattention.self.query", "cross_attn.q"},          {"crossattention.self.key", "cross_attn.k"},
    {"crossattention.self.value", "cross_attn.v"},          {"crossattention.output.dense", "cross_attn.out"},
    {"crossattention.output.LayerNorm", "cross_attn.norm"},
};

}  // namespace

WeightMap lavis_qformer(const QFormerMapOptions& options) {
  WeightMap map{.name = "lavis x-instructblip q-former"};
  const std::string bert = "{m}_Qformer.bert.";
  map.entries.push_back({.from = {bert + "embeddings.word_embeddings.weight"}, .to = "qformer.embeddings.word.weight"});
  map.entries.push_back(
      {.from = {bert + "embeddings.position_embeddings.weight"}, .to = "qformer.embeddings.position.weight"});
  detail::add_module(map, bert + "embeddings.LayerNorm", "qformer.embeddings.norm");
  for (const Row& r : kLayer) {
    detail::add_module(map, bert + "encoder.layer.{i}." + r.upstream, std::string("qformer.layer.{i}.") + r.ours);
  }
  for (const Row& r : kCross) {
    detail::add_module(map, bert + "encoder.layer.{i}." + r.upstream, std::string("qformer.layer.{i}.") + r.ours,
                       options.cross_attention_freq);
  }
  map.entries.push_back({.from = {"{m}_query_tokens"}, .to = "query_tokens"});
  detail::add_module(map, "{m}_ln", "ln");
  detail::add_module(map, "{m}_llm_proj", "llm_proj");

  map.skips = {
      {.pattern = "{m}_Qformer.bert.embeddings.position_ids", .reason = "a buffer (0 … 511), not a weight"},
      {.pattern = "{m}_encoder.*", .reason = "the frozen encoder, loaded by its own map"},
      {.pattern = "llm_model.*", .reason = "the frozen LLM, loaded by its own map"},
      {.pattern = "{m}_Qformer.cls.*", .reason = "the MLM head, unused by the instruction Q-Former"},
  };
  if (!options.load_attention) {
    map.skips.insert(map.skips.begin(), {.pattern = "*attention*",
                                         .reason = "load_attention=False: upstream skips every weight whose "
                                                   "name contains 'attention'"});
  }
  return map;
}

}  // namespace xib::weights::maps
