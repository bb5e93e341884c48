// Small helpers the map tables share: a Linear or LayerNorm is two entries (.weight, .bias), and
// the BERT layer rows every Q-Former source (LAVIS, BLIP-2, plain BERT) names the same way.
#pragma once

#include <string>

#include "xib/weights/weight_map.h"

namespace xib::weights::maps::detail {

/// One module of a table: upstream module name → ours (".weight"/".bias" appended).
struct Row {
  const char* upstream;
  const char* ours;
};

/// Entries for `from`.weight → `to`.weight and `from`.bias → `to`.bias.
inline void add_module(WeightMap& map, const std::string& from, const std::string& to, int64_t layer_step = 1) {
  for (const char* leaf : {".weight", ".bias"}) {
    map.entries.push_back({.from = {from + leaf}, .to = to + leaf, .layer_step = layer_step});
  }
}

// Under {bert}encoder.layer.{i}. → under qformer.layer.{i}.: a plain BERT layer (also in LAVIS).
inline constexpr Row kBertLayer[] = {
    {"attention.self.query", "self_attn.q"},
    {"attention.self.key", "self_attn.k"},
    {"attention.self.value", "self_attn.v"},
    {"attention.output.dense", "self_attn.out"},
    {"attention.output.LayerNorm", "self_attn.norm"},
    {"intermediate.dense", "ffn.up"},
    {"output.dense", "ffn.down"},
    {"output.LayerNorm", "ffn.norm"},
};
// LAVIS Qformer.py's query FFN, on every layer.
inline constexpr Row kLavisQueryFfn[] = {
    {"intermediate_query.dense", "query_ffn.up"},
    {"output_query.dense", "query_ffn.down"},
    {"output_query.LayerNorm", "query_ffn.norm"},
};
// LAVIS Qformer.py's cross-attention, on layers with i % cross_attention_freq == 0.
inline constexpr Row kLavisCross[] = {
    {"crossattention.self.query", "cross_attn.q"},          {"crossattention.self.key", "cross_attn.k"},
    {"crossattention.self.value", "cross_attn.v"},          {"crossattention.output.dense", "cross_attn.out"},
    {"crossattention.output.LayerNorm", "cross_attn.norm"},
};

/// Every layer row of a BERT encoder under `layer_prefix` ("…encoder.layer.{i}.").
template <size_t N>
inline void add_layer_rows(WeightMap& map, const std::string& layer_prefix, const Row (&rows)[N],
                           int64_t layer_step = 1) {
  for (const Row& r : rows) {
    add_module(map, layer_prefix + r.upstream, std::string("qformer.layer.{i}.") + r.ours, layer_step);
  }
}

/// LAVIS's BertModel under `bert` ("{m}_Qformer.bert.", "Qformer.bert."): embeddings, every
/// layer with its query FFN, and cross-attention every `freq` layers. The word embedding grows to
/// `vocab` rows when given (> 0): BLIP-2 stage 1 has 30522, X-InstructBLIP 30523 ([DEC]).
inline void add_lavis_bert(WeightMap& map, const std::string& bert, int64_t freq, int64_t vocab = 0) {
  map.entries.push_back({.from = {bert + "embeddings.word_embeddings.weight"},
                         .to = "qformer.embeddings.word.weight",
                         .transform = vocab > 0 ? Transform::grow(0, vocab) : Transform::identity()});
  map.entries.push_back(
      {.from = {bert + "embeddings.position_embeddings.weight"}, .to = "qformer.embeddings.position.weight"});
  add_module(map, bert + "embeddings.LayerNorm", "qformer.embeddings.norm");
  add_layer_rows(map, bert + "encoder.layer.{i}.", kBertLayer);
  add_layer_rows(map, bert + "encoder.layer.{i}.", kLavisQueryFfn);
  add_layer_rows(map, bert + "encoder.layer.{i}.", kLavisCross, freq);
}

}  // namespace xib::weights::maps::detail
