// caption_scores(): tokenize as pycocoevalcap does, run the three scorers, collect per-image
// and corpus numbers, write them as JSON.
#include "xib/eval/caption_metrics.h"

#include <algorithm>
#include <string>
#include <vector>

#include "xib/error.h"
#include "xib/eval/ptb_tokenizer.h"

namespace xib::eval {
namespace {

std::string first_few(const std::vector<std::string>& ids) {
  std::vector<std::string> few(ids.begin(), ids.begin() + std::min<size_t>(ids.size(), 5));
  return join_names(few) + (ids.size() > 5 ? ", …" : "");
}

}  // namespace

nlohmann::json CaptionScores::to_json(bool with_images) const {
  nlohmann::json j = {{"images", images},  {"Bleu_1", bleu[0]},  {"Bleu_2", bleu[1]}, {"Bleu_3", bleu[2]},
                      {"Bleu_4", bleu[3]}, {"ROUGE_L", rouge_l}, {"CIDEr", cider}};
  if (with_images) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& im : per_image)
      rows.push_back({{"id", im.id},
                      {"Bleu_1", im.bleu[0]},
                      {"Bleu_2", im.bleu[1]},
                      {"Bleu_3", im.bleu[2]},
                      {"Bleu_4", im.bleu[3]},
                      {"ROUGE_L", im.rouge_l},
                      {"CIDEr", im.cider}});
    j["per_image"] = std::move(rows);
  }
  return j;
}

CaptionScores caption_scores(const std::map<std::string, std::string>& predictions,
                             const std::map<std::string, std::vector<std::string>>& references,
                             const CaptionEvalOptions& options) {
  if (predictions.empty())
    throw FormatError(ErrorInfo{
        .what = "no captions to evaluate", .where = "caption_scores", .expected = "at least one image id → caption"});
  std::vector<std::string> unknown, no_refs, missing;
  for (const auto& [id, caption] : predictions) {
    auto it = references.find(id);
    if (it == references.end())
      unknown.push_back(id);
    else if (it->second.empty())
      no_refs.push_back(id);
  }
  if (options.require_all)
    for (const auto& [id, refs] : references)
      if (!predictions.contains(id)) missing.push_back(id);
  if (!unknown.empty())
    throw FormatError(
        ErrorInfo{.what = std::to_string(unknown.size()) + " predicted image id(s) have no reference captions",
                  .where = "caption_scores",
                  .expected = "every predicted id among the references",
                  .got = first_few(unknown),
                  .hint = "are predictions and references from the same split?"});
  if (!no_refs.empty())
    throw FormatError(ErrorInfo{.what = std::to_string(no_refs.size()) + " image id(s) have an empty reference list",
                                .where = "caption_scores",
                                .expected = "at least one reference caption per image",
                                .got = first_few(no_refs)});
  if (!missing.empty())
    throw FormatError(
        ErrorInfo{.what = std::to_string(missing.size()) + " image id(s) with references have no prediction",
                  .where = "caption_scores",
                  .expected = "a caption for every referenced image",
                  .got = first_few(missing),
                  .hint = "set require_all: false to score only the predicted ids"});

  auto prep = [&](const std::string& text) { return options.tokenize ? ptb_tokenize_caption(text) : text; };
  std::vector<CaptionPair> pairs;
  CaptionScores s;
  for (const auto& [id, caption] : predictions) {
    CaptionPair p{.candidate = prep(caption), .references = {}};
    for (const auto& r : references.at(id)) p.references.push_back(prep(r));
    pairs.push_back(std::move(p));
    s.per_image.push_back({.id = id});
  }
  BleuResult b = bleu(pairs);
  CiderResult c = cider_d(pairs);
  double rouge_sum = 0.0;
  for (size_t i = 0; i < pairs.size(); ++i) {
    s.per_image[i].bleu = b.per_image[i];
    s.per_image[i].rouge_l = rouge_l(pairs[i]);
    s.per_image[i].cider = c.per_image[i];
    rouge_sum += s.per_image[i].rouge_l;
  }
  s.images = pairs.size();
  s.bleu = b.corpus;
  s.rouge_l = rouge_sum / static_cast<double>(pairs.size());
  s.cider = c.corpus;
  return s;
}

}  // namespace xib::eval
