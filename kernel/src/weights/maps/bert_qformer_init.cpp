// Plain BERT (transformers' BertModel / BertForMaskedLM names) → the Q-Former parts BERT has.
#include "map_builder.h"
#include "xib/weights/maps.h"

namespace xib::weights::maps {

namespace {

using detail::Row;

// Under encoder.layer.{i}. → under qformer.layer.{i}.
constexpr Row kLayer[] = {
    {"attention.self.query", "self_attn.q"},
    {"attention.self.key", "self_attn.k"},
    {"attention.self.value", "self_attn.v"},
    {"attention.output.dense", "self_attn.out"},
    {"attention.output.LayerNorm", "self_attn.norm"},
    {"intermediate.dense", "ffn.up"},
    {"output.dense", "ffn.down"},
    {"output.LayerNorm", "ffn.norm"},
};
// BLIP-2 stage 1 copies each ordinary FFN module into its query twin.
constexpr Row kQueryFfn[] = {
    {"intermediate.dense", "query_ffn.up"},
    {"output.dense", "query_ffn.down"},
    {"output.LayerNorm", "query_ffn.norm"},
};

}  // namespace

WeightMap bert_qformer_init(const BertInitOptions& options) {
  WeightMap map{.name = "bert → q-former init"};
  const std::string p = options.prefix;
  map.entries.push_back({.from = {p + "embeddings.word_embeddings.weight"}, .to = "qformer.embeddings.word.weight"});
  map.entries.push_back(
      {.from = {p + "embeddings.position_embeddings.weight"}, .to = "qformer.embeddings.position.weight"});
  detail::add_module(map, p + "embeddings.LayerNorm", "qformer.embeddings.norm");
  for (const Row& r : kLayer) {
    detail::add_module(map, p + "encoder.layer.{i}." + r.upstream, std::string("qformer.layer.{i}.") + r.ours);
  }
  if (options.query_ffn_from_ffn) {
    for (const Row& r : kQueryFfn) {
      detail::add_module(map, p + "encoder.layer.{i}." + r.upstream, std::string("qformer.layer.{i}.") + r.ours);
    }
  }

  map.skips = {
      {.pattern = p + "embeddings.token_type_embeddings.*", .reason = "the Q-Former has no token-type embeddings"},
      {.pattern = p + "embeddings.position_ids", .reason = "a buffer (0 … 511), not a weight"},
      {.pattern = "*pooler.*", .reason = "the Q-Former has no pooler"},
      {.pattern = "cls.*", .reason = "BERT's pre-training heads are not part of the Q-Former"},
  };
  if (!options.load_attention) {
    map.skips.insert(map.skips.begin(), {.pattern = "*attention*",
                                         .reason = "load_attention=False: every weight whose name contains "
                                                   "'attention' is skipped"});
  }
  map.allow_missing = {
      {.pattern = "qformer.layer.*.cross_attn.*", .reason = "cross-attention is Q-Former-only: BERT has none"},
      {.pattern = "query_tokens", .reason = "learned queries, initialised N(0, 0.02)"},
      {.pattern = "ln.*", .reason = "the encoder LayerNorm is not part of BERT"},
      {.pattern = "llm_proj.*", .reason = "the LLM projection is not part of BERT"},
  };
  if (!options.query_ffn_from_ffn) {
    map.allow_missing.push_back(
        {.pattern = "qformer.layer.*.query_ffn.*", .reason = "query FFN left fresh (query_ffn_from_ffn = false)"});
  }
  return map;
}

}  // namespace xib::weights::maps
