// BLEU, ROUGE-L and CIDEr-D with pycocoevalcap's arithmetic (bleu_scorer.py, rouge.py,
// cider_scorer.py), operation for operation, so scores agree to rounding.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "xib/error.h"
#include "xib/eval/caption_metrics.h"

namespace xib::eval {
namespace {

constexpr int kOrder = 4;

/// Python's str.split() for ASCII text: runs of whitespace separate, no empty tokens.
bool is_py_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= '\x1c' && c <= '\x1f');
}

std::vector<std::string> split_ws(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_py_space(s[i])) ++i;
    size_t j = i;
    while (j < s.size() && !is_py_space(s[j])) ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

/// Python's str.split(" "): every single space separates, empty tokens kept.
std::vector<std::string> split_space(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(' ', start);
    if (pos == std::string::npos) {
      out.emplace_back(s.substr(start));
      return out;
    }
    out.emplace_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

/// n-gram counts by order (index 0 = unigrams); a key is the n-gram's words joined by ' '.
using NgramCounts = std::array<std::unordered_map<std::string, int>, kOrder>;

NgramCounts precook(const std::vector<std::string>& words) {
  NgramCounts counts;
  for (int k = 1; k <= kOrder; ++k) {
    for (size_t i = 0; i + k <= words.size(); ++i) {
      std::string key = words[i];
      for (int j = 1; j < k; ++j) key += ' ' + words[i + j];
      ++counts[k - 1][key];
    }
  }
  return counts;
}

struct BleuComps {
  int testlen = 0;
  int reflen = 0;  // "closest" reference length
  std::array<int, kOrder> guess{};
  std::array<int, kOrder> correct{};
};

BleuComps bleu_comps(const CaptionPair& pair) {
  std::vector<int> reflens;
  NgramCounts maxcounts;
  for (const auto& ref : pair.references) {
    auto words = split_ws(ref);
    reflens.push_back(static_cast<int>(words.size()));
    auto counts = precook(words);
    for (int k = 0; k < kOrder; ++k)
      for (const auto& [ngram, count] : counts[k]) {
        int& m = maxcounts[k][ngram];
        m = std::max(m, count);
      }
  }
  auto words = split_ws(pair.candidate);
  BleuComps c;
  c.testlen = static_cast<int>(words.size());
  // min((abs(l - testlen), l) for l in reflen)[1]: the closest length, the shorter on a tie.
  bool first = true;
  for (int l : reflens) {
    int d = std::abs(l - c.testlen);
    int best_d = std::abs(c.reflen - c.testlen);
    if (first || d < best_d || (d == best_d && l < c.reflen)) c.reflen = l;
    first = false;
  }
  for (int k = 0; k < kOrder; ++k) c.guess[k] = std::max(0, c.testlen - k);
  auto counts = precook(words);
  for (int k = 0; k < kOrder; ++k)
    for (const auto& [ngram, count] : counts[k]) {
      auto it = maxcounts[k].find(ngram);
      c.correct[k] += std::min(it == maxcounts[k].end() ? 0 : it->second, count);
    }
  return c;
}

std::array<double, 4> bleu_from(const std::array<double, kOrder>& correct, const std::array<double, kOrder>& guess,
                                double testlen, double reflen) {
  constexpr double small = 1e-9;
  constexpr double tiny = 1e-15;
  std::array<double, 4> out{};
  double b = 1.0;
  for (int k = 0; k < kOrder; ++k) {
    b *= (correct[k] + tiny) / (guess[k] + small);
    out[k] = std::pow(b, 1.0 / (k + 1));
  }
  double ratio = (testlen + tiny) / (reflen + small);
  if (ratio < 1)
    for (auto& v : out) v *= std::exp(1 - 1 / ratio);
  return out;
}

int lcs_length(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<int> prev(b.size() + 1, 0), cur(b.size() + 1, 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

/// The scorers' precondition (pycocoevalcap asserts it): a non-empty set, references everywhere.
void check_pairs(const std::vector<CaptionPair>& pairs, const char* where) {
  if (pairs.empty())
    throw FormatError(ErrorInfo{
        .what = "no captions to score", .where = where, .expected = "at least one candidate with references"});
  for (size_t i = 0; i < pairs.size(); ++i)
    if (pairs[i].references.empty())
      throw FormatError(ErrorInfo{.what = "a candidate caption has no references",
                                  .where = std::string(where) + ", pair " + std::to_string(i),
                                  .expected = "at least one reference caption",
                                  .got = "0 references"});
}

}  // namespace

BleuResult bleu(const std::vector<CaptionPair>& pairs) {
  check_pairs(pairs, "bleu");
  BleuResult r;
  std::array<double, kOrder> total_correct{}, total_guess{};
  double total_test = 0, total_ref = 0;
  for (const auto& pair : pairs) {
    BleuComps c = bleu_comps(pair);
    std::array<double, kOrder> correct{}, guess{};
    for (int k = 0; k < kOrder; ++k) {
      correct[k] = c.correct[k];
      guess[k] = c.guess[k];
      total_correct[k] += c.correct[k];
      total_guess[k] += c.guess[k];
    }
    total_test += c.testlen;
    total_ref += c.reflen;
    r.per_image.push_back(bleu_from(correct, guess, c.testlen, c.reflen));
  }
  r.corpus = bleu_from(total_correct, total_guess, total_test, total_ref);
  return r;
}

double rouge_l(const CaptionPair& pair) {
  constexpr double beta = 1.2;
  check_pairs({pair}, "rouge_l");
  auto cand = split_space(pair.candidate);
  double prec_max = 0, rec_max = 0;
  bool first = true;
  for (const auto& ref : pair.references) {
    auto toks = split_space(ref);
    double lcs = lcs_length(toks, cand);
    double prec = lcs / static_cast<double>(cand.size());
    double rec = lcs / static_cast<double>(toks.size());
    prec_max = first ? prec : std::max(prec_max, prec);
    rec_max = first ? rec : std::max(rec_max, rec);
    first = false;
  }
  if (prec_max != 0 && rec_max != 0)
    return ((1 + beta * beta) * prec_max * rec_max) / (rec_max + beta * beta * prec_max);
  return 0.0;
}

namespace {

struct CiderVec {
  std::array<std::unordered_map<std::string, double>, kOrder> vec;
  std::array<double, kOrder> norm{};
  int length = 0;  // pycocoevalcap counts the bigrams here (its `n == 1`), kept as is
};

}  // namespace

CiderResult cider_d(const std::vector<CaptionPair>& pairs) {
  constexpr double sigma = 6.0;
  check_pairs(pairs, "cider_d");
  std::vector<NgramCounts> tests;
  std::vector<std::vector<NgramCounts>> refs;
  std::unordered_map<std::string, double> df;  // key: order digit + ' ' + ngram
  for (const auto& pair : pairs) {
    tests.push_back(precook(split_ws(pair.candidate)));
    auto& rs = refs.emplace_back();
    std::unordered_set<std::string> seen;
    for (const auto& ref : pair.references) {
      rs.push_back(precook(split_ws(ref)));
      for (int k = 0; k < kOrder; ++k)
        for (const auto& [ngram, count] : rs.back()[k]) seen.insert(std::to_string(k) + ' ' + ngram);
    }
    for (const auto& key : seen) df[key] += 1.0;
  }
  const double ref_len = std::log(static_cast<double>(pairs.size()));

  auto to_vec = [&](const NgramCounts& counts) {
    CiderVec v;
    for (int k = 0; k < kOrder; ++k) {
      for (const auto& [ngram, tf] : counts[k]) {
        auto it = df.find(std::to_string(k) + ' ' + ngram);
        double d = std::log(std::max(1.0, it == df.end() ? 0.0 : it->second));
        double w = static_cast<double>(tf) * (ref_len - d);
        v.vec[k][ngram] = w;
        v.norm[k] += w * w;
        if (k == 1) v.length += tf;
      }
      v.norm[k] = std::sqrt(v.norm[k]);
    }
    return v;
  };

  CiderResult r;
  for (size_t i = 0; i < pairs.size(); ++i) {
    CiderVec hyp = to_vec(tests[i]);
    std::array<double, kOrder> score{};
    for (const auto& ref_counts : refs[i]) {
      CiderVec ref = to_vec(ref_counts);
      double delta = static_cast<double>(hyp.length - ref.length);
      for (int k = 0; k < kOrder; ++k) {
        double val = 0.0;
        for (const auto& [ngram, wh] : hyp.vec[k]) {
          auto it = ref.vec[k].find(ngram);
          double wr = it == ref.vec[k].end() ? 0.0 : it->second;
          val += std::min(wh, wr) * wr;
        }
        if (hyp.norm[k] != 0 && ref.norm[k] != 0) val /= hyp.norm[k] * ref.norm[k];
        val *= std::pow(M_E, -(delta * delta) / (2 * sigma * sigma));
        score[k] += val;
      }
    }
    double avg = (score[0] + score[1] + score[2] + score[3]) / kOrder;
    avg /= static_cast<double>(refs[i].size());
    avg *= 10.0;
    r.per_image.push_back(avg);
  }
  double sum = 0;
  for (double s : r.per_image) sum += s;
  r.corpus = r.per_image.empty() ? 0.0 : sum / static_cast<double>(r.per_image.size());
  return r;
}

}  // namespace xib::eval
