// Option checks of the built-in aligners and their registration as the aligner types "qformer"
// and "linear" (recipe `aligner: {type: …}`). Torch-free.
#include <fmt/format.h>

#include <algorithm>

#include "../plugin/builtins.h"
#include "xib/aligners/linear.h"
#include "xib/aligners/qformer.h"
#include "xib/log.h"

namespace xib {

namespace aligners {

namespace {

void require_positive(Validator& v, std::string_view key, int64_t value) {
  v.require(value > 0, key, "a positive number", value);
}
void require_probability(Validator& v, std::string_view key, double p) {
  v.require(p >= 0.0 && p < 1.0, key, "a probability in [0, 1)", p);
}

/// Options of either type with the model's facts filled in.
template <class Options>
Options with_context(Options o, const AlignerContext& context) {
  o.modality = context.modality;
  o.encoder_width = context.encoder_width;
  o.llm_width = context.llm_width;
  return o;
}

}  // namespace

void QFormerOptions::validate(Validator& v) const {
  for (auto [key, value] : {std::pair<std::string_view, int64_t>{"layers", layers},
                            {"hidden", hidden},
                            {"heads", heads},
                            {"ffn", ffn},
                            {"queries", queries},
                            {"cross_attention_freq", cross_attention_freq},
                            {"encoder_width", encoder_width},
                            {"vocab", vocab},
                            {"max_positions", max_positions},
                            {"llm_width", llm_width},
                            {"max_text_tokens", max_text_tokens}}) {
    require_positive(v, key, value);
  }
  if (heads > 0) {
    v.require(hidden % heads == 0, "heads", fmt::format("a divisor of hidden ({})", hidden), heads);
  }
  v.require(max_text_tokens >= 2 && max_text_tokens <= max_positions, "max_text_tokens",
            fmt::format("between 2 ([CLS] [SEP]) and max_positions ({})", max_positions), max_text_tokens);
  require_probability(v, "dropout", dropout);
  require_probability(v, "attention_dropout", attention_dropout);
  v.require(encoder_ln_eps > 0.0, "encoder_ln_eps", "a positive number", encoder_ln_eps);
  v.require(norm_eps > 0.0, "norm_eps", "a positive number", norm_eps);
}

QFormerOptions QFormerOptions::with(const AlignerContext& context) const { return with_context(*this, context); }

weights::maps::QFormerShape QFormerOptions::shape() const {
  return {.layers = layers,
          .hidden = hidden,
          .ffn = ffn,
          .vocab = vocab,
          .max_positions = max_positions,
          .queries = queries,
          .encoder_width = encoder_width,
          .cross_attention_freq = cross_attention_freq,
          .llm_width = llm_width};
}

void LinearOptions::validate(Validator& v) const {
  require_positive(v, "queries", queries);
  require_positive(v, "hidden", hidden);
  require_positive(v, "encoder_width", encoder_width);
  require_positive(v, "llm_width", llm_width);
  v.require(encoder_ln_eps > 0.0, "encoder_ln_eps", "a positive number", encoder_ln_eps);
  // A Q-Former-only source (a plain BERT, BLIP-2, HF InstructBLIP) is accepted and skipped,
  // like the Q-Former's keys, so that a recipe swaps `type:` alone.
  std::vector<std::string> formats = linear_init_formats();
  for (const auto& f : qformer_only_init_formats()) formats.push_back(f);
  v.one_of("init.format", init.format, formats);
}

LinearOptions LinearOptions::with(const AlignerContext& context) const { return with_context(*this, context); }

}  // namespace aligners

void register_aligners(Registrations& reg) {
  add_aligner_type<aligners::QFormerOptions>(
      reg, "qformer",
      [](const aligners::QFormerOptions& options, const AlignerContext& context) -> std::unique_ptr<Aligner> {
        const auto o = options.with(context);
        auto a = std::make_unique<aligners::QFormerAligner>(o);
        if (context.load_init && !o.init.path.empty()) {
          log::info("aligner '{}' (qformer): {}", o.modality, a->load(o.init).summary());
        }
        return a;
      },
      "instruction-aware Q-Former (BERT, learned queries, cross-attention to the encoder tokens)");
  add_aligner_type<aligners::LinearOptions>(
      reg, "linear",
      [](const aligners::LinearOptions& options, const AlignerContext& context) -> std::unique_ptr<Aligner> {
        const auto o = options.with(context);
        auto a = std::make_unique<aligners::LinearAligner>(o);
        const auto qformer_only = aligners::qformer_only_init_formats();
        if (!context.load_init || o.init.path.empty()) return a;
        if (std::find(qformer_only.begin(), qformer_only.end(), o.init.format) != qformer_only.end()) {
          log::info(
              "aligner '{}' (linear): init {} ({}) initialises a Q-Former; the linear aligner has no BERT and "
              "starts fresh (seed {})",
              o.modality, o.init.path.filename().string(), o.init.format, o.seed);
        } else {
          log::info("aligner '{}' (linear): {}", o.modality, a->load(o.init).summary());
        }
        return a;
      },
      "linear-projection ablation (projection_only): mean-pool → Linear → [Q, h] → llm_proj");
}

}  // namespace xib
