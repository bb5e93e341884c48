// SentencePiece BPE without libsentencepiece (see sp_model.h).
#include "sp_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <queue>

#include "xib/error.h"

namespace xib::llama {

namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // "▁"

/// Minimal protobuf reader: fields of one message.
class ProtoReader {
 public:
  ProtoReader(std::string_view data, const std::string& source) : data_(data), source_(source) {}
  bool done() const { return pos_ >= data_.size(); }
  /// Next field: number and wire type; the value is read with varint()/bytes()/fixed32() or skipped.
  std::pair<int, int> next() {
    const uint64_t key = varint();
    return {static_cast<int>(key >> 3), static_cast<int>(key & 7)};
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) fail("truncated varint");
      const auto b = static_cast<unsigned char>(data_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint too long");
  }
  std::string_view bytes() {
    const uint64_t n = varint();
    if (n > data_.size() - pos_) fail("truncated field");
    const auto v = data_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  float fixed32() {
    if (data_.size() - pos_ < 4) fail("truncated float");
    float f;
    std::memcpy(&f, data_.data() + pos_, 4);
    pos_ += 4;
    return f;
  }
  void skip(int wire) {
    switch (wire) {
      case 0:
        varint();
        return;
      case 1:
        if (data_.size() - pos_ < 8) fail("truncated field");
        pos_ += 8;
        return;
      case 2:
        bytes();
        return;
      case 5:
        fixed32();
        return;
      default:
        fail(fmt::format("unsupported wire type {}", wire));
    }
  }
  [[noreturn]] void fail(const std::string& why) const {
    throw FormatError({.what = "not a SentencePiece model (" + why + ")",
                       .where = source_,
                       .expected = "a serialized sentencepiece ModelProto (tokenizer.model)"});
  }

 private:
  std::string_view data_;
  const std::string& source_;
  size_t pos_ = 0;
};

size_t utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c >> 5) == 0x6) return 2;
  if ((c >> 4) == 0xe) return 3;
  if ((c >> 3) == 0x1e) return 4;
  return 1;
}

/// Bytes as UTF-8, each byte of an invalid sequence as U+FFFD.
std::string bytes_to_utf8(const std::string& bytes) {
  std::string out;
  size_t i = 0;
  while (i < bytes.size()) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    const size_t n = utf8_len(c);
    bool ok = (c < 0x80) || (n > 1 && i + n <= bytes.size());
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(bytes[i + k]) & 0xC0) == 0x80;
    if (ok && n == 1 && c >= 0x80) ok = false;
    if (ok) {
      out.append(bytes, i, n);
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

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

SpModel SpModel::from_proto(std::string_view proto, const std::string& source) {
  SpModel m;
  ProtoReader r(proto, source);
  int model_type = 1;  // UNIGRAM is the proto default
  bool suffix = false;
  std::string charsmap;
  while (!r.done()) {
    const auto [field, wire] = r.next();
    if (field == 1 && wire == 2) {
      ProtoReader p(r.bytes(), source);
      SpPiece piece;
      while (!p.done()) {
        const auto [f, w] = p.next();
        if (f == 1 && w == 2) {
          piece.text = std::string(p.bytes());
        } else if (f == 2 && w == 5) {
          piece.score = p.fixed32();
        } else if (f == 3 && w == 0) {
          piece.type = static_cast<SpPieceType>(p.varint());
        } else {
          p.skip(w);
        }
      }
      m.pieces_.push_back(std::move(piece));
    } else if (field == 2 && wire == 2) {
      ProtoReader t(r.bytes(), source);
      while (!t.done()) {
        const auto [f, w] = t.next();
        if (f == 3 && w == 0) {
          model_type = static_cast<int>(t.varint());
        } else if (f == 35 && w == 0) {
          m.byte_fallback_ = t.varint() != 0;
        } else if (f == 24 && w == 0) {
          suffix = t.varint() != 0;
        } else {
          t.skip(w);
        }
      }
    } else if (field == 3 && wire == 2) {
      ProtoReader n(r.bytes(), source);
      while (!n.done()) {
        const auto [f, w] = n.next();
        if (f == 2 && w == 2) {
          charsmap = std::string(n.bytes());
        } else if (f == 3 && w == 0) {
          m.add_dummy_prefix_ = n.varint() != 0;
        } else if (f == 4 && w == 0) {
          m.remove_extra_whitespaces_ = n.varint() != 0;
        } else if (f == 5 && w == 0) {
          m.escape_whitespaces_ = n.varint() != 0;
        } else {
          n.skip(w);
        }
      }
    } else {
      r.skip(wire);
    }
  }
  const auto unsupported = [&](const std::string& what, const std::string& got) {
    throw FormatError({.what = "unsupported SentencePiece model: " + what,
                       .where = source,
                       .expected = "a BPE model without normalisation rules (LLaMA's tokenizer.model)",
                       .got = got});
  };
  if (model_type != 2) {
    static const char* names[] = {"?", "unigram", "bpe", "word", "char"};
    unsupported("only BPE models are implemented", model_type >= 1 && model_type <= 4 ? names[model_type] : "?");
  }
  if (!charsmap.empty()) unsupported("normalisation rules (precompiled_charsmap)", "a non-empty precompiled_charsmap");
  if (suffix) unsupported("treat_whitespace_as_suffix", "true");
  m.finish(source);
  return m;
}

SpModel SpModel::from_pieces(std::vector<SpPiece> pieces, bool byte_fallback, bool add_dummy_prefix,
                             const std::string& source) {
  SpModel m;
  m.pieces_ = std::move(pieces);
  m.byte_fallback_ = byte_fallback;
  m.add_dummy_prefix_ = add_dummy_prefix;
  m.remove_extra_whitespaces_ = false;
  m.finish(source);
  return m;
}

void SpModel::finish(const std::string& source) {
  if (pieces_.empty()) {
    throw FormatError({.what = "the SentencePiece model has no pieces", .where = source, .expected = "a vocabulary"});
  }
  bool have_unk = false;
  std::fill(std::begin(byte_ids_), std::end(byte_ids_), -1);
  for (size_t i = 0; i < pieces_.size(); ++i) {
    const auto& p = pieces_[i];
    const auto id = static_cast<int64_t>(i);
    const int t = static_cast<int>(p.type);
    if (t < 1 || t > 6) {
      throw FormatError({.what = fmt::format("piece {} has an unknown type", i),
                         .where = source,
                         .expected = "1 … 6",
                         .got = std::to_string(t)});
    }
    ids_.emplace(p.text, id);
    if (p.type == SpPieceType::normal || p.type == SpPieceType::user_defined || p.type == SpPieceType::unused) {
      mergeable_.emplace(p.text, id);
    }
    if (p.type == SpPieceType::user_defined) user_defined_.push_back(p.text);
    if (p.type == SpPieceType::unknown && !have_unk) {
      unk_id_ = id;
      have_unk = true;
    }
    if (p.type == SpPieceType::byte) {
      unsigned v = 0;
      if (p.text.size() == 6 && std::sscanf(p.text.c_str(), "<0x%2X>", &v) == 1 && v < 256) byte_ids_[v] = id;
    }
  }
  if (!have_unk) {
    throw FormatError({.what = "the SentencePiece model has no unknown piece",
                       .where = source,
                       .expected = "one piece of type UNKNOWN (<unk>)"});
  }
  std::ranges::sort(user_defined_, [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

int64_t SpModel::piece_to_id(std::string_view piece) const {
  const auto it = ids_.find(std::string(piece));
  return it == ids_.end() ? unk_id_ : it->second;
}

std::string SpModel::normalize(std::string_view text) const {
  std::string s(text);
  if (remove_extra_whitespaces_) {
    std::string out;
    bool space = true;  // drops leading spaces
    for (char c : s) {
      if (c == ' ') {
        if (!space) out += ' ';
        space = true;
      } else {
        out += c;
        space = false;
      }
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    s = std::move(out);
  }
  if (s.empty()) return s;
  if (add_dummy_prefix_) s = " " + s;
  return escape_whitespaces_ ? replace_all(s, " ", kSpace) : s;
}

std::vector<std::string> SpModel::encode(std::string_view text) const {
  const std::string norm = normalize(text);
  struct Symbol {
    int prev, next;
    std::string_view piece;
    bool freeze;
  };
  std::vector<Symbol> symbols;
  std::string_view rest = norm;
  size_t pos = 0;
  while (pos < rest.size()) {
    size_t n = 0;
    bool freeze = false;
    for (const auto& u : user_defined_) {
      if (rest.substr(pos).starts_with(u)) {
        n = u.size();
        freeze = true;
        break;
      }
    }
    if (!n) n = std::min(utf8_len(static_cast<unsigned char>(rest[pos])), rest.size() - pos);
    const int i = static_cast<int>(symbols.size());
    symbols.push_back({i - 1, i + 1, rest.substr(pos, n), freeze});
    pos += n;
  }
  if (!symbols.empty()) symbols.back().next = -1;

  struct Pair {
    int left, right;
    float score;
    size_t size;
  };
  const auto worse = [](const Pair& a, const Pair& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::priority_queue<Pair, std::vector<Pair>, decltype(worse)> agenda(worse);
  std::map<std::string, std::pair<std::string, std::string>, std::less<>> rev_merge;
  const auto add_pair = [&](int left, int right) {
    if (left == -1 || right == -1 || symbols[left].freeze || symbols[right].freeze) return;
    const std::string_view piece(symbols[left].piece.data(), symbols[left].piece.size() + symbols[right].piece.size());
    const auto it = mergeable_.find(std::string(piece));
    if (it == mergeable_.end()) return;
    agenda.push({left, right, pieces_[static_cast<size_t>(it->second)].score, piece.size()});
    if (pieces_[static_cast<size_t>(it->second)].type == SpPieceType::unused) {
      rev_merge[std::string(piece)] = {std::string(symbols[left].piece), std::string(symbols[right].piece)};
    }
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) add_pair(i - 1, i);
  while (!agenda.empty()) {
    const Pair top = agenda.top();
    agenda.pop();
    auto& l = symbols[top.left];
    auto& r = symbols[top.right];
    if (l.piece.empty() || r.piece.empty() || l.piece.size() + r.piece.size() != top.size) continue;
    l.piece = std::string_view(l.piece.data(), l.piece.size() + r.piece.size());
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = top.left;
    r.piece = {};
    add_pair(l.prev, top.left);
    add_pair(top.left, l.next);
  }

  std::vector<std::string> out;
  std::function<void(const std::string&)> emit = [&](const std::string& piece) {
    const auto it = mergeable_.find(piece);
    if (it != mergeable_.end() && pieces_[static_cast<size_t>(it->second)].type == SpPieceType::unused) {
      const auto rm = rev_merge.find(piece);
      if (rm != rev_merge.end()) {
        emit(rm->second.first);
        emit(rm->second.second);
        return;
      }
    }
    if (!ids_.contains(piece) && byte_fallback_) {  // unknown: its bytes
      for (unsigned char c : piece) out.push_back(fmt::format("<0x{:02X}>", c));
      return;
    }
    out.push_back(piece);  // a piece, or unknown text (its id is unk_id)
  };
  for (int i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) emit(std::string(symbols[i].piece));
  return out;
}

std::string SpModel::decode(const std::vector<std::string>& pieces) const {
  std::string out, bytes;
  bool bos_ws = add_dummy_prefix_ || remove_extra_whitespaces_;
  const auto flush = [&] {
    if (!bytes.empty()) out += bytes_to_utf8(bytes);
    bytes.clear();
  };
  for (const auto& piece : pieces) {
    const auto it = ids_.find(piece);
    const int64_t id = it == ids_.end() ? unk_id_ : it->second;
    const SpPieceType type = pieces_[static_cast<size_t>(id)].type;
    if (type == SpPieceType::byte && it != ids_.end()) {
      unsigned v = 0;
      std::sscanf(piece.c_str(), "<0x%2X>", &v);
      bytes += static_cast<char>(v);
      bos_ws = false;
      continue;
    }
    flush();
    if (type == SpPieceType::control && it != ids_.end()) continue;
    if (type == SpPieceType::unknown && it != ids_.end()) {
      out += " \xE2\x81\x87 ";
      bos_ws = false;
      continue;
    }
    std::string_view text = piece;
    if (it == ids_.end()) {  // not a piece: as it is
      out += piece;
      bos_ws = false;
      continue;
    }
    if (bos_ws && text.starts_with(kSpace)) text.remove_prefix(kSpace.size());
    out += replace_all(text, kSpace, " ");
    bos_ws = false;
  }
  flush();
  return out;
}

}  // namespace xib::llama
