// libFuzzer target for the BERT WordPiece tokenizer (xib/text/wordpiece.h). The bytes are used
// twice: as a vocab.txt (loaded, then encoding fixed texts and the bytes themselves, decoding
// every id) and as text (any bytes, invalid UTF-8 included) encoded, truncated, batched and
// decoded with the fixture vocabulary tests/fuzz/data/wordpiece/vocab.txt, cased and uncased,
// and ids made of the bytes decoded. Encoded ids must lie in the vocabulary. Whatever the
// bytes, the result is a value or an xib::Error naming what is wrong; any other exception, a
// crash or a sanitizer report is a bug. Built and run by `make fuzz` (scripts/fuzz.sh), seeded
// with tests/fuzz/data/wordpiece.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_files.h"
#include "xib/error.h"
#include "xib/text/wordpiece.h"

namespace {

using xib::fuzz::expect_ok_or_error;
using xib::fuzz::ids_from;
using xib::text::TruncationSide;
using xib::text::WordPieceTokenizer;

void check_ids(const WordPieceTokenizer& tok, const std::vector<int64_t>& ids) {
  for (int64_t id : ids)
    if (id < 0 || id >= tok.vocab_size()) std::abort();
}

/// Everything a tokenizer does with one text; the decodes of what it encoded must not fail.
void exercise(const WordPieceTokenizer& tok, std::string_view text) {
  const auto plain = tok.encode(text, false);
  check_ids(tok, plain);
  const auto framed = tok.encode(text, true);
  if (framed.size() != plain.size() + 2 || framed.front() != tok.cls_id() || framed.back() != tok.sep_id() ||
      !std::equal(plain.begin(), plain.end(), framed.begin() + 1))
    std::abort();
  (void)tok.decode(framed, true);
  (void)tok.decode(framed, false);
  const int64_t n = 2 + static_cast<int64_t>(text.size() % 5);
  const auto cut =
      tok.encode(text, {.max_length = n, .truncation = text.size() % 2 ? TruncationSide::left : TruncationSide::right});
  if (static_cast<int64_t>(cut.size()) > n) std::abort();
  check_ids(tok, cut);
  const std::vector<std::string> texts{std::string(text.substr(0, text.size() / 2)), ""};
  const auto batch = tok.encode_batch(texts, {.max_length = 16});
  if (batch.batch != 2 || batch.ids.size() != static_cast<size_t>(batch.batch * batch.length) ||
      batch.attention_mask.size() != batch.ids.size())
    std::abort();
}

const WordPieceTokenizer& fixture(bool lower_case) {
  static const auto path = xib::fuzz::fixture("tests/fuzz/data/wordpiece/vocab.txt");
  static const auto uncased = WordPieceTokenizer::from_vocab_file(path);
  static const auto cased = WordPieceTokenizer::from_vocab_file(
      path, {.lower_case = false, .tokenize_chinese_chars = false, .add_dec_token = false, .max_chars_per_word = 8});
  return lower_case ? uncased : cased;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // The bytes as a vocabulary.
  try {
    const auto file = xib::fuzz::write_scratch("vocab.txt", bytes);
    const auto tok = WordPieceTokenizer::from_vocab_file(file, {.add_dec_token = size % 2 == 0});
    exercise(tok, "Hello, WORLD! [CLS] unaffable naïve 中文 [SEP][DEC]");
    exercise(tok, bytes.substr(0, 512));
    std::vector<int64_t> every;
    for (int64_t id = 0; id < tok.vocab_size() && id < 4096; ++id) every.push_back(id);
    (void)tok.decode(every, true);
    (void)tok.decode(every, false);
  } catch (const xib::Error&) {
    // Rejected input: expected.
  }
  // The bytes as text, and as ids, for the fixture vocabulary.
  for (const bool lower_case : {true, false}) {
    const auto& tok = fixture(lower_case);
    expect_ok_or_error([&] { exercise(tok, bytes); });
    const auto ids = ids_from(bytes, tok.vocab_size());
    expect_ok_or_error([&] { (void)tok.decode(ids, true); });
    expect_ok_or_error([&] { (void)tok.decode(ids, false); });
    expect_ok_or_error([&] { (void)tok.piece(ids.empty() ? -1 : ids.front()); });
  }
  return 0;
}
