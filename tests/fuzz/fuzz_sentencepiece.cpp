// libFuzzer target for the LLaMA plugin's SentencePiece tokenizer (plugins/llama/text/sp_*.cpp).
// The bytes are used four ways: as a tokenizer.model (the protobuf ModelProto, legacy and not),
// as a GGUF file (tokenizer.ggml.* metadata), as each JSON file of a tokenizer folder
// (tokenizer_config.json, special_tokens_map.json, added_tokens.json) beside the fixture model —
// each loaded, then encoding fixed texts and the bytes, decoding what it encoded and every id,
// and applying the upstream Vicuna setup — and as text (any bytes, invalid UTF-8 included) encoded
// and decoded by the fixture tokenizers plugins/llama/tests/data/sp-vicuna*/, with ids made of the
// bytes decoded. Encoded ids must lie in the vocabulary. Whatever the bytes, the result is a value
// or an xib::Error naming what is wrong; any other exception, a crash or a sanitizer report is a
// bug. Built and run by `make fuzz` (scripts/fuzz.sh), seeded with those folders and
// plugins/llama/tests/data/sp-vicuna*.gguf.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_files.h"
#include "sp_tokenizer.h"
#include "xib/error.h"
#include "xib/io/gguf.h"

namespace {

using xib::fuzz::expect_ok_or_error;
using xib::fuzz::ids_from;
using xib::llama::SpTokenizer;

/// Encode and decode one text; the decodes of what was encoded must not fail.
void exercise(const SpTokenizer& tok, std::string_view text) {
  const auto ids = tok.encode(text, true);
  for (int64_t id : ids)
    if (id < 0 || id >= tok.vocab_size()) std::abort();
  (void)tok.decode(ids, true);
  (void)tok.decode(ids, false);
}

void exercise_loaded(SpTokenizer tok, std::string_view bytes) {
  for (int round = 0; round < 2; ++round) {
    exercise(tok, "Hello  world! <s>USER: what is it?</s>ASSISTANT: naïve 中文 \xF0\x9F\x98\x80 [PAD]");
    exercise(tok, bytes.substr(0, 256));
    for (const auto& t : tok.tokenize(bytes.substr(0, 256))) (void)tok.token_to_id(t);
    std::vector<int64_t> every;
    for (int64_t id = 0; id < tok.vocab_size() && id < 4096; ++id) every.push_back(id);
    (void)tok.decode(every, true);
    (void)tok.decode(every, false);
    expect_ok_or_error([&] { (void)tok.decode(ids_from(bytes, tok.vocab_size()), false); });
    if (round == 0) tok.apply_upstream_vicuna_setup();
  }
}

std::filesystem::path fixture_folder(const std::string& name) {
  return xib::fuzz::fixture("plugins/llama/tests/data/" + name + "/tokenizer.model").parent_path();
}

const std::vector<SpTokenizer>& fixtures() {
  static const std::vector<SpTokenizer> all = [] {
    std::vector<SpTokenizer> v;
    for (const char* name : {"sp-vicuna", "sp-vicuna-nolegacy", "sp-vicuna-upstream"})
      v.push_back(SpTokenizer::from_hf_folder(fixture_folder(name)));
    v.push_back(SpTokenizer::from_gguf(
        xib::io::GgufFile(xib::fuzz::fixture("plugins/llama/tests/data/sp-vicuna-nospace.gguf"))));
    v.push_back(SpTokenizer::from_hf_folder(fixture_folder("sp-vicuna")));
    v.back().apply_upstream_vicuna_setup();
    return v;
  }();
  return all;
}

/// A folder with the fixture tokenizer.model, for the bytes as each of its JSON files.
std::filesystem::path folder(const std::string& name) {
  const auto dir = xib::fuzz::scratch_dir() / name;
  if (!std::filesystem::exists(dir / "tokenizer.model")) {
    std::filesystem::create_directories(dir);
    std::filesystem::copy_file(xib::fuzz::fixture("plugins/llama/tests/data/sp-vicuna/tokenizer.model"),
                               dir / "tokenizer.model");
  }
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // The bytes as a tokenizer.model.
  for (const bool legacy : {true, false}) {
    try {
      exercise_loaded(SpTokenizer::from_serialized(bytes, {.legacy = legacy}, {}, "fuzz", "fuzz"), bytes);
    } catch (const xib::Error&) {
      // Rejected input: expected.
    }
  }
  // The bytes as a GGUF file.
  try {
    const auto gguf = xib::io::GgufFile::from_buffer({reinterpret_cast<const std::byte*>(data), size}, "fuzz");
    exercise_loaded(SpTokenizer::from_gguf(gguf), bytes);
  } catch (const xib::Error&) {
  }
  // The bytes as each JSON file of a tokenizer folder.
  for (const char* json : {"tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"}) {
    try {
      const auto dir = folder(json);
      xib::fuzz::write_scratch(std::string(json) + "/" + json, bytes);
      exercise_loaded(SpTokenizer::from_hf_folder(dir), bytes);
    } catch (const xib::Error&) {
    }
  }
  // The bytes as text (the first 512: the seeds are large files), and as ids, for the fixture
  // tokenizers.
  for (const auto& tok : fixtures()) {
    expect_ok_or_error([&] { exercise(tok, bytes.substr(0, 512)); });
    const auto ids = ids_from(bytes, tok.vocab_size());
    expect_ok_or_error([&] { (void)tok.decode(ids, true); });
    expect_ok_or_error([&] { (void)tok.decode(ids, false); });
  }
  return 0;
}
