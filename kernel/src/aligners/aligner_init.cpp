// Which weight map reads an aligner's `init:` checkpoint: format detection from the stored
// names, LAVIS modality prefixes, and the expanded maps (tables in kernel/src/weights/maps/).
#include "xib/aligners/aligner_init.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <set>

#include "xib/error.h"

namespace xib::aligners {

namespace {

/// Position of `marker` in `name` when it starts the name or follows a '.', else npos.
size_t anchored(const std::string& name, std::string_view marker) {
  for (size_t pos = name.find(marker); pos != std::string::npos; pos = name.find(marker, pos + 1)) {
    if (pos == 0 || name[pos - 1] == '.') return pos;
  }
  return std::string::npos;
}

/// The modality word before a LAVIS marker ("image" in "model.image_Qformer.bert…"), with the
/// position where the word starts. `{m}_projection` (the linear aligner) counts only with its
/// `{m}_ln` beside it: transformers' `language_projection` is not a modality.
std::optional<std::pair<std::string, size_t>> lavis_word(const std::string& name, const std::set<std::string>& all) {
  for (std::string_view marker : {"_Qformer.", "_query_tokens", "_llm_proj.", "_projection."}) {
    const size_t at = name.find(marker);
    if (at == std::string::npos || at == 0) continue;
    if (marker == "_query_tokens" && at + marker.size() != name.size()) continue;
    const size_t dot = name.rfind('.', at);
    const size_t begin = dot == std::string::npos ? 0 : dot + 1;
    if (begin >= at) continue;
    std::string word = name.substr(begin, at - begin);
    if (word == "llm") continue;  // "llm_proj" itself is not a modality prefix
    if (marker == "_projection." || marker == "_llm_proj.") {
      if (!all.count(name.substr(0, at) + "_ln.weight")) continue;
    }
    return std::make_pair(word, begin);
  }
  return std::nullopt;
}

std::string prefix_before(const std::string& name, size_t pos) {
  return pos == 0 ? std::string() : name.substr(0, pos - 1);  // without the trailing '.'
}

std::string examples(const std::vector<std::string>& names, size_t n = 4) {
  std::vector<std::string> head(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(std::min(n, names.size())));
  return join_names(head) + (names.size() > n ? fmt::format(", … ({} in all)", names.size()) : "");
}

weights::ExpandedMap identity_map(const std::vector<std::string>& own) {
  weights::ExpandedMap map{.name = "xib aligner (our names)"};
  for (const auto& n : own) map.entries.push_back({.from = {n}, .to = n});
  return map;
}

void skip_other_modalities(weights::ExpandedMap& map, const std::vector<std::string>& names,
                           const std::string& modality, const std::string& label) {
  const auto found = lavis_modalities(names);
  if (std::find(found.begin(), found.end(), modality) == found.end()) {
    throw NotFoundError(
        {.what = fmt::format("{} holds no aligner for modality '{}'", label, modality),
         .where = label,
         .expected =
             fmt::format("{0}_Qformer.*, {0}_query_tokens, {0}_ln.*, {0}_llm_proj.* (or {0}_projection.*)", modality),
         .got = found.empty() ? "no LAVIS aligner names at all" : "aligners for: " + join_names(found),
         .hint = found.empty() ? "is this an X-InstructBLIP checkpoint? set aligner.init.format"
                               : fmt::format("set aligner.init.modality: {} to read that one, or use the "
                                             "checkpoint of the '{}' aligner",
                                             found.front(), modality)});
  }
  for (const auto& other : found) {
    if (other == modality) continue;
    const std::string why = "the '" + other + "' aligner (this one reads '" + modality + "')";
    for (const char* leaf : {"_Qformer.*", "_query_tokens", "_ln.*", "_llm_proj.*", "_projection.*", "_encoder.*"}) {
      map.skips.push_back({.pattern = other + leaf, .reason = why});
    }
  }
}

}  // namespace

std::vector<std::string> qformer_init_formats() { return {"auto", "xib", "lavis", "hf_instructblip", "blip2", "bert"}; }
std::vector<std::string> linear_init_formats() { return {"auto", "xib", "lavis"}; }
std::vector<std::string> qformer_only_init_formats() { return {"bert", "blip2", "hf_instructblip"}; }

std::vector<std::string> lavis_modalities(const std::vector<std::string>& names) {
  const std::set<std::string> all(names.begin(), names.end());
  std::set<std::string> found;
  for (const auto& n : names) {
    if (auto w = lavis_word(n, all); w && w->second == 0) found.insert(w->first);
  }
  return {found.begin(), found.end()};
}

ResolvedInit resolve_init(const AlignerInit& init, const std::vector<std::string>& names,
                          const std::string& source_label) {
  if (init.format != "auto") return {.format = init.format, .prefix = init.prefix};
  auto done = [&](std::string format, std::string prefix) {
    return ResolvedInit{.format = std::move(format), .prefix = init.prefix.empty() ? std::move(prefix) : init.prefix};
  };
  const std::set<std::string> all(names.begin(), names.end());
  for (const auto& n : names) {
    if (auto w = lavis_word(n, all)) return done("lavis", prefix_before(n, w->second));
  }
  for (const auto& n : names) {
    if (auto p = anchored(n, "Qformer.bert."); p != std::string::npos) return done("blip2", prefix_before(n, p));
  }
  for (const auto& n : names) {
    if (auto p = anchored(n, "qformer.encoder.layer."); p != std::string::npos) {
      return done("hf_instructblip", prefix_before(n, p));
    }
  }
  for (const auto& n : names) {
    if (auto p = anchored(n, "qformer.layer."); p != std::string::npos) return done("xib", prefix_before(n, p));
    if (n == "projection.weight") return done("xib", "");
  }
  for (const auto& n : names) {
    if (auto p = anchored(n, "encoder.layer.0.attention.self.query.weight"); p != std::string::npos) {
      std::string prefix = prefix_before(n, p);
      if (prefix == "bert") prefix.clear();  // BertForMaskedLM: the map reads "bert." itself
      if (prefix.size() > 5 && prefix.ends_with(".bert")) prefix.resize(prefix.size() - 5);
      return done("bert", prefix);
    }
  }
  throw NotFoundError({.what = "cannot tell which aligner checkpoint format this is",
                       .where = source_label,
                       .expected = "names like image_Qformer.bert.… (lavis), Qformer.bert.… (blip2), "
                                   "qformer.encoder.layer.… (hf_instructblip), encoder.layer.… (bert), "
                                   "qformer.layer.… (xib)",
                       .got = examples(names),
                       .hint = "set aligner.init.format (one of: " + join_names(qformer_init_formats()) + ")"});
}

weights::ExpandedMap qformer_init_map(const AlignerInit& init, const ResolvedInit& resolved,
                                      const std::string& modality, const weights::maps::QFormerShape& shape,
                                      const std::vector<std::string>& names, const std::vector<std::string>& own) {
  namespace maps = weights::maps;
  const auto& f = resolved.format;
  const std::string m = init.modality.empty() ? modality : init.modality;
  if (f == "xib") return identity_map(own);
  if (f == "lavis") {
    auto em = weights::expand(maps::lavis_qformer({.cross_attention_freq = shape.cross_attention_freq,
                                                   .load_attention = init.load_attention}),
                              {.layers = shape.layers, .vars = {{"m", m}}});
    skip_other_modalities(em, names, m, "the checkpoint");
    return em;
  }
  if (f == "hf_instructblip") {
    return weights::expand(maps::hf_instructblip_qformer({.cross_attention_freq = shape.cross_attention_freq,
                                                          .load_attention = init.load_attention}),
                           {.layers = shape.layers});
  }
  if (f == "blip2") {
    return weights::expand(maps::blip2_qformer({.cross_attention_freq = shape.cross_attention_freq,
                                                .load_attention = init.load_attention,
                                                .vocab = shape.vocab}),
                           {.layers = shape.layers});
  }
  if (f == "bert") {
    const bool masked_lm = std::any_of(names.begin(), names.end(),
                                       [](const std::string& n) { return n.starts_with("bert.encoder.layer."); });
    return weights::expand(maps::bert_qformer_init({.prefix = masked_lm ? "bert." : "",
                                                    .cross_attention_freq = shape.cross_attention_freq,
                                                    .load_attention = init.load_attention,
                                                    .query_ffn_from_ffn = init.query_ffn_from_ffn,
                                                    .vocab = shape.vocab,
                                                    .keep_layers = init.first_layers ? shape.layers : 0}),
                           {.layers = shape.layers});
  }
  throw ConfigError({.what = "the Q-Former aligner cannot read init format '" + f + "'",
                     .where = "aligner.init.format",
                     .expected = "one of: " + join_names(qformer_init_formats()),
                     .got = f});
}

weights::ExpandedMap linear_init_map(const AlignerInit& init, const ResolvedInit& resolved, const std::string& modality,
                                     const std::vector<std::string>& names, const std::vector<std::string>& own) {
  const auto& f = resolved.format;
  const std::string m = init.modality.empty() ? modality : init.modality;
  if (f == "xib") return identity_map(own);
  if (f == "lavis") {
    auto em = weights::expand(weights::maps::lavis_linear(), {.vars = {{"m", m}}});
    skip_other_modalities(em, names, m, "the checkpoint");
    return em;
  }
  throw ConfigError({.what = "the linear aligner cannot read init format '" + f + "'",
                     .where = "aligner.init.format",
                     .expected = "one of: " + join_names(linear_init_formats()),
                     .got = f,
                     .hint = f == "auto" ? "" : "a Q-Former checkpoint has no projection_only weights"});
}

}  // namespace xib::aligners
