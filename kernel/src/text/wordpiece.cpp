#include "xib/text/wordpiece.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "bert_unicode.h"
#include "xib/error.h"
#include "xib/text/strings.h"
#include "xib/text/utf8.h"

namespace xib::text {
namespace {

void check(const auto& options) {
  Validator v{ConfigSection{}};
  options.validate(v);
  v.finish();
}

/// BasicTokenizer.tokenize: clean, space CJK, split on whitespace, lower-case + strip accents,
/// split on punctuation. Returns the words as code points.
std::vector<std::u32string> basic_tokenize(std::string_view text, const WordPieceOptions& options) {
  std::u32string cleaned;
  cleaned.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const char32_t cp = next_code_point(text, pos);
    if (cp == 0 || cp == kReplacementChar || bert::is_control(cp)) continue;
    if (bert::is_whitespace(cp)) {
      cleaned.push_back(U' ');
    } else if (options.tokenize_chinese_chars && bert::is_chinese_char(cp)) {
      cleaned.push_back(U' ');
      cleaned.push_back(cp);
      cleaned.push_back(U' ');
    } else {
      cleaned.push_back(cp);
    }
  }
  std::vector<std::u32string> words;
  std::u32string_view rest(cleaned);
  while (!rest.empty()) {
    const size_t start = rest.find_first_not_of(U' ');
    if (start == std::u32string_view::npos) break;
    size_t end = rest.find(U' ', start);
    if (end == std::u32string_view::npos) end = rest.size();
    std::u32string token(rest.substr(start, end - start));
    rest.remove_prefix(end);
    if (options.lower_case) token = bert::strip_accents(bert::lower(token));
    std::u32string word;
    for (char32_t cp : token) {
      if (bert::is_punctuation(cp)) {
        if (!word.empty()) words.push_back(std::move(word));
        word.clear();
        words.emplace_back(1, cp);
      } else {
        word.push_back(cp);
      }
    }
    if (!word.empty()) words.push_back(std::move(word));
  }
  return words;
}

}  // namespace

WordPieceTokenizer WordPieceTokenizer::from_vocab_file(const std::filesystem::path& vocab_txt,
                                                       WordPieceOptions options) {
  std::ifstream in(vocab_txt, std::ios::binary);
  if (!in) {
    throw IoError({.what = "cannot open the WordPiece vocabulary",
                   .where = vocab_txt.string(),
                   .expected = "a vocab.txt file, one piece per line",
                   .hint = "all-MiniLM-L6-v2's vocab.txt (bert-base-uncased's) is fetched by scripts/fetch-models.sh"});
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  std::vector<std::string> vocab;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    vocab.push_back(std::move(line));
    pos = end + 1;
  }
  return WordPieceTokenizer(std::move(vocab), options, vocab_txt.string());
}

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab, WordPieceOptions options, std::string source)
    : options_(options), source_(std::move(source)), pieces_(std::move(vocab)) {
  check(options_);
  if (pieces_.empty()) {
    throw FormatError({.what = "the WordPiece vocabulary is empty",
                       .where = source_,
                       .expected = "one piece per line, [PAD], [UNK], [CLS] and [SEP] among them"});
  }
  ids_.reserve(pieces_.size());
  // As transformers' load_vocab: a repeated piece maps to its last line.
  for (size_t i = 0; i < pieces_.size(); ++i) ids_[pieces_[i]] = static_cast<int64_t>(i);
  std::vector<std::string> missing;
  const auto require = [&](const char* name) -> int64_t {
    const auto it = ids_.find(name);
    if (it == ids_.end()) {
      missing.emplace_back(name);
      return -1;
    }
    return it->second;
  };
  unk_ = require("[UNK]");
  cls_ = require("[CLS]");
  sep_ = require("[SEP]");
  pad_ = require("[PAD]");
  if (!missing.empty()) {
    throw FormatError({.what = "the WordPiece vocabulary lacks special tokens BERT needs",
                       .where = source_,
                       .expected = "[PAD], [UNK], [CLS] and [SEP] among its pieces",
                       .got = fmt::format("{} pieces, without {}", pieces_.size(), join_names(missing)),
                       .hint = "is this a BERT vocab.txt?"});
  }
  mask_ = id_of("[MASK]");
  if (options_.add_dec_token) {
    dec_ = id_of("[DEC]");
    if (!dec_) {
      dec_ = static_cast<int64_t>(pieces_.size());
      pieces_.emplace_back("[DEC]");
      ids_["[DEC]"] = *dec_;
    }
  }
  for (const char* s : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"}) {
    if (auto id = id_of(s)) {
      if (std::string_view(s) != "[DEC]" || dec_) specials_.emplace_back(s, *id);
    }
  }
  std::stable_sort(specials_.begin(), specials_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

std::optional<int64_t> WordPieceTokenizer::id_of(std::string_view piece) const {
  const auto it = ids_.find(std::string(piece));
  return it == ids_.end() ? std::nullopt : std::optional<int64_t>(it->second);
}

std::string WordPieceTokenizer::piece(int64_t id) const {
  if (id < 0 || id >= vocab_size()) {
    throw UsageError({.what = fmt::format("token id {} is outside the WordPiece vocabulary", id),
                      .where = source_,
                      .expected = fmt::format("0 … {}", vocab_size() - 1),
                      .got = std::to_string(id)});
  }
  return pieces_[static_cast<size_t>(id)];
}

void WordPieceTokenizer::wordpiece(std::string_view word, std::vector<int64_t>& out) const {
  // Byte offsets of the character boundaries.
  std::vector<size_t> bounds{0};
  for (size_t pos = 0; pos < word.size();) {
    next_code_point(word, pos);
    bounds.push_back(pos);
  }
  const size_t chars = bounds.size() - 1;
  if (static_cast<int64_t>(chars) > options_.max_chars_per_word) {
    out.push_back(unk_);
    return;
  }
  const size_t first = out.size();
  std::string candidate;
  for (size_t start = 0; start < chars;) {
    size_t end = chars;
    int64_t found = -1;
    for (; end > start; --end) {
      candidate = start > 0 ? "##" : "";
      candidate.append(word.substr(bounds[start], bounds[end] - bounds[start]));
      if (const auto it = ids_.find(candidate); it != ids_.end()) {
        found = it->second;
        break;
      }
    }
    if (found < 0) {
      out.resize(first);
      out.push_back(unk_);
      return;
    }
    out.push_back(found);
    start = end;
  }
}

void WordPieceTokenizer::encode_plain(std::string_view text, std::vector<int64_t>& out) const {
  for (const auto& word : basic_tokenize(text, options_)) wordpiece(encode_utf8(word), out);
}

std::vector<int64_t> WordPieceTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int64_t> out;
  if (add_bos) out.push_back(cls_);
  // Special tokens written in the text stay whole (transformers' added-tokens split).
  size_t segment = 0;
  for (size_t pos = 0; pos < text.size();) {
    bool matched = false;
    if (text[pos] == '[') {
      for (const auto& [s, id] : specials_) {
        if (text.substr(pos, s.size()) == s) {
          encode_plain(text.substr(segment, pos - segment), out);
          out.push_back(id);
          pos += s.size();
          segment = pos;
          matched = true;
          break;
        }
      }
    }
    if (!matched) ++pos;
  }
  encode_plain(text.substr(segment), out);
  if (add_bos) out.push_back(sep_);
  return out;
}

std::vector<std::string> WordPieceTokenizer::tokenize(std::string_view text) const {
  std::vector<std::string> out;
  for (int64_t id : encode(text, false)) out.push_back(pieces_[static_cast<size_t>(id)]);
  return out;
}

std::vector<int64_t> WordPieceTokenizer::encode(std::string_view text, const WordPieceEncodeOptions& options) const {
  check(options);
  std::vector<int64_t> body = encode(text, false);
  const auto keep = static_cast<size_t>(options.add_special ? options.max_length - 2 : options.max_length);
  if (body.size() > keep) {
    if (options.truncation == TruncationSide::left) {
      body.erase(body.begin(), body.end() - static_cast<ptrdiff_t>(keep));
    } else {
      body.resize(keep);
    }
  }
  if (!options.add_special) return body;
  std::vector<int64_t> out;
  out.reserve(body.size() + 2);
  out.push_back(cls_);
  out.insert(out.end(), body.begin(), body.end());
  out.push_back(sep_);
  return out;
}

TokenBatch WordPieceTokenizer::encode_batch(std::span<const std::string> texts,
                                            const WordPieceEncodeOptions& options) const {
  check(options);
  std::vector<std::vector<int64_t>> rows;
  rows.reserve(texts.size());
  size_t longest = 0;
  for (const auto& text : texts) {
    rows.push_back(encode(text, options));
    longest = std::max(longest, rows.back().size());
  }
  TokenBatch batch;
  batch.batch = static_cast<int64_t>(rows.size());
  batch.length = static_cast<int64_t>(longest);
  batch.ids.assign(rows.size() * longest, pad_);
  batch.attention_mask.assign(rows.size() * longest, 0);
  for (size_t b = 0; b < rows.size(); ++b) {
    std::copy(rows[b].begin(), rows[b].end(), batch.ids.begin() + static_cast<ptrdiff_t>(b * longest));
    std::fill_n(batch.attention_mask.begin() + static_cast<ptrdiff_t>(b * longest), rows[b].size(), 1);
  }
  return batch;
}

std::string WordPieceTokenizer::decode(std::span<const int64_t> ids, bool skip_special) const {
  std::string joined;
  for (int64_t id : ids) {
    const std::string p = piece(id);
    if (skip_special &&
        std::any_of(specials_.begin(), specials_.end(), [&](const auto& s) { return s.second == id; })) {
      continue;
    }
    if (!joined.empty()) joined.push_back(' ');
    joined += p;
  }
  // " ##" joins continuation pieces; then transformers' clean_up_tokenization.
  std::string out;
  out = replace_all(joined, " ##", "");
  for (const auto& [from, to] : std::initializer_list<std::pair<std::string_view, std::string_view>>{{" .", "."},
                                                                                                     {" ?", "?"},
                                                                                                     {" !", "!"},
                                                                                                     {" ,", ","},
                                                                                                     {" ' ", "'"},
                                                                                                     {" n't", "n't"},
                                                                                                     {" 'm", "'m"},
                                                                                                     {" 's", "'s"},
                                                                                                     {" 've", "'ve"},
                                                                                                     {" 're", "'re"}}) {
    out = replace_all(out, from, to);
  }
  return out;
}

}  // namespace xib::text
