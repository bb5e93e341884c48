// LAVIS X-InstructBLIP names (blip2_vicuna_xinstruct.py + Qformer.py) → our Q-Former aligner.
#include "map_builder.h"
#include "xib/weights/maps.h"

namespace xib::weights::maps {

WeightMap lavis_qformer(const QFormerMapOptions& options) {
  WeightMap map{.name = "lavis x-instructblip q-former"};
  detail::add_lavis_bert(map, "{m}_Qformer.bert.", options.cross_attention_freq);
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
