// The llama plugin's text options (LlamaOptions tokenizer_type, chat_template, vicuna_version,
// upstream_special_tokens) and the tokenizer choice for HF folders and GGUF files, torch-free.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "llama_load.h"
#include "llama_tokenizer.h"
#include "sp_tokenizer.h"
#include "test_support.h"
#include "xib/config.h"
#include "xib/error.h"
#include "xib/io/gguf.h"

using namespace xib::llama;
namespace fs = std::filesystem;

namespace {

fs::path data_dir() { return xib::test::source_dir() / "plugins/llama/tests/data"; }

LlamaOptions bind_yaml(const std::string& yaml) {
  return xib::bind<LlamaOptions>(xib::ConfigSource::from_string(yaml, "recipe.yaml", "/recipes")->section());
}

}  // namespace

TEST_CASE("llama text options: bound from YAML and validated") {
  const auto o = bind_yaml(
      "path: x\ntokenizer_type: sentencepiece\nchat_template: vicuna_v1.1\nvicuna_version: v1.1\n"
      "upstream_special_tokens: true\n");
  CHECK(o.tokenizer_type == "sentencepiece");
  CHECK(o.chat_template == "vicuna_v1.1");
  CHECK(o.vicuna_version == "v1.1");
  CHECK(o.upstream_special_tokens);
  const auto d = bind_yaml("path: x\n");
  CHECK(d.tokenizer_type == "auto");
  CHECK(d.chat_template == "auto");
  CHECK(d.vicuna_version.empty());
  CHECK_FALSE(d.upstream_special_tokens);
  CHECK_THROWS_AS(bind_yaml("path: x\nchat_template: vicuna\n"), xib::ConfigError);
  CHECK_THROWS_AS(bind_yaml("path: x\ntokenizer_type: spm\n"), xib::ConfigError);
  CHECK_THROWS_AS(bind_yaml("path: x\nvicuna_version: v2\n"), xib::ConfigError);
}

TEST_CASE("llama text options: the tokenizer is chosen from the files") {
  // tokenizer.model and no tokenizer.json: SentencePiece.
  auto t = tokenizer_from_hf_folder(data_dir() / "sp-vicuna");
  REQUIRE(t);
  CHECK(dynamic_cast<SpTokenizer*>(t.get()) != nullptr);
  CHECK(t->name() == "sentencepiece:sp-vicuna");
  // GGUF with tokenizer.ggml.model "llama": SentencePiece.
  auto g = tokenizer_from_gguf(xib::io::GgufFile(data_dir() / "sp-vicuna.gguf"));
  REQUIRE(g);
  CHECK(dynamic_cast<SpTokenizer*>(g.get()) != nullptr);
  CHECK(g->encode("Hello world", true) == t->encode("Hello world", true));
  // Neither file: none.
  xib::test::TempDir empty;
  CHECK(tokenizer_from_hf_folder(empty.path()) == nullptr);
}

TEST_CASE("llama text options: load_tokenizer follows tokenizer_type and upstream_special_tokens") {
  LlamaOptions o;
  o.tokenizer_type = "sentencepiece";
  o.upstream_special_tokens = true;
  auto t = load_tokenizer(data_dir() / "sp-vicuna", o);
  REQUIRE(t);
  CHECK(t->bos_id() == 2);
  CHECK(t->eos_id() == 2);
  CHECK(t->pad_id() == 420);
  CHECK(t->vocab_size() == 421);
  auto g = load_tokenizer(data_dir() / "sp-vicuna.gguf", o);
  CHECK(g->pad_id() == 420);
  CHECK(g->encode("x </s> y", true) == t->encode("x </s> y", true));

  o.tokenizer_type = "bpe";
  o.upstream_special_tokens = false;
  CHECK_THROWS_AS(load_tokenizer(data_dir() / "sp-vicuna", o), xib::NotFoundError);

  // upstream_special_tokens on a byte-level BPE: ConfigError.
  xib::test::TempDir bpe;
  fs::copy_file(data_dir() / "small_digits.json", bpe.path() / "tokenizer.json");
  o.tokenizer_type = "auto";
  o.upstream_special_tokens = true;
  CHECK_THROWS_AS(load_tokenizer(bpe.path(), o), xib::ConfigError);
  o.tokenizer_type = "sentencepiece";
  o.upstream_special_tokens = false;
  CHECK_THROWS_AS(load_tokenizer(bpe.path(), o), xib::NotFoundError);  // no tokenizer.model
}

TEST_CASE("llama text options: the Vicuna check on model paths") {
  CHECK(check_vicuna_files(data_dir() / "vicuna-v1.1", "v1.1").empty());
  CHECK(check_vicuna_files(data_dir() / "llama-7b", "").empty());  // not Vicuna, nothing asked
  CHECK_THROWS_AS(check_vicuna_files(data_dir() / "vicuna-v0", "v1.1"), xib::ConfigError);
  CHECK(check_vicuna_files(data_dir() / "vicuna-v0", "").size() == 1);
  // load_llama runs the check before reading any weight (the fixture folders have none).
  CHECK_THROWS_AS(load_llama(LlamaOptions{.path = (data_dir() / "vicuna-v0").string(), .vicuna_version = "v1.1"}),
                  xib::ConfigError);
}
