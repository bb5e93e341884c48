// The weight maps xib ships (tables in kernel/src/weights/maps/, one file each) and the
// parameter table of our Q-Former aligner they map onto.
//
// Our names, per modality aligner (the module is per modality, so no modality in the name):
//   ln.{weight,bias}                                  encoder LayerNorm            [d_enc]
//   query_tokens                                      learned queries              [1, Q, H]
//   qformer.embeddings.word.weight                    [vocab, H]
//   qformer.embeddings.position.weight                [max_positions, H]
//   qformer.embeddings.norm.{weight,bias}             [H]
//   qformer.layer.{i}.self_attn.{q,k,v,out}.{weight,bias}   [H, H], [H]
//   qformer.layer.{i}.self_attn.norm.{weight,bias}
//   qformer.layer.{i}.cross_attn.{q,out}.*  [H, H];  cross_attn.{k,v}.weight [H, d_enc]
//   qformer.layer.{i}.cross_attn.norm.*               (layers with i % cross_attention_freq == 0)
//   qformer.layer.{i}.ffn.{up,down,norm}.*            up [F, H], down [H, F]   (instruction tokens)
//   qformer.layer.{i}.query_ffn.{up,down,norm}.*      same shapes               (query tokens)
//   llm_proj.{weight,bias}                            [d_llm, H], [d_llm]
// The linear aligner (projection_only): ln.*, projection.{weight [Q·H, d_enc], bias [Q·H]},
// llm_proj.* (linear_params()).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "xib/weights/weight_map.h"

namespace xib::weights::maps {

struct QFormerMapOptions {
  int64_t cross_attention_freq = 2;
  /// false: upstream's load_attention=False rule: every name containing "attention" (self- and
  /// cross-attention with their output dense and LayerNorm) is skipped and starts fresh.
  bool load_attention = true;
};

/// LAVIS X-InstructBLIP checkpoints: {m}_Qformer.bert.…, {m}_query_tokens, {m}_ln.*,
/// {m}_llm_proj.*. Expand with .vars = {{"m", "image"}} (or video, audio, pc) and layers.
WeightMap lavis_qformer(const QFormerMapOptions& options = {});

/// transformers' InstructBlipForConditionalGeneration: qformer.embeddings.…,
/// qformer.encoder.layer.{i}.attention.attention.query, …crossattention.attention.query, …,
/// query_tokens, vision_model.post_layernorm (BLIP-2's ln_vision), language_projection.
WeightMap hf_instructblip_qformer(const QFormerMapOptions& options = {});

struct BertInitOptions {
  std::string prefix = {};  ///< "bert." for BertForMaskedLM / bert-base-uncased; "" for BertModel
  int64_t cross_attention_freq = 2;
  bool load_attention = true;
  /// BLIP-2 stage 1 copies the ordinary FFN into the query FFN after loading BERT; false
  /// leaves the query FFN fresh.
  bool query_ffn_from_ffn = true;
  /// > 0: the word embedding grows to this many rows (BERT's 30522 → 30523 with [DEC]); the
  /// extra rows keep their initialisation and the plan warns about them.
  int64_t vocab = 0;
  /// > 0: the Q-Former has this many layers and a deeper BERT initialises them from its bottom
  /// layers; the source's layers from here on are skipped (reported, not unexpected).
  int64_t keep_layers = 0;
};

/// Initialising a Q-Former from plain BERT (HF BertModel names: embeddings.…,
/// encoder.layer.{i}.attention.self.query, …). Token-type embeddings, the pooler, the MLM head
/// and position_ids are skipped; cross-attention, query tokens, ln and llm_proj come from
/// nowhere in BERT and are allowed to start fresh.
WeightMap bert_qformer_init(const BertInitOptions& options = {});

struct Blip2MapOptions {
  int64_t cross_attention_freq = 2;
  bool load_attention = true;
  /// Our word-embedding rows: stage 1 stores 30522 (no [DEC]); the rest keep their
  /// initialisation (Transform::grow, reported as a plan warning). 0: no growing.
  int64_t vocab = 30523;
};

/// BLIP-2 stage-1 checkpoints (blip2_pretrained.pth, tensors under "model"): Qformer.bert.…,
/// query_tokens, ln_vision.* → ln. The ITC/ITM heads, the MLM head and the vision encoder are
/// skipped; llm_proj starts fresh (stage 1 has none).
WeightMap blip2_qformer(const Blip2MapOptions& options = {});

/// LAVIS projection_only (the linear ablation): {m}_ln, {m}_projection, {m}_llm_proj.
WeightMap lavis_linear();

/// Sizes of one linear aligner.
struct LinearShape {
  int64_t queries = 32;
  int64_t hidden = 768;
  int64_t encoder_width = 1408;
  int64_t llm_width = 4096;
};

/// Our linear aligner's parameters: ln.*, projection.{weight [Q·h, d_enc], bias},
/// llm_proj.{weight [d_llm, h], bias}.
std::vector<DestParam> linear_params(const LinearShape& shape);

/// Sizes of one Q-Former aligner (defaults: SPEC's BERT-base Q-Former on EVA-CLIP, Vicuna 7B).
struct QFormerShape {
  int64_t layers = 12;
  int64_t hidden = 768;
  int64_t ffn = 3072;
  int64_t vocab = 30523;
  int64_t max_positions = 512;
  int64_t queries = 32;
  int64_t encoder_width = 1408;
  int64_t cross_attention_freq = 2;
  int64_t llm_width = 4096;  ///< 0: no llm_proj
  bool encoder_ln = true;    ///< include ln.*
};

/// Our parameters (names as above, f32) for these sizes, in a stable order.
std::vector<DestParam> qformer_params(const QFormerShape& shape);

}  // namespace xib::weights::maps
