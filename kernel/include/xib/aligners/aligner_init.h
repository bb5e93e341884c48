// Where an aligner's starting weights come from: the recipe's `aligner.init:` section, and the
// weight map each source format uses (tables in kernel/src/weights/maps/). Torch-free.
//
//   aligner:
//     type: qformer
//     init: {path: blip2_pretrained.pth, format: blip2, load_attention: false}
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "xib/config.h"
#include "xib/weights/maps.h"
#include "xib/weights/weight_map.h"

namespace xib::aligners {

/// `aligner.init:`: a checkpoint to start from. An empty path means fresh initialisation.
struct AlignerInit {
  std::filesystem::path path = {};
  /// auto | xib | lavis | hf_instructblip | blip2 | bert (Q-Former); auto | xib | lavis (linear).
  std::string format = "auto";
  std::string modality = {};       ///< LAVIS "{m}_" prefix to read; empty: the aligner's own modality
  std::string prefix = {};         ///< dotted prefix stripped from stored names ("model", "module")
  bool load_attention = true;      ///< false: upstream's load_attention=False (skip "*attention*")
  bool query_ffn_from_ffn = true;  ///< bert: copy each FFN into the query FFN (BLIP-2 stage 1)
  bool strict = true;              ///< unexpected tensors in the checkpoint are errors
  /// bert: a deeper BERT initialises the Q-Former's `layers` from its first ones (the rest are
  /// skipped), e.g. 2 layers from all-MiniLM-L6-v2's 6.
  bool first_layers = false;

  template <class V>
  void fields(V& v) {
    v("path", path, "checkpoint file or folder (safetensors, .pth, .bin); empty: fresh");
    v("format", format, "auto, xib, lavis, hf_instructblip, blip2 or bert");
    v("modality", modality, "LAVIS {m}_ prefix to read (default: the aligner's modality)");
    v("prefix", prefix, "dotted prefix stripped from stored names, e.g. 'model'");
    v("load_attention", load_attention, "false: skip every weight whose name contains 'attention'");
    v("query_ffn_from_ffn", query_ffn_from_ffn, "bert: copy the FFN into the query FFN");
    v("strict", strict, "unexpected tensors are errors (else warnings)");
    v("first_layers", first_layers, "bert: initialise the Q-Former's layers from a deeper BERT's first ones");
  }
  void validate(Validator& v) const {
    v.one_of("format", format, {"auto", "xib", "lavis", "hf_instructblip", "blip2", "bert"});
  }
};

/// The formats a Q-Former aligner reads; the linear aligner reads "xib" and "lavis".
std::vector<std::string> qformer_init_formats();
std::vector<std::string> linear_init_formats();
/// The formats only a Q-Former reads (bert, blip2, hf_instructblip): a linear aligner given one
/// skips it and starts fresh.
std::vector<std::string> qformer_only_init_formats();

/// The format and stored prefix actually used.
struct ResolvedInit {
  std::string format = {};
  std::string prefix = {};
};

/// init.format, or for "auto" the format recognised from the stored names: lavis
/// ({m}_Qformer.… / {m}_projection.…), blip2 (Qformer.bert.…), hf_instructblip
/// (qformer.encoder.…), bert (encoder.layer.… / bert.encoder.layer.…), xib (qformer.layer.… /
/// projection.…). A leading dotted prefix before the recognised names ("model.") becomes the
/// prefix when init.prefix is empty. NotFoundError with example names when nothing fits.
ResolvedInit resolve_init(const AlignerInit& init, const std::vector<std::string>& names,
                          const std::string& source_label);

/// Modalities a LAVIS checkpoint holds aligners for ("image" from image_Qformer.…,
/// image_projection.…, image_query_tokens), sorted.
std::vector<std::string> lavis_modalities(const std::vector<std::string>& names);

/// The expanded map for one resolved format, with skips for the other modalities' aligners of a
/// LAVIS checkpoint. `names` are the stored names with the prefix already stripped; `own` our
/// parameter names (for the "xib" identity map). NotFoundError when a LAVIS checkpoint has no
/// aligner for `modality` (listing the ones it has); ConfigError for a format this aligner cannot
/// read.
weights::ExpandedMap qformer_init_map(const AlignerInit& init, const ResolvedInit& resolved,
                                      const std::string& modality, const weights::maps::QFormerShape& shape,
                                      const std::vector<std::string>& names, const std::vector<std::string>& own);
weights::ExpandedMap linear_init_map(const AlignerInit& init, const ResolvedInit& resolved, const std::string& modality,
                                     const std::vector<std::string>& names, const std::vector<std::string>& own);

}  // namespace xib::aligners
