// VQA accuracy as the official VQA evaluation computes it (GT-Vision-Lab/VQA vqaEval.py, the
// version LAVIS copies in lavis/common/vqa_tools/vqa_eval.py): the predicted answer is
// normalised (processPunctuation, processDigitArticle); the human answers get
// processPunctuation only, and only when they are not all the same; a prediction scores
// min(#matching humans / 3, 1), averaged over the leave-one-human-out subsets.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "xib/config.h"

namespace xib::eval {

/// The official processPunctuation: each of ; / [ ] " { } ( ) = + \ _ - > < @ ` , ? ! is removed
/// when it touches a space (or when the text has a digit,digit comma), else replaced by a space;
/// then every '.' not followed by a digit is removed (at most 32 of them: the official call passes
/// re.UNICODE as the count). Digits and whitespace are ASCII here (Python's are Unicode).
std::string vqa_process_punctuation(std::string_view text);

/// The official processDigitArticle: lower-case, split on whitespace, number words zero..ten
/// (and "none") → digits, articles a/an/the dropped, contractions ("dont" → "don't") restored,
/// joined by single spaces. Lower-cases ASCII letters only (Python lower-cases all of Unicode).
std::string vqa_process_digit_article(std::string_view text);

/// What the evaluator does to a predicted answer: '\n' and '\t' → ' ', strip, then both steps.
std::string vqa_normalize_answer(std::string_view answer);

/// Official accuracy of one prediction against the human answers (usually 10), in [0, 1]:
/// mean over i of min(1, #{j ≠ i : human_j == prediction} / 3), after the normalisation above.
/// With a single human answer this is always 0 (as in the official code): use exact match.
/// Empty `human_answers` is a FormatError.
double vqa_answer_accuracy(std::string_view prediction, const std::vector<std::string>& human_answers);

/// Exact match in [0, 1]: 1 when the normalised prediction equals one normalised answer.
double exact_match_accuracy(std::string_view prediction, const std::vector<std::string>& answers);

/// The reference side of one question.
struct VqaReference {
  std::vector<std::string> answers;  ///< human answers (10 in VQA v2), or one for exact match
  std::string answer_type = {};      ///< "yes/no", "number", "other" (optional, for the breakdown)
  std::string question_type = {};    ///< optional, for the breakdown
};

struct VqaEvalOptions {
  std::string metric = "vqa";  ///< "vqa" (official min(n/3, 1)) or "exact" (exact match)
  bool require_all = true;     ///< every referenced question needs a prediction

  template <class V>
  void fields(V& v) {
    v("metric", metric, "vqa (official VQA accuracy) or exact (exact match after normalisation)");
    v("require_all", require_all, "fail when a question with references has no prediction");
  }
  void validate(Validator& v) const { v.one_of("metric", metric, {"vqa", "exact"}); }
};

struct VqaScores {
  size_t questions = 0;
  double accuracy = 0.0;  ///< percent (0..100), unrounded (the official tool rounds to 2 digits)
  std::map<std::string, double> per_answer_type;    ///< percent; types given in the references
  std::map<std::string, double> per_question_type;  ///< percent
  std::map<std::string, double> per_question;       ///< percent, by question id

  /// {"questions", "overall", "perAnswerType", "perQuestionType"} (+ "perQuestion" when asked).
  nlohmann::json to_json(bool with_questions = true) const;
};

/// Scores predictions (question id → answer) against references. Every predicted id needs a
/// reference (else FormatError); with options.require_all every referenced id needs a
/// prediction. Options are validated (ConfigError on an unknown metric).
VqaScores vqa_accuracy(const std::map<std::string, std::string>& predictions,
                       const std::map<std::string, VqaReference>& references, const VqaEvalOptions& options = {});

}  // namespace xib::eval
