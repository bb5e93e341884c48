// SpTokenizer: transformers 4.33's slow LlamaTokenizer around SentencePiece BPE (sp_model.h; see
// the header for the rules; the loaders are in sp_load.cpp).
#include "sp_tokenizer.h"

#include <fmt/format.h>

#include <algorithm>

#include "sp_model.h"
#include "xib/error.h"

namespace xib::llama {

namespace {

constexpr std::string_view kUnderline = "\xE2\x96\x81";  // U+2581 "▁"

/// Length in bytes of the whitespace code point at the start of `s` (Python's str.isspace), or 0.
size_t leading_space(std::string_view s) {
  if (s.empty()) return 0;
  const auto c = static_cast<unsigned char>(s[0]);
  if (c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f)) return 1;
  const auto starts = [&](std::string_view p) { return s.substr(0, p.size()) == p; };
  for (std::string_view p : {"\xC2\x85", "\xC2\xA0"}) {
    if (starts(p)) return 2;
  }
  for (std::string_view p :
       {"\xE1\x9A\x80", "\xE2\x80\xA8", "\xE2\x80\xA9", "\xE2\x80\xAF", "\xE2\x81\x9F", "\xE3\x80\x80"}) {
    if (starts(p)) return 3;
  }
  if (s.size() >= 3 && c == 0xE2 && static_cast<unsigned char>(s[1]) == 0x80) {
    const auto d = static_cast<unsigned char>(s[2]);
    if (d >= 0x80 && d <= 0x8A) return 3;  // U+2000 … U+200A
  }
  return 0;
}

/// Start of the trailing whitespace of `s`.
size_t trailing_space_start(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    if (leading_space(s.substr(start, end - start)) != end - start) break;
    end = start;
  }
  return end;
}

std::string lstrip(std::string_view s) {
  size_t n;
  while ((n = leading_space(s)) > 0) s.remove_prefix(n);
  return std::string(s);
}

std::string rstrip(std::string_view s) { return std::string(s.substr(0, trailing_space_start(s))); }

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string_view::npos; pos = hit + from.size()) {
    out.append(s.substr(pos, hit - pos));
    out.append(to);
  }
  out.append(s.substr(pos));
  return out;
}

}  // namespace

SpTokenizer::SpTokenizer(SpTokenizer&&) noexcept = default;
SpTokenizer& SpTokenizer::operator=(SpTokenizer&&) noexcept = default;
SpTokenizer::~SpTokenizer() = default;

int64_t SpTokenizer::model_size() const { return sp_->size(); }

int64_t SpTokenizer::vocab_size() const {
  int64_t n = model_size();
  for (const auto& a : added_) n = std::max(n, a.id + 1);
  return n;
}

int64_t SpTokenizer::token_to_id(std::string_view token) const {
  for (const auto& a : added_) {
    if (a.added && a.text == token) return a.id;
  }
  return sp_->piece_to_id(token);
}

std::string SpTokenizer::piece(int64_t id) const {
  for (const auto& a : added_) {
    if (a.added && a.id == id) return a.text;
  }
  if (id < 0 || id >= model_size()) {
    throw UsageError({.what = fmt::format("token id {} is outside the SentencePiece vocabulary", id),
                      .where = name_,
                      .expected = fmt::format("an id in [0, {})", vocab_size()),
                      .got = std::to_string(id)});
  }
  return sp_->id_to_piece(id);
}

void SpTokenizer::finish() {
  std::vector<std::string> texts = {settings_.bos, settings_.eos, settings_.unk};
  if (settings_.pad) texts.push_back(*settings_.pad);
  special_texts_.clear();
  special_ids_.clear();
  for (const auto& t : texts) {
    if (t.empty() || std::ranges::find(special_texts_, t) != special_texts_.end()) continue;
    special_texts_.push_back(t);
    // A special token neither in the model nor added is added at the next id (transformers'
    // sanitize_special_tokens / add_special_tokens).
    const bool known = std::ranges::any_of(added_, [&](const SpAddedToken& a) { return a.text == t; });
    int64_t id = token_to_id(t);
    if (!known && id == sp_->unk_id() && t != sp_->id_to_piece(sp_->unk_id())) {
      id = vocab_size();
      added_.push_back({.text = t, .id = id, .special = true, .added = true});
    } else if (!known) {
      added_.push_back({.text = t, .id = id, .special = true, .added = false});
    }
    special_ids_.push_back(id);
  }
  for (auto& a : added_) a.special = a.special || is_special_text(a.text);
  const auto id_of = [&](const std::string& t) -> std::optional<int64_t> {
    if (t.empty()) return std::nullopt;
    return token_to_id(t);
  };
  bos_id_ = id_of(settings_.bos);
  eos_id_ = id_of(settings_.eos);
  unk_id_ = id_of(settings_.unk);
  pad_id_ = settings_.pad ? id_of(*settings_.pad) : std::nullopt;
  unk_pieces_ = settings_.unk.empty() ? 0 : sp_encode(settings_.unk).size();
}

void SpTokenizer::apply_upstream_vicuna_setup() {
  // add_special_tokens({'pad_token': '[PAD]'}) runs while unk is still <unk>: [PAD] is not a
  // piece of the model, so it gets the next id.
  if (!settings_.pad || *settings_.pad != "[PAD]") {
    settings_.pad = "[PAD]";
    if (!std::ranges::any_of(added_, [](const SpAddedToken& a) { return a.text == "[PAD]"; })) {
      const int64_t id = sp_->piece_to_id("[PAD]");
      if (id == sp_->unk_id()) {
        added_.push_back({.text = "[PAD]", .id = vocab_size(), .special = true, .added = true});
      }
    }
  }
  settings_.bos = settings_.eos = settings_.unk = "</s>";
  // The earlier special tokens stay cut out of text (unique_no_split_tokens only grows) but are
  // no longer special; given as plain strings, every cut-out token strips both sides.
  for (auto& a : added_) a.special = false;
  strip_all_ = true;
  finish();
  for (auto& a : added_) a.special = is_special_text(a.text);
}

bool SpTokenizer::is_special_text(std::string_view token) const {
  return std::ranges::find(special_texts_, token) != special_texts_.end();
}

const SpAddedToken* SpTokenizer::find_added(std::string_view text) const {
  const SpAddedToken* best = nullptr;
  for (const auto& a : added_) {
    if (!a.text.empty() && text.starts_with(a.text) && (!best || a.text.size() > best->text.size())) best = &a;
  }
  return best;
}

std::vector<std::string> SpTokenizer::sp_encode(std::string_view text) const { return sp_->encode(text); }

std::string SpTokenizer::sp_decode(std::vector<std::string> pieces) const {
  std::erase_if(pieces, [](const std::string& p) { return p.empty(); });
  return sp_->decode(pieces);
}

std::vector<std::string> SpTokenizer::tokenize_piece(std::string_view text) const {
  if (settings_.legacy || !(text.starts_with(kUnderline) || text.starts_with(' '))) return sp_encode(text);
  auto pieces = sp_encode(settings_.unk + std::string(text));
  if (pieces.size() >= unk_pieces_) pieces.erase(pieces.begin(), pieces.begin() + static_cast<ptrdiff_t>(unk_pieces_));
  return pieces;
}

std::vector<std::string> SpTokenizer::tokenize(std::string_view input) const {
  std::string text(input);
  if (!settings_.legacy && !text.empty()) text = std::string(kUnderline) + replace_all(text, kUnderline, " ");
  // 1. Cut out added / special tokens (leftmost, then longest).
  struct Chunk {
    std::string text;
    const SpAddedToken* token = nullptr;
  };
  std::vector<Chunk> chunks;
  std::string_view rest = text;
  size_t start = 0, pos = 0;
  while (pos < rest.size()) {
    if (const SpAddedToken* a = find_added(rest.substr(pos))) {
      if (pos > start) chunks.push_back({std::string(rest.substr(start, pos - start))});
      chunks.push_back({a->text, a});
      pos += a->text.size();
      start = pos;
    } else {
      ++pos;
    }
  }
  if (start < rest.size()) chunks.push_back({std::string(rest.substr(start))});
  // 2. Whitespace eaten by the tokens (non-special added tokens and plain-string specials: both).
  for (size_t i = 0; i < chunks.size(); ++i) {
    const SpAddedToken* a = chunks[i].token;
    if (!a) continue;
    const bool both = strip_all_ || !a->special;
    if ((both || a->rstrip) && i + 1 < chunks.size() && !chunks[i + 1].text.empty()) {
      chunks[i + 1].text = lstrip(chunks[i + 1].text);
    }
    if ((both || a->lstrip) && i > 0 && !chunks[i - 1].text.empty()) chunks[i - 1].text = rstrip(chunks[i - 1].text);
  }
  // 3. SentencePiece on the rest.
  std::vector<std::string> tokens;
  for (const auto& c : chunks) {
    if (c.text.empty()) continue;
    if (c.token) {
      tokens.push_back(c.text);
    } else {
      for (auto& p : tokenize_piece(c.text)) tokens.push_back(std::move(p));
    }
  }
  if (!settings_.legacy && tokens.size() > 1 && tokens[0] == kUnderline && is_special_text(tokens[1])) {
    tokens.erase(tokens.begin());
  }
  return tokens;
}

std::vector<int64_t> SpTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int64_t> ids;
  if (add_bos && settings_.add_bos && bos_id_) ids.push_back(*bos_id_);
  for (const auto& t : tokenize(text)) ids.push_back(token_to_id(t));
  if (add_bos && settings_.add_eos && eos_id_) ids.push_back(*eos_id_);
  return ids;
}

std::string SpTokenizer::tokens_to_string(std::vector<std::string> tokens) const {
  if (tokens.front().starts_with(kUnderline)) tokens.front().erase(0, kUnderline.size());
  std::string out;
  std::vector<std::string> current;
  bool prev_special = false;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (is_special_text(tokens[i])) {
      if (!prev_special && i != 0 && settings_.legacy) out += ' ';
      out += sp_decode(std::move(current)) + tokens[i];
      current.clear();
      prev_special = true;
    } else {
      current.push_back(tokens[i]);
      prev_special = false;
    }
  }
  return out + sp_decode(std::move(current));
}

std::string SpTokenizer::decode(std::span<const int64_t> ids, bool skip_special) const {
  std::vector<std::string> parts, current;
  for (const int64_t id : ids) {
    const std::string p = piece(id);  // checks the range
    if (skip_special && std::ranges::find(special_ids_, id) != special_ids_.end()) continue;
    const bool added = std::ranges::any_of(added_, [&](const SpAddedToken& a) { return a.added && a.text == p; });
    if (added) {
      if (!current.empty()) parts.push_back(tokens_to_string(std::move(current)));
      current.clear();
      parts.push_back(p);
    } else {
      current.push_back(p);
    }
  }
  if (!current.empty()) parts.push_back(tokens_to_string(std::move(current)));
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0 && settings_.spaces_between_special_tokens) out += ' ';
    out += parts[i];
  }
  return out;
}

}  // namespace xib::llama
