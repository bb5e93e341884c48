// BERT WordPiece (xib::text::WordPieceTokenizer) against transformers' BertTokenizer, the Python
// reference ("slow") and the tokenizers-backed one ("fast"), on the real bert-base-uncased vocab
// (tests/text/data/wordpiece_cases.json from tools/fixtures/make_wordpiece_fixtures.py). The
// parity cases are skipped, with a message, when the model cache lacks all-minilm-l6-v2.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_skip.h"
#include "test_support.h"
#include "xib/error.h"
#include "xib/model_cache.h"
#include "xib/text/utf8.h"
#include "xib/text/wordpiece.h"

using xib::text::TruncationSide;
using xib::text::WordPieceEncodeOptions;
using xib::text::WordPieceOptions;
using xib::text::WordPieceTokenizer;

namespace {

std::optional<std::filesystem::path> bert_vocab() {
  const auto file = xib::ModelCache::default_root() / "all-minilm-l6-v2" / "vocab.txt";
  if (!std::filesystem::exists(file)) {
    xib::test::skip_missing_model(file.string(), "all-minilm-l6-v2");
    return std::nullopt;
  }
  return file;
}

nlohmann::json fixture() {
  std::ifstream in(xib::test::source_dir() / "tests/text/data/wordpiece_cases.json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

std::vector<int64_t> ids_of(const nlohmann::json& j) { return j.get<std::vector<int64_t>>(); }

// A small vocabulary for the cases that need no real data.
std::vector<std::string> tiny_vocab() {
  return {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", ",", "!", "un", "##aff", "##able", "a"};
}

}  // namespace

TEST_CASE("wordpiece: ids match transformers' Python BertTokenizer on the real vocab") {
  const auto vocab = bert_vocab();
  if (!vocab) return;
  const auto tok = WordPieceTokenizer::from_vocab_file(*vocab);
  const auto fx = fixture();
  CHECK(tok.vocab_size() == fx["vocab_size"].get<int64_t>());
  CHECK(tok.bos_id() == 30522);
  CHECK(tok.piece(30522) == "[DEC]");
  int compared = 0;
  for (const auto& c : fx["cases"]) {
    const auto text = c["text"].get<std::string>();
    CAPTURE(text);
    CHECK(tok.encode(text, false) == ids_of(c["slow"]));
    CHECK(tok.tokenize(text) == c["tokens"].get<std::vector<std::string>>());
    ++compared;
  }
  CHECK(compared >= 30);
}

TEST_CASE("wordpiece: ids match the tokenizers-backed BertTokenizer except on final sigma") {
  const auto vocab = bert_vocab();
  if (!vocab) return;
  const auto tok = WordPieceTokenizer::from_vocab_file(*vocab);
  int same = 0, differ = 0;
  const auto fx = fixture();
  for (const auto& c : fx["cases"]) {
    const auto text = c["text"].get<std::string>();
    CAPTURE(text);
    if (c["slow"] == c["fast"]) {
      CHECK(tok.encode(text, false) == ids_of(c["fast"]));
      ++same;
    } else {
      // The Rust normalizer lower-cases Σ to σ everywhere; Python applies Final_Sigma (ς).
      CHECK(text.find("Σ") != std::string::npos);
      ++differ;
    }
  }
  CHECK(same >= 29);
  CHECK(differ <= 1);
}

TEST_CASE("wordpiece: [CLS] … [SEP] with left truncation matches transformers at several lengths") {
  const auto vocab = bert_vocab();
  if (!vocab) return;
  const auto tok = WordPieceTokenizer::from_vocab_file(*vocab);
  const auto fx = fixture();
  for (const auto& c : fx["truncation"]) {
    const auto text = c["text"].get<std::string>();
    const auto max_length = c["max_length"].get<int64_t>();
    CAPTURE(text);
    CAPTURE(max_length);
    CHECK(tok.encode(text, WordPieceEncodeOptions{.max_length = max_length}) == ids_of(c["ids"]));
  }
}

TEST_CASE("wordpiece: a batch is right-padded to its longest row with an attention mask") {
  const auto vocab = bert_vocab();
  if (!vocab) return;
  const auto tok = WordPieceTokenizer::from_vocab_file(*vocab);
  const auto fx = fixture();
  const auto& b = fx["batch"];
  const auto texts = b["texts"].get<std::vector<std::string>>();
  const auto batch = tok.encode_batch(texts, {.max_length = b["max_length"].get<int64_t>()});
  const auto want_ids = b["input_ids"].get<std::vector<std::vector<int64_t>>>();
  const auto want_mask = b["attention_mask"].get<std::vector<std::vector<int64_t>>>();
  REQUIRE(batch.batch == static_cast<int64_t>(want_ids.size()));
  REQUIRE(batch.length == static_cast<int64_t>(want_ids[0].size()));
  for (int64_t r = 0; r < batch.batch; ++r) {
    for (int64_t t = 0; t < batch.length; ++t) {
      CHECK(batch.at(r, t) == want_ids[r][t]);
      CHECK(batch.attention_mask[r * batch.length + t] == want_mask[r][t]);
    }
  }
}

TEST_CASE("wordpiece: decode joins pieces as transformers does") {
  const auto vocab = bert_vocab();
  if (!vocab) return;
  const auto tok = WordPieceTokenizer::from_vocab_file(*vocab);
  const auto fx = fixture();
  for (const auto& c : fx["cases"]) {
    const auto text = c["text"].get<std::string>();
    CAPTURE(text);
    const auto ids = tok.encode(text, true);
    CHECK(tok.decode(ids, true) == c["decoded"].get<std::string>());
    CHECK(tok.decode(ids, false) == c["decoded_specials"].get<std::string>());
  }
}

TEST_CASE("wordpiece: greedy longest-match pieces, [UNK] for unknown and over-long words") {
  const WordPieceTokenizer tok(tiny_vocab(), {.max_chars_per_word = 9});
  CHECK(tok.tokenize("Hello, WORLD! unaffable") ==
        std::vector<std::string>{"hello", ",", "world", "!", "un", "##aff", "##able"});
  CHECK(tok.encode("unaffablex", false) == std::vector<int64_t>{1});  // no piece for "x": the word is [UNK]
  CHECK(tok.encode("aaaaaaaaaa", false) == std::vector<int64_t>{1});  // 10 chars > 9
  CHECK(tok.vocab_size() == 14);                                      // [DEC] added
  CHECK(tok.bos_id() == 13);
  CHECK(tok.pad_id() == 0);
  CHECK_FALSE(tok.eos_id().has_value());
  const WordPieceTokenizer no_dec(tiny_vocab(), {.add_dec_token = false});
  CHECK(no_dec.vocab_size() == 13);
  CHECK_FALSE(no_dec.bos_id().has_value());
  CHECK(no_dec.encode("[DEC]", false) == std::vector<int64_t>{1, 1, 1});  // "[", "dec", "]": all unknown
}

TEST_CASE("wordpiece: invalid UTF-8 bytes are dropped like U+FFFD, without failing") {
  const WordPieceTokenizer tok(tiny_vocab());
  CHECK(tok.encode("hel\xffl\xc3o world", false) == tok.encode("hello world", false));
  CHECK(tok.encode("\xe2\x82", false).empty());                       // truncated sequence
  CHECK(tok.encode("\xed\xa0\x80", false).empty());                   // a surrogate
  CHECK(tok.encode("a\xc0\xafz", false) == tok.encode("az", false));  // overlong '/'
  CHECK(xib::text::is_valid_utf8("héllo"));
  CHECK_FALSE(xib::text::is_valid_utf8("h\xe9llo"));
}

TEST_CASE("wordpiece: right truncation keeps the beginning, without specials no [CLS]/[SEP]") {
  const WordPieceTokenizer tok(tiny_vocab());
  CHECK(tok.encode("hello world a", {.max_length = 4, .truncation = TruncationSide::right}) ==
        std::vector<int64_t>{2, 5, 6, 3});
  CHECK(tok.encode("hello world a", {.max_length = 4}) == std::vector<int64_t>{2, 6, 12, 3});
  CHECK(tok.encode("hello world a", {.max_length = 2, .add_special = false}) == std::vector<int64_t>{6, 12});
  const std::vector<std::string> none;
  const auto empty = tok.encode_batch(none);
  CHECK(empty.batch == 0);
  CHECK(empty.ids.empty());
}

TEST_CASE("wordpiece: bad input is a clear error") {
  xib::test::TempDir dir;
  CHECK_THROWS_AS(WordPieceTokenizer::from_vocab_file(dir / "absent.txt"), xib::IoError);
  CHECK_THROWS_AS(WordPieceTokenizer::from_vocab_file(dir.write("empty.txt", "")), xib::FormatError);
  try {
    WordPieceTokenizer::from_vocab_file(dir.write("nospecial.txt", "[PAD]\n[CLS]\nhello\n"));
    FAIL("expected a FormatError");
  } catch (const xib::FormatError& e) {
    CHECK(e.info().got.find("[UNK], [SEP]") != std::string::npos);
    CHECK(e.info().where.find("nospecial.txt") != std::string::npos);
  }
  const auto crlf =
      WordPieceTokenizer::from_vocab_file(dir.write("crlf.txt", "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhi\r\n"));
  CHECK(crlf.encode("hi", false) == std::vector<int64_t>{4});
  const WordPieceTokenizer tok(tiny_vocab());
  CHECK_THROWS_AS(tok.encode("hello", WordPieceEncodeOptions{.max_length = 1}), xib::ConfigError);
  CHECK_THROWS_AS(tok.encode_batch(std::vector<std::string>{"a"}, {.max_length = 0}), xib::ConfigError);
  CHECK_THROWS_AS(WordPieceTokenizer(tiny_vocab(), {.max_chars_per_word = 0}), xib::ConfigError);
  CHECK_THROWS_AS(tok.piece(99), xib::UsageError);
  const std::vector<int64_t> bad{5, -1};
  CHECK_THROWS_AS(tok.decode(bad, true), xib::UsageError);
}
