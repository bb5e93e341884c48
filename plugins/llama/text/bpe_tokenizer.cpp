#include "bpe_tokenizer.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <mutex>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "pre_tokenizer.h"
#include "xib/error.h"
#include "xib/text/utf8.h"

namespace xib::llama {
namespace {

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes map to themselves, the rest to U+0100….
struct ByteMap {
  std::array<std::string, 256> piece;
  std::unordered_map<char32_t, uint8_t> back;
  ByteMap() {
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + next++);
      text::append_utf8(piece[static_cast<size_t>(b)], cp);
      back[cp] = static_cast<uint8_t>(b);
    }
  }
};

const ByteMap& byte_map() {
  static const ByteMap map;
  return map;
}

constexpr size_t kCacheLimit = 1 << 16;

}  // namespace

const std::string& byte_to_piece(uint8_t b) { return byte_map().piece[b]; }

std::optional<uint8_t> piece_char_to_byte(char32_t cp) {
  const auto& back = byte_map().back;
  const auto it = back.find(cp);
  return it == back.end() ? std::nullopt : std::optional<uint8_t>(it->second);
}

struct BpeTokenizer::Impl {
  BpeModel model;
  RegexSplitter splitter;
  std::unordered_map<std::string, int64_t> ids;
  std::unordered_map<uint64_t, std::pair<int32_t, int64_t>> merges;  // (left, right) → (rank, merged id)
  std::array<int64_t, 256> byte_ids{};
  std::vector<BpeAddedToken> added;  // longest first
  std::unordered_set<int64_t> special_ids, added_ids;
  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int64_t>> cache;

  explicit Impl(BpeModel m) : model(std::move(m)), splitter(model.split_regexes, model.source) {}

  static uint64_t key(int64_t a, int64_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint64_t>(b); }

  [[noreturn]] void bad(std::string what, std::string expected, std::string got) const {
    throw FormatError(
        {.what = std::move(what), .where = model.source, .expected = std::move(expected), .got = std::move(got)});
  }

  void build() {
    const auto n = static_cast<int64_t>(model.vocab.size());
    if (n == 0) bad("the BPE vocabulary is empty", "at least the 256 byte pieces", "0 pieces");
    if (n >= (int64_t{1} << 31)) bad("the BPE vocabulary is too large", "fewer than 2^31 pieces", std::to_string(n));
    ids.reserve(model.vocab.size());
    for (int64_t i = 0; i < n; ++i) ids.emplace(model.vocab[static_cast<size_t>(i)], i);
    for (int b = 0; b < 256; ++b) {
      const auto it = ids.find(byte_to_piece(static_cast<uint8_t>(b)));
      byte_ids[static_cast<size_t>(b)] = it == ids.end() ? -1 : it->second;
    }
    merges.reserve(model.merges.size());
    for (size_t rank = 0; rank < model.merges.size(); ++rank) {
      const auto& [a, b] = model.merges[rank];
      const auto ia = ids.find(a), ib = ids.find(b), iab = ids.find(a + b);
      if (ia == ids.end() || ib == ids.end() || iab == ids.end()) {
        const std::string& unknown = ia == ids.end() ? a : ib == ids.end() ? b : a + b;
        bad(fmt::format("BPE merge {} (\"{} {}\") refers to a token that is not in the vocabulary", rank, a, b),
            "both sides and their concatenation in model.vocab", fmt::format("no token \"{}\"", unknown));
      }
      merges.try_emplace(key(ia->second, ib->second), static_cast<int32_t>(rank), iab->second);
    }
    for (const auto& t : model.added) {
      if (t.id < 0 || t.id >= n) {
        bad(fmt::format("added token \"{}\" has id {} outside the vocabulary", t.text, t.id),
            fmt::format("0 … {}", n - 1), std::to_string(t.id));
      }
      if (t.text.empty()) continue;
      added.push_back(t);
      added_ids.insert(t.id);
      if (t.special) special_ids.insert(t.id);
    }
    std::stable_sort(added.begin(), added.end(),
                     [](const auto& x, const auto& y) { return x.text.size() > y.text.size(); });
    for (const auto* opt : {&model.bos, &model.eos, &model.pad, &model.unk}) {
      if (*opt && (**opt < 0 || **opt >= n))
        bad("a special token id is outside the vocabulary", fmt::format("0 … {}", n - 1), std::to_string(**opt));
    }
  }

  // Byte-level BPE of one pre-token.
  void bpe(std::string_view word, std::vector<int64_t>& out) const {
    if (word.empty()) return;
    if (model.ignore_merges) {
      std::string mapped;
      for (char c : word) mapped += byte_to_piece(static_cast<uint8_t>(c));
      if (const auto it = ids.find(mapped); it != ids.end()) {
        out.push_back(it->second);
        return;
      }
    }
    {
      std::lock_guard lock(cache_mutex);
      if (const auto it = cache.find(std::string(word)); it != cache.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    struct Symbol {
      int64_t id;
      int prev, next;
    };
    std::vector<Symbol> sym;
    sym.reserve(word.size());
    for (char c : word) {
      const int64_t id = byte_ids[static_cast<unsigned char>(c)];
      sym.push_back({id, static_cast<int>(sym.size()) - 1, static_cast<int>(sym.size()) + 1});
    }
    sym.back().next = -1;
    struct Candidate {
      int32_t rank;
      int left;
      int64_t left_id, right_id;
      bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
    const auto consider = [&](int left) {
      if (left < 0) return;
      const int right = sym[static_cast<size_t>(left)].next;
      if (right < 0) return;
      const int64_t a = sym[static_cast<size_t>(left)].id, b = sym[static_cast<size_t>(right)].id;
      if (a < 0 || b < 0) return;
      if (const auto it = merges.find(key(a, b)); it != merges.end()) queue.push({it->second.first, left, a, b});
    };
    for (int i = 0; i + 1 < static_cast<int>(sym.size()); ++i) consider(i);
    while (!queue.empty()) {
      const Candidate c = queue.top();
      queue.pop();
      auto& l = sym[static_cast<size_t>(c.left)];
      if (l.id != c.left_id || l.next < 0 || sym[static_cast<size_t>(l.next)].id != c.right_id) continue;  // stale
      const int right = l.next;
      l.id = merges.at(key(c.left_id, c.right_id)).second;
      l.next = sym[static_cast<size_t>(right)].next;
      if (l.next >= 0) sym[static_cast<size_t>(l.next)].prev = c.left;
      sym[static_cast<size_t>(right)].id = -2;  // gone
      consider(l.prev);
      consider(c.left);
    }
    std::vector<int64_t> result;
    for (int i = 0; i >= 0; i = sym[static_cast<size_t>(i)].next) {
      const int64_t id = sym[static_cast<size_t>(i)].id;
      if (id >= 0) {
        result.push_back(id);
      } else if (model.unk) {
        result.push_back(*model.unk);  // a byte without a piece
      }
    }
    out.insert(out.end(), result.begin(), result.end());
    std::lock_guard lock(cache_mutex);
    if (cache.size() >= kCacheLimit) cache.clear();
    cache.emplace(std::string(word), std::move(result));
  }

  void encode_raw(std::string_view text, std::vector<int64_t>& out) const {
    for (const auto& [b, e] : splitter.split(text)) bpe(text.substr(b, e - b), out);
  }
};

BpeTokenizer::BpeTokenizer(BpeModel model) : impl_(std::make_unique<Impl>(std::move(model))) { impl_->build(); }
BpeTokenizer::BpeTokenizer(BpeTokenizer&&) noexcept = default;
BpeTokenizer& BpeTokenizer::operator=(BpeTokenizer&&) noexcept = default;
BpeTokenizer::~BpeTokenizer() = default;

std::string BpeTokenizer::name() const { return impl_->model.name; }
int64_t BpeTokenizer::vocab_size() const { return static_cast<int64_t>(impl_->model.vocab.size()); }
std::optional<int64_t> BpeTokenizer::bos_id() const { return impl_->model.bos; }
std::optional<int64_t> BpeTokenizer::eos_id() const { return impl_->model.eos; }
std::optional<int64_t> BpeTokenizer::pad_id() const { return impl_->model.pad; }
bool BpeTokenizer::add_bos_by_default() const { return impl_->model.add_bos; }

std::optional<int64_t> BpeTokenizer::id_of(std::string_view piece) const {
  const auto it = impl_->ids.find(std::string(piece));
  return it == impl_->ids.end() ? std::nullopt : std::optional<int64_t>(it->second);
}

std::string BpeTokenizer::piece(int64_t id) const {
  if (id < 0 || id >= vocab_size()) {
    throw UsageError({.what = fmt::format("token id {} is outside the BPE vocabulary", id),
                      .where = impl_->model.source,
                      .expected = fmt::format("0 … {}", vocab_size() - 1),
                      .got = std::to_string(id)});
  }
  return impl_->model.vocab[static_cast<size_t>(id)];
}

std::vector<int64_t> BpeTokenizer::encode(std::string_view text, bool add_bos) const {
  return encode(text, BpeEncodeOptions{.add_bos = add_bos});
}

std::vector<int64_t> BpeTokenizer::encode(std::string_view text, const BpeEncodeOptions& options) const {
  std::string sanitized;
  if (!text::is_valid_utf8(text)) {  // as llama.cpp: each invalid byte reads as U+FFFD
    sanitized = text::encode_utf8(text::decode_utf8(text));
    text = sanitized;
  }
  std::vector<int64_t> out;
  if (options.add_bos && impl_->model.bos) out.push_back(*impl_->model.bos);
  // Cut added tokens out of the raw text, longest first (llama.cpp's tokenizer_st_partition).
  struct Fragment {
    size_t begin, end;
    int64_t id;  // -1: raw text
  };
  std::vector<Fragment> fragments{{0, text.size(), -1}};
  if (options.parse_special) {
    for (const auto& t : impl_->added) {
      std::vector<Fragment> next;
      for (const auto& f : fragments) {
        if (f.id >= 0) {
          next.push_back(f);
          continue;
        }
        size_t pos = f.begin;
        for (;;) {
          const size_t hit = text.substr(0, f.end).find(t.text, pos);
          if (hit == std::string_view::npos) break;
          if (hit > pos) next.push_back({pos, hit, -1});
          next.push_back({hit, hit + t.text.size(), t.id});
          pos = hit + t.text.size();
        }
        if (pos < f.end) next.push_back({pos, f.end, -1});
      }
      fragments = std::move(next);
    }
  }
  for (const auto& f : fragments) {
    if (f.id >= 0) {
      out.push_back(f.id);
    } else {
      impl_->encode_raw(text.substr(f.begin, f.end - f.begin), out);
    }
  }
  return out;
}

std::string BpeTokenizer::decode(std::span<const int64_t> ids, bool skip_special) const {
  std::string out;
  for (int64_t id : ids) {
    const std::string p = piece(id);
    if (impl_->added_ids.count(id)) {
      if (!(skip_special && impl_->special_ids.count(id))) out += p;
      continue;
    }
    for (size_t pos = 0; pos < p.size();) {
      const size_t start = pos;
      const char32_t cp = text::next_code_point(p, pos);
      if (const auto b = piece_char_to_byte(cp)) {
        out.push_back(static_cast<char>(*b));
      } else {
        out.append(p, start, pos - start);  // not a byte character: keep it as written
      }
    }
  }
  return out;
}

}  // namespace xib::llama
