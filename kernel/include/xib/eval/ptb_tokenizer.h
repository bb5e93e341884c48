// Caption tokenization as the COCO caption evaluation (pycocoevalcap) does it: Stanford
// CoreNLP 3.4.1's PTBTokenizer with `-preserveLines -lowerCase`, then every token in
// pycocoevalcap's PUNCTUATIONS list dropped. A rule-based C++ equivalent for ordinary English
// captions; what it does not reproduce is listed in docs of ptb_tokenize() below.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace xib::eval {

/// PTB tokens of one caption (line breaks inside it count as spaces), lower-cased, with the
/// tokens pycocoevalcap removes ('' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ;) dropped.
///
/// Matches CoreNLP for: ASCII lower-casing; splitting off , ; : ! ? quotes, brackets (written
/// -lrb- -rrb- -lsb- -rsb- -lcb- -rcb-: -lowerCase lower-cases them, so pycocoevalcap keeps
/// them), $ # % and sentence periods; keeping periods inside words ("horse.the"), acronyms
/// ("u.s.", "p.m."), and a list of common abbreviations ("mr.", "st.", "etc."); numbers with
/// . , : inside ("3.50", "1,000", "10:30"); contractions n't 's 'm 'd 'll 're 've and the
/// words cannot gonna gotta wanna gimme lemme; "..." and "...." as an ellipsis; + = * ~ ^ | < >
/// as separate symbols; hyphens inside words kept, a lone "-" or "--" dropped.
/// A one-letter abbreviation ("c.") keeps its period unless a capital letter follows. CoreNLP
/// looks past the end of a caption into the next line of pycocoevalcap's batch, so a caption
/// ending in "m." followed by a caption starting with a capital gives "m" there; here the end of
/// a caption counts as lower-case (the period is kept).
/// Not reproduced: CoreNLP's full abbreviation and SGML/URL/e-mail/emoticon rules,
/// non-ASCII text (passed through, not lower-cased), &amp;-style entities, fractions like
/// "5'10\"", and its special cases for apostrophes at word starts beyond 'tis 'twas 'n' '90s.
std::vector<std::string> ptb_tokenize(std::string_view caption);

/// ptb_tokenize() joined by single spaces: the string pycocoevalcap's PTBTokenizer returns.
std::string ptb_tokenize_caption(std::string_view caption);

}  // namespace xib::eval
