// Byte-level BPE from tokenizer.json (xib::llama::BpeTokenizer) against Hugging Face tokenizers:
// two small BPEs trained by tools/fixtures/make_bpe_fixtures.py (plugins/llama/tests/data).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpe_tokenizer.h"
#include "chat_template.h"
#include "test_support.h"
#include "xib/error.h"
#include "xib/text/utf8.h"

using xib::llama::BpeTokenizer;

namespace {

std::filesystem::path data_dir() { return xib::test::source_dir() / "plugins/llama/tests/data"; }

nlohmann::json cases() {
  std::ifstream in(data_dir() / "bpe_cases.json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

std::string from_hex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

std::vector<std::string> texts(const nlohmann::json& fx, const char* key = "texts_hex") {
  std::vector<std::string> out;
  for (const auto& h : fx[key]) out.push_back(from_hex(h.get<std::string>()));
  return out;
}

void check_parity(const char* kind) {
  const auto tok = BpeTokenizer::from_tokenizer_json(data_dir() / (std::string(kind) + ".json"));
  const auto fx = cases();
  const auto& expected = fx[kind];
  CHECK(tok.vocab_size() == expected["vocab_size"].get<int64_t>());
  const auto all = texts(fx);
  REQUIRE(all.size() == expected["ids"].size());
  for (size_t i = 0; i < all.size(); ++i) {
    CAPTURE(all[i]);
    const auto ids = tok.encode(all[i], false);
    CHECK(ids == expected["ids"][i].get<std::vector<int64_t>>());
    CHECK(tok.decode(ids, true) == expected["decoded"][i].get<std::string>());
    CHECK(tok.decode(ids, false) == all[i]);  // byte-level: lossless with the special tokens kept
  }
}

std::filesystem::path write_json(const xib::test::TempDir& dir, const std::string& name, const nlohmann::json& j) {
  return dir.write(name, j.dump());
}

nlohmann::json small_json() {
  std::ifstream in(data_dir() / "small_digits.json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

template <class E>
std::string error_text(const std::filesystem::path& file) {
  try {
    BpeTokenizer::from_tokenizer_json(file);
  } catch (const E& e) {
    return e.report();
  }
  FAIL("expected an error for " << file);
  return {};
}

}  // namespace

TEST_CASE("bpe json: Digits + ByteLevel with string merges matches Hugging Face tokenizers") {
  check_parity("small_digits");
}

TEST_CASE("bpe json: Split regex + ByteLevel with pair merges and ignore_merges matches Hugging Face tokenizers") {
  check_parity("small_split");
}

TEST_CASE("bpe json: special tokens are parsed in the text, or not, and skipped by decode") {
  const auto tok = BpeTokenizer::from_tokenizer_json(data_dir() / "small_digits.json");
  const auto im_start = tok.id_of("<|im_start|>");
  REQUIRE(im_start.has_value());
  const auto ids = tok.encode("<|im_start|>user", false);
  CHECK(ids.front() == *im_start);
  const auto raw = tok.encode("<|im_start|>user", xib::llama::BpeEncodeOptions{.parse_special = false});
  CHECK(raw.size() > ids.size());
  CHECK(tok.decode(raw, true) == "<|im_start|>user");
  CHECK(tok.decode(ids, true) == "user");
  const auto tool = tok.id_of("<tool>");  // added but not special: kept by skip_special
  REQUIRE(tool.has_value());
  CHECK(tok.decode(std::vector<int64_t>{*tool}, true) == "<tool>");
  CHECK(tok.name() == "bpe:data");
  CHECK_FALSE(tok.bos_id().has_value());  // no tokenizer_config.json beside it
  CHECK(tok.encode("x", true) == tok.encode("x", false));
}

TEST_CASE("bpe json: invalid UTF-8 reads as U+FFFD per bad byte, and decode keeps raw bytes") {
  const auto tok = BpeTokenizer::from_tokenizer_json(data_dir() / "small_digits.json");
  CHECK(tok.encode("a\xff"
                   "b",
                   false) == tok.encode("a\xef\xbf\xbd"
                                        "b",
                                        false));
  CHECK(tok.encode("\xe2\x82", false) == tok.encode("\xef\xbf\xbd\xef\xbf\xbd", false));
  // Decoding a prefix of a multi-byte character gives its bytes as they are.
  const auto ids = tok.encode("€", false);
  std::string joined;
  for (int64_t id : ids) joined += tok.decode(std::vector<int64_t>{id}, false);
  CHECK(joined == "€");
  CHECK_THROWS_AS(tok.piece(tok.vocab_size()), xib::UsageError);
}

TEST_CASE("bpe json: GPT-2's byte map is a bijection onto 256 printable characters") {
  std::set<std::string> seen;
  for (int b = 0; b < 256; ++b) {
    const auto& p = xib::llama::byte_to_piece(static_cast<uint8_t>(b));
    seen.insert(p);
    size_t pos = 0;
    CHECK(xib::llama::piece_char_to_byte(xib::text::next_code_point(p, pos)) == b);
  }
  CHECK(seen.size() == 256);
  CHECK(xib::llama::byte_to_piece(' ') == "Ġ");
  CHECK(xib::llama::byte_to_piece('\n') == "Ċ");
  CHECK(xib::llama::byte_to_piece('a') == "a");
  CHECK_FALSE(xib::llama::piece_char_to_byte(U'€').has_value());
}

TEST_CASE("bpe json: malformed tokenizer.json files are clear errors") {
  xib::test::TempDir dir;
  CHECK(error_text<xib::IoError>(dir / "absent.json").find("absent.json") != std::string::npos);
  CHECK(error_text<xib::FormatError>(dir.write("bad.json", "{not json")).find("not valid JSON") != std::string::npos);
  CHECK(error_text<xib::FormatError>(write_json(dir, "nomodel.json", {{"version", "1.0"}})).find("has no model") !=
        std::string::npos);
  auto j = small_json();
  j["model"]["type"] = "WordPiece";
  const auto wp = error_text<xib::FormatError>(write_json(dir, "wp.json", j));
  CHECK(wp.find("'WordPiece'") != std::string::npos);
  CHECK(wp.find("WordPieceTokenizer") != std::string::npos);
  j = small_json();
  j["model"]["merges"].push_back("Ġthe zzzunknown");
  const auto merge = error_text<xib::FormatError>(write_json(dir, "merge.json", j));
  CHECK(merge.find("zzzunknown") != std::string::npos);
  CHECK(merge.find("not in the vocabulary") != std::string::npos);
  j = small_json();
  j["model"]["merges"].push_back("onlyone");
  CHECK(error_text<xib::FormatError>(write_json(dir, "merge1.json", j)).find("malformed BPE merge") !=
        std::string::npos);
  j = small_json();
  j["model"]["merges"].push_back(nlohmann::json::array({"a"}));
  CHECK(error_text<xib::FormatError>(write_json(dir, "merge2.json", j)).find("model.merges[") != std::string::npos);
  j = small_json();
  j["model"].erase("vocab");
  CHECK(error_text<xib::FormatError>(write_json(dir, "novocab.json", j)).find("no vocab") != std::string::npos);
  j = small_json();
  j["pre_tokenizer"] = {{"type", "Whitespace"}};
  CHECK(error_text<xib::FormatError>(write_json(dir, "ws.json", j)).find("'Whitespace'") != std::string::npos);
  j = small_json();
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
  CHECK(error_text<xib::FormatError>(write_json(dir, "prefix.json", j)).find("add_prefix_space") != std::string::npos);
  j = small_json();
  j["pre_tokenizer"] = {
      {"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}, {"invert", false}};
  CHECK(error_text<xib::FormatError>(write_json(dir, "regex.json", j)).find("does not compile") != std::string::npos);
  j = small_json();
  j["normalizer"] = {{"type", "NFC"}};
  CHECK(error_text<xib::FormatError>(write_json(dir, "nfc.json", j)).find("'NFC'") != std::string::npos);
  j = small_json();
  j["model"]["byte_fallback"] = true;
  CHECK(error_text<xib::FormatError>(write_json(dir, "fallback.json", j)).find("byte_fallback") != std::string::npos);
}

TEST_CASE("bpe json: values of the wrong type and ids past the pieces are FormatErrors") {
  // Found by `make fuzz` (bpe): nlohmann type_errors escaped, an id of 2^63 - 1 overflowed and a
  // large one asked for an id → piece table of that size.
  xib::test::TempDir dir;
  const auto wrong_type = [&](const char* name, const char* key, nlohmann::json value) {
    auto j = small_json();
    j["model"][key] = std::move(value);
    return error_text<xib::FormatError>(write_json(dir, name, j));
  };
  CHECK(wrong_type("fallback.json", "byte_fallback", "yes").find("wrong type") != std::string::npos);
  CHECK(wrong_type("ignore.json", "ignore_merges", 1).find("wrong type") != std::string::npos);
  auto j = small_json();
  j["added_tokens"].push_back(5);
  CHECK(error_text<xib::FormatError>(write_json(dir, "added.json", j)).find("malformed added token") !=
        std::string::npos);
  j = small_json();
  j["added_tokens"][0]["special"] = "yes";
  CHECK(error_text<xib::FormatError>(write_json(dir, "special.json", j)).find("wrong type") != std::string::npos);
  j = small_json();
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "a"}}}, {"behavior", 3}};
  CHECK(error_text<xib::FormatError>(write_json(dir, "behavior.json", j)).find("wrong type") != std::string::npos);
  for (const int64_t id : {int64_t{905}, int64_t{100'000'000'000}, std::numeric_limits<int64_t>::max()}) {
    j = small_json();  // 900 vocab entries and 4 added tokens: ids 0 … 903
    j["model"]["vocab"]["zzz"] = id;
    const auto vocab = error_text<xib::FormatError>(write_json(dir, "vocab_id.json", j));
    CHECK(vocab.find("below the number of pieces") != std::string::npos);
    CHECK(vocab.find("0 … 904") != std::string::npos);  // 901 vocab entries now
    j = small_json();
    j["added_tokens"].push_back({{"id", id}, {"content", "<big>"}});
    CHECK(error_text<xib::FormatError>(write_json(dir, "added_id.json", j)).find("0 … 904") != std::string::npos);
  }
}

TEST_CASE("bpe json: tokenizer_config.json beside it gives BOS, EOS and PAD") {
  xib::test::TempDir dir;
  std::filesystem::create_directories(dir / "model");
  std::filesystem::copy_file(data_dir() / "small_digits.json", dir / "model" / "tokenizer.json");
  dir.write(
      "model/tokenizer_config.json",
      R"({"bos_token": "<|im_start|>", "eos_token": {"content": "<|im_end|>"}, "pad_token": "<|endoftext|>", "add_bos_token": true})");
  const auto tok = BpeTokenizer::from_tokenizer_json(dir / "model" / "tokenizer.json");
  CHECK(tok.name() == "bpe:model");
  CHECK(tok.bos_id() == 1);
  CHECK(tok.eos_id() == 2);
  CHECK(tok.pad_id() == 0);
  CHECK(tok.add_bos_by_default());
  CHECK(tok.encode("hi", true).front() == 1);
}

TEST_CASE("bpe json: ChatML prompts as SmolLM2's template renders them") {
  using xib::llama::render_chatml;
  CHECK(xib::llama::chatml_user_prompt("Hi") ==
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  CHECK(render_chatml({{.role = "system", .content = "S"}, {.role = "user", .content = "U"}}, "ignored", false) ==
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n");
  CHECK(render_chatml({{.role = "user", .content = "U"}}, "", true) ==
        "<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n");
  CHECK(render_chatml({}, "sys", true) == "<|im_start|>assistant\n");
}
