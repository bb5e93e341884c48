// A rule-based equivalent of CoreNLP 3.4.1's PTBTokenizer (-preserveLines -lowerCase) followed
// by pycocoevalcap's punctuation filter, for ordinary English captions. The rules and the
// abbreviation list were checked against the CoreNLP jar pycocoevalcap ships
// (tools/fixtures/eval/make_metrics_fixture.py records its output for the tests).
#include "xib/eval/ptb_tokenizer.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "xib/text/strings.h"

namespace xib::eval {
namespace {

// pycocoevalcap's PUNCTUATIONS. Its "-LRB-" etc. never match: -lowerCase writes "-lrb-".
constexpr std::array<std::string_view, 17> kDropped = {"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".",
                                                       "?",  "!", ",",  ":", "-",     "--",    "...",   ";"};

// Words CoreNLP keeps with their period ("mr.", "etc."), lower-case; found with its jar.
constexpr std::string_view kAbbreviations[] = {
    "adm",  "al",   "apr", "ariz", "assn", "aug",  "ave", "blvd", "bldg", "bros", "calif",  "capt", "cf",
    "cie",  "co",   "col", "colo", "conn", "corp", "cpl", "ct",   "dec",  "dept", "dr",     "esq",  "est",
    "etc",  "ext",  "feb", "fla",  "fri",  "ft",   "ga",  "gen",  "gov",  "hon",  "inc",    "ind",  "jan",
    "jr",   "jul",  "jun", "kan",  "ky",   "lt",   "ltd", "maj",  "mar",  "md",   "messrs", "mfg",  "mich",
    "minn", "mo",   "mon", "mont", "mr",   "mrs",  "ms",  "mt",   "neb",  "nev",  "nov",    "oct",  "okla",
    "ph.d", "prof", "pvt", "rd",   "rep",  "rev",  "sen", "sep",  "sept", "sgt",  "sq",     "sr",   "st",
    "tel",  "tenn", "thu", "tue",  "univ", "va",   "vs",  "vt",   "wed",  "wis",  "wyo",
};

bool is_alpha(char c) { return c >= 'a' && c <= 'z'; }

bool is_abbreviation(std::string_view core) {
  return std::find(std::begin(kAbbreviations), std::end(kAbbreviations), core) != std::end(kAbbreviations);
}

/// "u.s", "p.m", "e.g", "j.r.r": single letters joined by periods; or one letter ("c").
bool is_acronym(std::string_view core) {
  if (core.empty() || core.size() % 2 == 0) return false;
  for (size_t i = 0; i < core.size(); ++i)
    if (i % 2 == 0 ? !is_alpha(core[i]) : core[i] != '.') return false;
  return true;
}

/// Characters that always stand alone (CoreNLP splits them off anywhere in a word).
bool is_symbol(char c) {
  return c == '+' || c == '=' || c == '*' || c == '~' || c == '^' || c == '|' || c == '<' || c == '>' || c == '(' ||
         c == ')' || c == '[' || c == ']' || c == '{' || c == '}' || c == '"' || c == ';' || c == '!' || c == '?';
}

std::string symbol_token(char c) {
  switch (c) {
    case '(':
      return "-lrb-";
    case ')':
      return "-rrb-";
    case '[':
      return "-lsb-";
    case ']':
      return "-rsb-";
    case '{':
      return "-lcb-";
    case '}':
      return "-rcb-";
    case '"':
      return "''";  // `` or '': both dropped by pycocoevalcap
    default:
      return std::string(1, c);
  }
}

/// Split the middle of a word: contractions and the words CoreNLP splits ("cannot").
void split_word(std::string w, std::vector<std::string>& out) {
  if (w.empty()) return;
  struct Split {
    std::string_view word, first, second;
  };
  static constexpr std::array<Split, 6> kWhole = {{{"cannot", "can", "not"},
                                                   {"gonna", "gon", "na"},
                                                   {"gotta", "got", "ta"},
                                                   {"wanna", "wan", "na"},
                                                   {"gimme", "gim", "me"},
                                                   {"lemme", "lem", "me"}}};
  for (const auto& s : kWhole)
    if (w == s.word) {
      out.emplace_back(s.first);
      out.emplace_back(s.second);
      return;
    }
  // number with a decimal or time part glued to letters: "2.5m" → "2.5 m", "3:30pm" → "3:30 pm"
  {
    size_t i = 0;
    while (i < w.size() && text::is_ascii_digit(w[i])) ++i;
    if (i > 0 && i + 1 < w.size() && (w[i] == '.' || w[i] == ':') && text::is_ascii_digit(w[i + 1])) {
      size_t j = i + 1;
      while (j < w.size() && text::is_ascii_digit(w[j])) ++j;
      size_t k = j;
      while (k < w.size() && is_alpha(w[k])) ++k;
      if (j < w.size() && k == w.size()) {
        out.emplace_back(w.substr(0, j));
        out.emplace_back(w.substr(j));
        return;
      }
    }
  }
  auto ends_with = [&](std::string_view s) {
    return w.size() > s.size() && std::string_view(w).substr(w.size() - s.size()) == s;
  };
  if (ends_with("n't")) {
    out.emplace_back(w.substr(0, w.size() - 3));
    out.emplace_back("n't");
    return;
  }
  for (std::string_view s : {"'s", "'m", "'d", "'ll", "'re", "'ve", "'n"})
    if (ends_with(s)) {
      out.emplace_back(w.substr(0, w.size() - s.size()));
      out.emplace_back(s);
      return;
    }
  out.push_back(std::move(w));
}

/// One piece without spaces or always-alone symbols: peel quotes, hyphens and periods.
/// `next_piece` is the following piece (lower-cased), `next_upper` whether it starts with a
/// capital letter in the original text: CoreNLP ends a sentence after a one-letter abbreviation
/// ("m.") when a capital follows.
void split_piece(std::string w, const std::string& next_piece, bool next_upper, std::vector<std::string>& out) {
  std::vector<std::string> prefix, suffix;  // suffix in reverse order
  // leading
  while (!w.empty()) {
    if (w == "'n'" || w == "'s" || w == "'m" || w == "'d" || w == "'ll" || w == "'re" || w == "'ve" || w == "'n" ||
        w == "n't")
      break;
    if (w.size() >= 3 && w[0] == '\'' && text::is_ascii_digit(w[1]) && text::is_ascii_digit(w[2])) break;  // '90s
    if (w.rfind("'t", 0) == 0 && (w == "'tis" || w == "'twas")) {
      prefix.emplace_back("'t");
      w.erase(0, 2);
      break;
    }
    if (w[0] == '`' || w[0] == '\'' || w[0] == '$' || (w[0] == '-' && w.size() > 1)) {
      size_t n = 1;
      if (w[0] == '-' && w.size() > 2 && w[1] == '-') n = 2;
      if (w[0] == '`' && w.size() > 1 && w[1] == '`') n = 2;
      prefix.emplace_back(w.substr(0, n));
      w.erase(0, n);
      continue;
    }
    break;
  }
  // trailing
  while (!w.empty()) {
    char c = w.back();
    if (w == "'n'" || w == "'" || w == "-" || w == "--") break;
    if (c == ',' || c == ':' || c == '%' || c == '`') {
      suffix.emplace_back(1, c);
      w.pop_back();
      continue;
    }
    if (c == '\'') {
      suffix.emplace_back("'");
      w.pop_back();
      continue;
    }
    if (c == '-' && w.size() > 1) {
      size_t n = w.size() > 2 && w[w.size() - 2] == '-' ? 2 : 1;
      suffix.emplace_back(w.substr(w.size() - n));
      w.erase(w.size() - n);
      continue;
    }
    if (c == '.') {
      size_t dots = 0;
      while (dots < w.size() && w[w.size() - 1 - dots] == '.') ++dots;
      if (dots == w.size()) break;  // only periods: handled below
      if (dots >= 3) {
        suffix.emplace_back("...");
        w.erase(w.size() - dots);
        continue;
      }
      auto keeps_period = [&](const std::string& core) {
        if (core.size() == 1 && next_upper) return false;
        return is_acronym(core) || is_abbreviation(core) ||
               (core == "no" && !next_piece.empty() && text::is_ascii_digit(next_piece[0]));
      };
      if (dots == 2 && keeps_period(w.substr(0, w.size() - 2))) {  // "p.m.." → "p.m." "."
        suffix.emplace_back(".");
        w.pop_back();
        break;
      }
      if (dots == 2) {
        suffix.emplace_back(".");
        suffix.emplace_back(".");
        w.erase(w.size() - 2);
        continue;
      }
      std::string core = w.substr(0, w.size() - 1);
      if (!keeps_period(core)) {
        suffix.emplace_back(".");
        w.pop_back();
        continue;
      }
      break;
    }
    break;
  }
  // (a sentence-final "u.s." or "etc." gets an extra "." in CoreNLP; it is dropped anyway)
  for (auto& p : prefix) out.push_back(std::move(p));
  if (!w.empty()) {
    if (w.find_first_not_of('.') == std::string::npos) {
      if (w.size() >= 3)
        out.emplace_back("...");
      else
        for (size_t i = 0; i < w.size(); ++i) out.emplace_back(".");
    } else {
      split_word(std::move(w), out);
    }
  }
  for (auto it = suffix.rbegin(); it != suffix.rend(); ++it) out.push_back(std::move(*it));
}

struct Piece {
  std::string text;
  bool symbol = false;  ///< a finished token (a symbol, "--", ",", …), not a word to split
};

/// Cut a word at always-alone symbols, at "--", and at , : not inside a number.
std::vector<Piece> cut_word(const std::string& w) {
  std::vector<Piece> pieces;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) pieces.push_back({std::move(cur), false});
    cur.clear();
  };
  for (size_t i = 0; i < w.size(); ++i) {
    char c = w[i];
    bool between_digits = i > 0 && i + 1 < w.size() && text::is_ascii_digit(w[i - 1]) && text::is_ascii_digit(w[i + 1]);
    if (is_symbol(c)) {
      flush();
      size_t j = i;
      if (c == '!' || c == '?') {  // "?!", "!!" stay one token
        while (j + 1 < w.size() && (w[j + 1] == '!' || w[j + 1] == '?')) ++j;
      }
      pieces.push_back({symbol_token(c) + (j > i ? w.substr(i + 1, j - i) : std::string()), true});
      i = j;
    } else if ((c == ',' || c == ':') && !between_digits && i + 1 < w.size() && i > 0) {
      flush();
      pieces.push_back({std::string(1, c), true});
    } else if (c == '-' && i + 1 < w.size() && w[i + 1] == '-' && i > 0 && i + 2 < w.size()) {
      flush();
      pieces.push_back({"--", true});
      ++i;
    } else {
      cur += c;
    }
  }
  flush();
  return pieces;
}

bool is_dropped(const std::string& t) { return std::find(kDropped.begin(), kDropped.end(), t) != kDropped.end(); }

}  // namespace

std::vector<std::string> ptb_tokenize(std::string_view caption) {
  const std::string text(caption);
  // whitespace-separated words, then pieces
  std::vector<Piece> pieces;
  size_t i = 0;
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (i < text.size()) {
    while (i < text.size() && space(text[i])) ++i;
    size_t j = i;
    while (j < text.size() && !space(text[j])) ++j;
    if (j > i)
      for (auto& p : cut_word(text.substr(i, j - i))) pieces.push_back(std::move(p));
    i = j;
  }
  std::vector<bool> upper(pieces.size());
  for (size_t k = 0; k < pieces.size(); ++k) {
    upper[k] = pieces[k].text[0] >= 'A' && pieces[k].text[0] <= 'Z';
    for (auto& c : pieces[k].text)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  std::vector<std::string> tokens;
  for (size_t k = 0; k < pieces.size(); ++k) {
    if (pieces[k].symbol) {
      tokens.push_back(pieces[k].text);
      continue;
    }
    const bool has_next = k + 1 < pieces.size();
    split_piece(pieces[k].text, has_next ? pieces[k + 1].text : std::string(), has_next && upper[k + 1], tokens);
  }
  std::vector<std::string> kept;
  for (auto& t : tokens)
    if (!t.empty() && !is_dropped(t)) kept.push_back(std::move(t));
  return kept;
}

std::string ptb_tokenize_caption(std::string_view caption) {
  std::string out;
  for (const auto& t : ptb_tokenize(caption)) {
    if (!out.empty()) out += ' ';
    out += t;
  }
  return out;
}

}  // namespace xib::eval
