// Plain BERT (transformers' BertModel / BertForMaskedLM names) → the Q-Former parts BERT has.
#include <string>

#include "map_builder.h"
#include "xib/weights/maps.h"

namespace xib::weights::maps {

namespace {

constexpr int64_t kMaxSourceLayers = 64;  // deeper than any BERT a Q-Former starts from

// BLIP-2 stage 1 copies each ordinary FFN module into its query twin.
constexpr detail::Row kQueryFfn[] = {
    {"intermediate.dense", "query_ffn.up"},
    {"output.dense", "query_ffn.down"},
    {"output.LayerNorm", "query_ffn.norm"},
};

}  // namespace

WeightMap bert_qformer_init(const BertInitOptions& options) {
  WeightMap map{.name = "bert → q-former init"};
  const std::string p = options.prefix;
  map.entries.push_back({.from = {p + "embeddings.word_embeddings.weight"},
                         .to = "qformer.embeddings.word.weight",
                         .transform = options.vocab > 0 ? Transform::grow(0, options.vocab) : Transform::identity()});
  map.entries.push_back(
      {.from = {p + "embeddings.position_embeddings.weight"}, .to = "qformer.embeddings.position.weight"});
  detail::add_module(map, p + "embeddings.LayerNorm", "qformer.embeddings.norm");
  detail::add_layer_rows(map, p + "encoder.layer.{i}.", detail::kBertLayer);
  if (options.query_ffn_from_ffn) detail::add_layer_rows(map, p + "encoder.layer.{i}.", kQueryFfn);

  map.skips = {
      {.pattern = p + "embeddings.token_type_embeddings.*", .reason = "the Q-Former has no token-type embeddings"},
      {.pattern = p + "embeddings.position_ids", .reason = "a buffer (0 … 511), not a weight"},
      {.pattern = "*pooler.*", .reason = "the Q-Former has no pooler"},
      {.pattern = "cls.*", .reason = "BERT's pre-training heads are not part of the Q-Former"},
  };
  for (int64_t i = options.keep_layers; options.keep_layers > 0 && i < kMaxSourceLayers; ++i) {
    map.skips.push_back({.pattern = p + "encoder.layer." + std::to_string(i) + ".*",
                         .reason = "init.first_layers: the Q-Former keeps BERT's first " +
                                   std::to_string(options.keep_layers) + " layers"});
  }
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
