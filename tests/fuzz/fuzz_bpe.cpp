// libFuzzer target for the LLaMA plugin's byte-level BPE tokenizer (plugins/llama/text/bpe_*.cpp).
// The bytes are used four ways: as a tokenizer.json, as the tokenizer_config.json beside a small
// valid one, as a GGUF file (tokenizer.ggml.* metadata) — each loaded, then encoding fixed texts
// and the bytes and decoding what it encoded — and as text (any bytes, invalid UTF-8 included)
// encoded and decoded by the fixture tokenizers plugins/llama/tests/data/small_*.json, with ids
// made of the bytes decoded. Encoded ids must lie in the vocabulary, and valid UTF-8 must decode
// back to itself. Whatever the bytes, the result is a value or an xib::Error naming what is
// wrong; any other exception, a crash or a sanitizer report is a bug. Built and run by
// `make fuzz` (scripts/fuzz.sh), seeded with the small_*.json fixtures and GGUF files made of them.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpe_tokenizer.h"
#include "fuzz_files.h"
#include "xib/error.h"
#include "xib/io/gguf.h"
#include "xib/text/utf8.h"

namespace {

using xib::fuzz::expect_ok_or_error;
using xib::fuzz::ids_from;
using xib::llama::BpeTokenizer;

/// Encode and decode one text; `round_trip`: valid UTF-8 must decode back to itself.
void exercise(const BpeTokenizer& tok, std::string_view text, bool round_trip) {
  for (const bool special : {true, false}) {
    const auto ids = tok.encode(text, {.add_bos = special, .parse_special = special});
    for (int64_t id : ids)
      if (id < 0 || id >= tok.vocab_size()) std::abort();
    (void)tok.decode(ids, true);
    const std::string back = tok.decode(ids, false);
    if (round_trip && !special && xib::text::is_valid_utf8(text) && back != text) std::abort();
  }
}

void exercise_loaded(const BpeTokenizer& tok, std::string_view bytes) {
  exercise(tok, "Hello world! <|im_start|>user\n12345 naïve 中文 \xF0\x9F\x98\x80 <tool>", false);
  exercise(tok, bytes.substr(0, 256), false);
  expect_ok_or_error([&] { (void)tok.decode(ids_from(bytes, tok.vocab_size()), false); });
}

const BpeTokenizer& fixture(int which) {
  static const BpeTokenizer split =
      BpeTokenizer::from_tokenizer_json(xib::fuzz::fixture("plugins/llama/tests/data/small_split.json"));
  static const BpeTokenizer digits =
      BpeTokenizer::from_tokenizer_json(xib::fuzz::fixture("plugins/llama/tests/data/small_digits.json"));
  return which == 0 ? split : digits;
}

/// A folder with a small valid tokenizer.json, for the bytes as its tokenizer_config.json.
const std::filesystem::path& config_folder() {
  static const std::filesystem::path dir = [] {
    const auto d = xib::fuzz::scratch_dir() / "with_config";
    std::filesystem::create_directories(d);
    xib::fuzz::write_scratch("with_config/tokenizer.json", R"({"model": {"type": "BPE", "merges": ["a b", "<s >"],
        "vocab": {"a": 0, "b": 1, "ab": 2, "<s": 3, ">": 4, "<s>": 5, "</s>": 6}},
        "added_tokens": [{"id": 6, "content": "</s>", "special": true}]})");
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // The bytes as a tokenizer.json.
  try {
    exercise_loaded(BpeTokenizer::from_tokenizer_json(xib::fuzz::write_scratch("tokenizer.json", bytes)), bytes);
  } catch (const xib::Error&) {
    // Rejected input: expected.
  }
  // The bytes as the tokenizer_config.json beside a valid tokenizer.json.
  try {
    const auto dir = config_folder();
    xib::fuzz::write_scratch("with_config/tokenizer_config.json", bytes);
    const auto tok = BpeTokenizer::from_tokenizer_json(dir / "tokenizer.json");
    for (const auto id : {tok.bos_id(), tok.eos_id(), tok.pad_id()})
      if (id && (*id < 0 || *id >= tok.vocab_size())) std::abort();
    exercise_loaded(tok, bytes);
  } catch (const xib::Error&) {
  }
  // The bytes as a GGUF file.
  try {
    const auto gguf = xib::io::GgufFile::from_buffer({reinterpret_cast<const std::byte*>(data), size}, "fuzz");
    exercise_loaded(BpeTokenizer::from_gguf(gguf), bytes);
  } catch (const xib::Error&) {
  }
  // The bytes as text (the first KiB: the seeds are large files), and as ids, for the fixture
  // tokenizers.
  for (const int which : {0, 1}) {
    const auto& tok = fixture(which);
    expect_ok_or_error([&] { exercise(tok, bytes.substr(0, 1024), true); });
    const auto ids = ids_from(bytes, tok.vocab_size());
    expect_ok_or_error([&] { (void)tok.decode(ids, true); });
    expect_ok_or_error([&] { (void)tok.decode(ids, false); });
  }
  return 0;
}
