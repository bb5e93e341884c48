// Our Q-Former aligner's parameter table (names, shapes) for given sizes: what the maps fill.
#include <string>

#include "xib/weights/maps.h"

namespace xib::weights::maps {

std::vector<DestParam> qformer_params(const QFormerShape& s) {
  std::vector<DestParam> out;
  auto add = [&](std::string name, std::vector<int64_t> shape) {
    out.push_back({.name = std::move(name), .shape = std::move(shape)});
  };
  auto linear = [&](const std::string& name, int64_t out_features, int64_t in_features) {
    add(name + ".weight", {out_features, in_features});
    add(name + ".bias", {out_features});
  };
  auto norm = [&](const std::string& name, int64_t width) {
    add(name + ".weight", {width});
    add(name + ".bias", {width});
  };
  const int64_t h = s.hidden;
  if (s.encoder_ln) norm("ln", s.encoder_width);
  add("query_tokens", {1, s.queries, h});
  add("qformer.embeddings.word.weight", {s.vocab, h});
  add("qformer.embeddings.position.weight", {s.max_positions, h});
  norm("qformer.embeddings.norm", h);
  for (int64_t i = 0; i < s.layers; ++i) {
    const std::string l = "qformer.layer." + std::to_string(i) + ".";
    for (const char* m : {"q", "k", "v", "out"}) linear(l + "self_attn." + m, h, h);
    norm(l + "self_attn.norm", h);
    if (s.cross_attention_freq > 0 && i % s.cross_attention_freq == 0) {
      linear(l + "cross_attn.q", h, h);
      linear(l + "cross_attn.k", h, s.encoder_width);
      linear(l + "cross_attn.v", h, s.encoder_width);
      linear(l + "cross_attn.out", h, h);
      norm(l + "cross_attn.norm", h);
    }
    for (const char* f : {"ffn", "query_ffn"}) {
      linear(l + f + ".up", s.ffn, h);
      linear(l + f + ".down", h, s.ffn);
      norm(l + f + ".norm", h);
    }
  }
  if (s.llm_width > 0) linear("llm_proj", s.llm_width, h);
  return out;
}

}  // namespace xib::weights::maps
