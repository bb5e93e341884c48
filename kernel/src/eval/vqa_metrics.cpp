// The official VQA answer normalisation and accuracy (vqaEval.py), step for step.
#include "xib/eval/vqa_metrics.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "xib/error.h"
#include "xib/text/strings.h"

namespace xib::eval {
namespace {

constexpr std::string_view kPunct[] = {";",  "/", "[", "]", "\"", "{", "}", "(", ")", "=", "+",
                                       "\\", "_", "-", ">", "<",  "@", "`", ",", "?", "!"};

const std::unordered_map<std::string_view, std::string_view>& number_words() {
  static const std::unordered_map<std::string_view, std::string_view> m = {
      {"none", "0"}, {"zero", "0"}, {"one", "1"},   {"two", "2"},   {"three", "3"}, {"four", "4"},
      {"five", "5"}, {"six", "6"},  {"seven", "7"}, {"eight", "8"}, {"nine", "9"},  {"ten", "10"}};
  return m;
}

// The official contractions map, as written there (keys with capitals never match: the text is
// lower-cased first).
const std::unordered_map<std::string_view, std::string_view>& contractions() {
  static const std::unordered_map<std::string_view, std::string_view> m = {{"aint", "ain't"},
                                                                           {"arent", "aren't"},
                                                                           {"cant", "can't"},
                                                                           {"couldve", "could've"},
                                                                           {"couldnt", "couldn't"},
                                                                           {"couldn'tve", "couldn't've"},
                                                                           {"couldnt've", "couldn't've"},
                                                                           {"didnt", "didn't"},
                                                                           {"doesnt", "doesn't"},
                                                                           {"dont", "don't"},
                                                                           {"hadnt", "hadn't"},
                                                                           {"hadnt've", "hadn't've"},
                                                                           {"hadn'tve", "hadn't've"},
                                                                           {"hasnt", "hasn't"},
                                                                           {"havent", "haven't"},
                                                                           {"hed", "he'd"},
                                                                           {"hed've", "he'd've"},
                                                                           {"he'dve", "he'd've"},
                                                                           {"hes", "he's"},
                                                                           {"howd", "how'd"},
                                                                           {"howll", "how'll"},
                                                                           {"hows", "how's"},
                                                                           {"Id've", "I'd've"},
                                                                           {"I'dve", "I'd've"},
                                                                           {"Im", "I'm"},
                                                                           {"Ive", "I've"},
                                                                           {"isnt", "isn't"},
                                                                           {"itd", "it'd"},
                                                                           {"itd've", "it'd've"},
                                                                           {"it'dve", "it'd've"},
                                                                           {"itll", "it'll"},
                                                                           {"let's", "let's"},
                                                                           {"maam", "ma'am"},
                                                                           {"mightnt", "mightn't"},
                                                                           {"mightnt've", "mightn't've"},
                                                                           {"mightn'tve", "mightn't've"},
                                                                           {"mightve", "might've"},
                                                                           {"mustnt", "mustn't"},
                                                                           {"mustve", "must've"},
                                                                           {"neednt", "needn't"},
                                                                           {"notve", "not've"},
                                                                           {"oclock", "o'clock"},
                                                                           {"oughtnt", "oughtn't"},
                                                                           {"ow's'at", "'ow's'at"},
                                                                           {"'ows'at", "'ow's'at"},
                                                                           {"'ow'sat", "'ow's'at"},
                                                                           {"shant", "shan't"},
                                                                           {"shed've", "she'd've"},
                                                                           {"she'dve", "she'd've"},
                                                                           {"she's", "she's"},
                                                                           {"shouldve", "should've"},
                                                                           {"shouldnt", "shouldn't"},
                                                                           {"shouldnt've", "shouldn't've"},
                                                                           {"shouldn'tve", "shouldn't've"},
                                                                           {"somebody'd", "somebodyd"},
                                                                           {"somebodyd've", "somebody'd've"},
                                                                           {"somebody'dve", "somebody'd've"},
                                                                           {"somebodyll", "somebody'll"},
                                                                           {"somebodys", "somebody's"},
                                                                           {"someoned", "someone'd"},
                                                                           {"someoned've", "someone'd've"},
                                                                           {"someone'dve", "someone'd've"},
                                                                           {"someonell", "someone'll"},
                                                                           {"someones", "someone's"},
                                                                           {"somethingd", "something'd"},
                                                                           {"somethingd've", "something'd've"},
                                                                           {"something'dve", "something'd've"},
                                                                           {"somethingll", "something'll"},
                                                                           {"thats", "that's"},
                                                                           {"thered", "there'd"},
                                                                           {"thered've", "there'd've"},
                                                                           {"there'dve", "there'd've"},
                                                                           {"therere", "there're"},
                                                                           {"theres", "there's"},
                                                                           {"theyd", "they'd"},
                                                                           {"theyd've", "they'd've"},
                                                                           {"they'dve", "they'd've"},
                                                                           {"theyll", "they'll"},
                                                                           {"theyre", "they're"},
                                                                           {"theyve", "they've"},
                                                                           {"twas", "'twas"},
                                                                           {"wasnt", "wasn't"},
                                                                           {"wed've", "we'd've"},
                                                                           {"we'dve", "we'd've"},
                                                                           {"weve", "we've"},
                                                                           {"werent", "weren't"},
                                                                           {"whatll", "what'll"},
                                                                           {"whatre", "what're"},
                                                                           {"whats", "what's"},
                                                                           {"whatve", "what've"},
                                                                           {"whens", "when's"},
                                                                           {"whered", "where'd"},
                                                                           {"wheres", "where's"},
                                                                           {"whereve", "where've"},
                                                                           {"whod", "who'd"},
                                                                           {"whod've", "who'd've"},
                                                                           {"who'dve", "who'd've"},
                                                                           {"wholl", "who'll"},
                                                                           {"whos", "who's"},
                                                                           {"whove", "who've"},
                                                                           {"whyll", "why'll"},
                                                                           {"whyre", "why're"},
                                                                           {"whys", "why's"},
                                                                           {"wont", "won't"},
                                                                           {"wouldve", "would've"},
                                                                           {"wouldnt", "wouldn't"},
                                                                           {"wouldnt've", "wouldn't've"},
                                                                           {"wouldn'tve", "wouldn't've"},
                                                                           {"yall", "y'all"},
                                                                           {"yall'll", "y'all'll"},
                                                                           {"y'allll", "y'all'll"},
                                                                           {"yall'd've", "y'all'd've"},
                                                                           {"y'alld've", "y'all'd've"},
                                                                           {"y'all'dve", "y'all'd've"},
                                                                           {"youd", "you'd"},
                                                                           {"youd've", "you'd've"},
                                                                           {"you'dve", "you'd've"},
                                                                           {"youll", "you'll"},
                                                                           {"youre", "you're"},
                                                                           {"youve", "you've"}};
  return m;
}

/// Python's str.split()/strip() whitespace, ASCII part.
bool is_py_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= '\x1c' && c <= '\x1f');
}

using text::replace_all;

std::string strip(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b && is_py_space(s[a])) ++a;
  while (b > a && is_py_space(s[b - 1])) --b;
  return std::string(s.substr(a, b - a));
}

}  // namespace

std::string vqa_process_punctuation(std::string_view text) {
  const std::string in(text);
  bool digit_comma_digit = false;  // re.search("(\d)(,)(\d)", inText)
  for (size_t i = 1; i + 1 < in.size(); ++i)
    if (in[i] == ',' && text::is_ascii_digit(in[i - 1]) && text::is_ascii_digit(in[i + 1])) digit_comma_digit = true;
  std::string out = in;
  for (std::string_view p : kPunct) {
    std::string after = std::string(p) + ' ', before = ' ' + std::string(p);
    bool touches = in.find(after) != std::string::npos || in.find(before) != std::string::npos;
    out = replace_all(std::move(out), p, (touches || digit_comma_digit) ? "" : " ");
  }
  // periodStrip.sub("", out, re.UNICODE): re.UNICODE lands in `count`, so at most 32 periods
  // not followed by a digit are removed (the lookbehind is misspelt and never applies).
  std::string result;
  int removed = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '.' && removed < 32 && !(i + 1 < out.size() && text::is_ascii_digit(out[i + 1]))) {
      ++removed;
      continue;
    }
    result += out[i];
  }
  return result;
}

std::string vqa_process_digit_article(std::string_view text) {
  std::string lower(text);
  for (auto& c : lower)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  std::vector<std::string> words;
  size_t i = 0;
  while (i < lower.size()) {
    while (i < lower.size() && is_py_space(lower[i])) ++i;
    size_t j = i;
    while (j < lower.size() && !is_py_space(lower[j])) ++j;
    if (j > i) {
      std::string w = lower.substr(i, j - i);
      if (auto it = number_words().find(w); it != number_words().end()) w = it->second;
      if (w != "a" && w != "an" && w != "the") words.push_back(std::move(w));
    }
    i = j;
  }
  std::string out;
  for (auto& w : words) {
    if (auto it = contractions().find(w); it != contractions().end()) w = it->second;
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

std::string vqa_normalize_answer(std::string_view answer) {
  std::string s = replace_all(std::string(answer), "\n", " ");
  s = replace_all(std::move(s), "\t", " ");
  return vqa_process_digit_article(vqa_process_punctuation(strip(s)));
}

double vqa_answer_accuracy(std::string_view prediction, const std::vector<std::string>& human_answers) {
  if (human_answers.empty())
    throw FormatError(ErrorInfo{.what = "a VQA question has no human answers",
                                .where = "vqa_answer_accuracy",
                                .expected = "at least one answer (VQA v2 has 10)",
                                .got = "0 answers"});
  const std::string pred = vqa_normalize_answer(prediction);
  std::vector<std::string> gts = human_answers;
  std::unordered_set<std::string> distinct(gts.begin(), gts.end());
  if (distinct.size() > 1)
    for (auto& g : gts) g = vqa_process_punctuation(g);
  double sum = 0.0;
  for (size_t i = 0; i < gts.size(); ++i) {
    int matching = 0;
    for (size_t j = 0; j < gts.size(); ++j)
      if (j != i && gts[j] == pred) ++matching;
    sum += std::min(1.0, static_cast<double>(matching) / 3);
  }
  return sum / static_cast<double>(gts.size());
}

double exact_match_accuracy(std::string_view prediction, const std::vector<std::string>& answers) {
  if (answers.empty())
    throw FormatError(ErrorInfo{.what = "a question has no reference answer",
                                .where = "exact_match_accuracy",
                                .expected = "at least one answer",
                                .got = "0 answers"});
  const std::string pred = vqa_normalize_answer(prediction);
  for (const auto& a : answers)
    if (vqa_normalize_answer(a) == pred) return 1.0;
  return 0.0;
}

nlohmann::json VqaScores::to_json(bool with_questions) const {
  nlohmann::json j = {{"questions", questions},
                      {"overall", accuracy},
                      {"perAnswerType", per_answer_type},
                      {"perQuestionType", per_question_type}};
  if (with_questions) j["perQuestion"] = per_question;
  return j;
}

VqaScores vqa_accuracy(const std::map<std::string, std::string>& predictions,
                       const std::map<std::string, VqaReference>& references, const VqaEvalOptions& options) {
  Validator v{ConfigSection{}};
  options.validate(v);
  v.finish();
  if (predictions.empty())
    throw FormatError(ErrorInfo{.what = "no predictions to evaluate",
                                .where = "vqa_accuracy",
                                .expected = "at least one question id → answer"});
  std::vector<std::string> unknown, missing;
  for (const auto& [id, answer] : predictions)
    if (!references.contains(id)) unknown.push_back(id);
  if (options.require_all)
    for (const auto& [id, ref] : references)
      if (!predictions.contains(id)) missing.push_back(id);
  auto first_few = [](const std::vector<std::string>& ids) {
    std::vector<std::string> few(ids.begin(), ids.begin() + std::min<size_t>(ids.size(), 5));
    return join_names(few) + (ids.size() > 5 ? ", …" : "");
  };
  if (!unknown.empty())
    throw FormatError(
        ErrorInfo{.what = std::to_string(unknown.size()) + " predicted question id(s) have no reference answers",
                  .where = "vqa_accuracy",
                  .expected = "every predicted id among the references",
                  .got = first_few(unknown),
                  .hint = "are predictions and references from the same split?"});
  if (!missing.empty())
    throw FormatError(
        ErrorInfo{.what = std::to_string(missing.size()) + " question id(s) with references have no prediction",
                  .where = "vqa_accuracy",
                  .expected = "a prediction for every referenced question",
                  .got = first_few(missing),
                  .hint = "set require_all: false to score only the predicted ids"});
  VqaScores s;
  std::map<std::string, std::pair<double, size_t>> by_answer, by_question;
  double total = 0.0;
  for (const auto& [id, answer] : predictions) {
    const VqaReference& ref = references.at(id);
    double acc = 0.0;
    try {
      acc = options.metric == "exact" ? exact_match_accuracy(answer, ref.answers)
                                      : vqa_answer_accuracy(answer, ref.answers);
    } catch (const FormatError& e) {
      ErrorInfo info = e.info();
      info.where = "question " + id;
      throw FormatError(info);
    }
    total += acc;
    s.per_question[id] = 100.0 * acc;
    if (!ref.answer_type.empty()) {
      auto& [sum, n] = by_answer[ref.answer_type];
      sum += acc;
      ++n;
    }
    if (!ref.question_type.empty()) {
      auto& [sum, n] = by_question[ref.question_type];
      sum += acc;
      ++n;
    }
  }
  s.questions = predictions.size();
  s.accuracy = 100.0 * total / static_cast<double>(predictions.size());
  for (const auto& [type, sn] : by_answer) s.per_answer_type[type] = 100.0 * sn.first / sn.second;
  for (const auto& [type, sn] : by_question) s.per_question_type[type] = 100.0 * sn.first / sn.second;
  return s;
}

}  // namespace xib::eval
