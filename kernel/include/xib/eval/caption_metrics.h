// Caption metrics with pycocoevalcap's exact arithmetic: BLEU-1..4 (BleuScorer, option
// "closest", corpus-level counts), ROUGE-L (β = 1.2, best precision and recall over the
// references), CIDEr-D (pycocoevalcap's Cider: n = 4, σ = 6, clipped tf-idf, ×10, document
// frequencies from the references of the evaluated set). METEOR and SPICE (Java) are not here.
//
// The scorers take already tokenized text: tokens separated by spaces, as pycocoevalcap's
// PTBTokenizer returns them. caption_scores() tokenizes first (see ptb_tokenizer.h).
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xib/config.h"

namespace xib::eval {

/// One evaluated image: its candidate caption and its reference captions (tokenized text).
struct CaptionPair {
  std::string candidate;
  std::vector<std::string> references;  ///< at least one
};

struct BleuResult {
  std::array<double, 4> corpus{};                ///< BLEU-1..4 over the whole set
  std::vector<std::array<double, 4>> per_image;  ///< BLEU-1..4 of each pair, in input order
};

/// BleuScorer.compute_score(option="closest") of pycocoevalcap (Bleu(4)).
BleuResult bleu(const std::vector<CaptionPair>& pairs);

/// ROUGE-L of one candidate against its references (Rouge.calc_score; tokens split on ' ').
double rouge_l(const CaptionPair& pair);

struct CiderResult {
  double corpus = 0.0;            ///< mean of per_image
  std::vector<double> per_image;  ///< in input order
};

/// pycocoevalcap's Cider (CIDEr-D) over the set; the set is also the document-frequency corpus.
CiderResult cider_d(const std::vector<CaptionPair>& pairs);

struct CaptionEvalOptions {
  bool tokenize = true;     ///< run ptb_tokenize() on candidates and references first
  bool require_all = true;  ///< every id with references needs a prediction

  template <class V>
  void fields(V& v) {
    v("tokenize", tokenize, "PTB-tokenize captions as pycocoevalcap does (off: already tokenized)");
    v("require_all", require_all, "fail when an id with references has no prediction");
  }
  void validate(Validator&) const {}
};

struct CaptionScores {
  size_t images = 0;
  std::array<double, 4> bleu{};  ///< corpus BLEU-1..4
  double rouge_l = 0.0;          ///< mean over images
  double cider = 0.0;            ///< CIDEr-D, mean over images
  struct Image {
    std::string id;
    std::array<double, 4> bleu{};
    double rouge_l = 0.0;
    double cider = 0.0;
  };
  std::vector<Image> per_image;  ///< sorted by id

  /// {"images", "Bleu_1".."Bleu_4", "ROUGE_L", "CIDEr", "per_image": [{"id", …}]} (keys as
  /// pycocoevalcap's COCOEvalCap names them); per_image only when `with_images`.
  nlohmann::json to_json(bool with_images = true) const;
};

/// Scores predictions (id → caption) against references (id → captions). The evaluated set is
/// the ids of `predictions` (as COCOEvalCap does with the result file's image ids); each needs
/// references (else FormatError); an id with references but no prediction is a FormatError
/// when options.require_all. An empty prediction set is a FormatError.
CaptionScores caption_scores(const std::map<std::string, std::string>& predictions,
                             const std::map<std::string, std::vector<std::string>>& references,
                             const CaptionEvalOptions& options = {});

}  // namespace xib::eval
