// BLIP-2 stage-1 checkpoints (LAVIS blip2_qformer.py, blip2_pretrained.pth under "model"):
// Qformer.bert.…, query_tokens, ln_vision.* → our Q-Former aligner. Stage 1 has no [DEC] (30522
// word rows) and no LLM projection: the word embedding grows to our vocabulary (row 30522 keeps
// its initialisation, reported) and llm_proj starts fresh.
#include "map_builder.h"
#include "xib/weights/maps.h"

namespace xib::weights::maps {

WeightMap blip2_qformer(const Blip2MapOptions& options) {
  WeightMap map{.name = "lavis blip-2 stage-1 q-former"};
  detail::add_lavis_bert(map, "Qformer.bert.", options.cross_attention_freq, options.vocab);
  map.entries.push_back({.from = {"query_tokens"}, .to = "query_tokens"});
  detail::add_module(map, "ln_vision", "ln");

  map.skips = {
      {.pattern = "Qformer.bert.embeddings.position_ids", .reason = "a buffer (0 … 511), not a weight"},
      {.pattern = "visual_encoder.*", .reason = "the frozen vision encoder, loaded by its own map"},
      {.pattern = "Qformer.cls.*", .reason = "the MLM head, unused by the instruction Q-Former"},
      {.pattern = "vision_proj.*", .reason = "stage-1 contrastive head (ITC), not part of the aligner"},
      {.pattern = "text_proj.*", .reason = "stage-1 contrastive head (ITC), not part of the aligner"},
      {.pattern = "itm_head.*", .reason = "stage-1 image-text matching head, not part of the aligner"},
      {.pattern = "temp", .reason = "stage-1 contrastive temperature"},
  };
  if (!options.load_attention) {
    map.skips.insert(map.skips.begin(), {.pattern = "*attention*",
                                         .reason = "load_attention=False: upstream skips every weight whose "
                                                   "name contains 'attention'"});
  }
  map.allow_missing = {
      {.pattern = "llm_proj.*", .reason = "BLIP-2 stage 1 has no LLM projection"},
  };
  return map;
}

}  // namespace xib::weights::maps
