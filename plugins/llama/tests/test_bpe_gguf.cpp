// Byte-level BPE from GGUF metadata (xib::llama::BpeTokenizer::from_gguf): SmolLM2-135M-Instruct's
// tokenizer against llama.cpp (llama-cpp-python, recorded by tools/fixtures/make_bpe_fixtures.py),
// and the errors for GGUF tokenizers xib does not handle. The SmolLM2 cases are skipped, with a
// message, when the model cache lacks the model or the fixture lacks llama.cpp's ids.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpe_tokenizer.h"
#include "chat_template.h"
#include "test_skip.h"
#include "test_support.h"
#include "xib/error.h"
#include "xib/io/gguf.h"
#include "xib/model_cache.h"

using xib::llama::BpeTokenizer;

namespace {

nlohmann::json cases() {
  std::ifstream in(xib::test::source_dir() / "plugins/llama/tests/data/bpe_cases.json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

std::string from_hex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

std::optional<BpeTokenizer> smollm2(const nlohmann::json& fx) {
  const auto file = xib::ModelCache::default_root() / "smollm2-135m-instruct" / "SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!std::filesystem::exists(file)) {
    xib::test::skip_missing_model(file.string(), "smollm2-135m-instruct");
    return std::nullopt;
  }
  if (!fx.contains("smollm2")) {
    FAIL("bpe_cases.json has no llama.cpp ids (run make_bpe_fixtures.py with llama-cpp-python)");
  }
  return BpeTokenizer::from_gguf(file);
}

// A GGUF v3 file with only string metadata and no tensors.
std::vector<std::byte> gguf_with(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::vector<std::byte> out;
  const auto put = [&](const void* p, size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    out.insert(out.end(), b, b + n);
  };
  const auto u32 = [&](uint32_t v) { put(&v, 4); };
  const auto u64 = [&](uint64_t v) { put(&v, 8); };
  const auto str = [&](const std::string& s) {
    u64(s.size());
    put(s.data(), s.size());
  };
  put("GGUF", 4);
  u32(3);
  u64(0);
  u64(kv.size());
  for (const auto& [k, v] : kv) {
    str(k);
    u32(8);  // string
    str(v);
  }
  while (out.size() % 32 != 0) out.push_back(std::byte{0});
  return out;
}

}  // namespace

TEST_CASE("bpe gguf: SmolLM2's tokenizer matches llama.cpp on the text fixture") {
  const auto fx = cases();
  const auto tok = smollm2(fx);
  if (!tok) return;
  CHECK(tok->vocab_size() == 49152);
  CHECK(tok->bos_id() == 1);
  CHECK(tok->eos_id() == 2);
  CHECK(tok->pad_id() == 2);
  CHECK_FALSE(tok->add_bos_by_default());
  std::vector<std::string> all;
  for (const auto& h : fx["texts_hex"]) all.push_back(from_hex(h.get<std::string>()));
  for (const auto& h : fx["invalid_hex"]) all.push_back(from_hex(h.get<std::string>()));
  const auto& want = fx["smollm2"]["ids"];
  REQUIRE(want.size() == all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    CAPTURE(all[i]);
    const auto ids = tok->encode(all[i], false);
    CHECK(ids == want[i].get<std::vector<int64_t>>());
    if (i < fx["texts_hex"].size()) CHECK(tok->decode(ids, false) == all[i]);
  }
}

TEST_CASE("bpe gguf: BOS follows the model's default as llama.cpp's add_special, and specials can be left unparsed") {
  const auto fx = cases();
  const auto tok = smollm2(fx);
  if (!tok) return;
  const auto& s = fx["smollm2"];
  for (size_t i = 0; i < s["ids_add_special"].size(); ++i) {
    const auto text = from_hex(fx["texts_hex"][i].get<std::string>());
    CHECK(tok->encode(text, tok->add_bos_by_default()) == s["ids_add_special"][i].get<std::vector<int64_t>>());
    const auto with_bos = tok->encode(text, true);
    REQUIRE_FALSE(with_bos.empty());
    CHECK(with_bos.front() == 1);
  }
  for (size_t i = 0; i < s["ids_no_special"].size(); ++i) {
    const auto text = from_hex(fx["texts_hex"][20 + i].get<std::string>());
    CHECK(tok->encode(text, xib::llama::BpeEncodeOptions{.parse_special = false}) ==
          s["ids_no_special"][i].get<std::vector<int64_t>>());
  }
}

TEST_CASE("bpe gguf: the ChatML helper renders SmolLM2's chat template for one user message") {
  const auto fx = cases();
  const auto tok = smollm2(fx);
  if (!tok) return;
  const auto& s = fx["smollm2"];
  const auto prompt = xib::llama::chatml_user_prompt(s["chat_user"].get<std::string>());
  CHECK(prompt == s["chat_prompt"].get<std::string>());
  CHECK(tok->encode(prompt, false) == s["chat_prompt_ids"].get<std::vector<int64_t>>());
}

TEST_CASE("bpe gguf: a tokenizer.ggml.model other than gpt2 is a clear error naming it") {
  const auto bytes = gguf_with({{"tokenizer.ggml.model", "llama"}});
  const auto file = xib::io::GgufFile::from_buffer(bytes, "sp.gguf");
  try {
    BpeTokenizer::from_gguf(file);
    FAIL("expected a FormatError");
  } catch (const xib::FormatError& e) {
    CHECK(e.report().find("'llama'") != std::string::npos);
    CHECK(e.report().find("SentencePiece") != std::string::npos);
    CHECK(e.info().where.find("sp.gguf") != std::string::npos);
  }
  const auto none = gguf_with({{"general.name", "x"}});
  CHECK_THROWS_AS(BpeTokenizer::from_gguf(xib::io::GgufFile::from_buffer(none, "none.gguf")), xib::NotFoundError);
}

TEST_CASE("bpe gguf: pre-tokenizer regexes follow llama.cpp, unknown names list the known ones") {
  CHECK(xib::llama::bpe_pre_tokenizer_regexes("smollm").size() == 2);
  CHECK(xib::llama::bpe_pre_tokenizer_regexes("smollm")[0] == "\\p{N}");
  CHECK(xib::llama::bpe_pre_tokenizer_regexes("gpt-2").size() == 1);
  try {
    xib::llama::bpe_pre_tokenizer_regexes("smolm");
    FAIL("expected a NotFoundError");
  } catch (const xib::NotFoundError& e) {
    CHECK(e.info().hint.find("smollm") != std::string::npos);
    CHECK(e.info().expected.find("llama3") != std::string::npos);
  }
}
