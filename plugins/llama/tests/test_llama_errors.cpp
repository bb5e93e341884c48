// Bad inputs to the llama plugin: every one a clear xib::Error, never a crash. Torch-free (the
// model is used through the LanguageModel interface only).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "llama_config.h"
#include "llama_load.h"
#include "test_skip.h"
#include "test_support.h"
#include "xib/error.h"
#include "xib/generate.h"
#include "xib/model_cache.h"
#include "xib/weights/weight_map.h"

namespace fs = std::filesystem;
using xib::llama::LlamaOptions;
using xib::llama::load_llama;

namespace {

fs::path data_dir() { return xib::test::source_dir() / "plugins/llama/tests/data"; }

/// A copy of a fixture model folder to break.
fs::path copy_model(const xib::test::TempDir& tmp, const std::string& name) {
  const fs::path to = tmp / name;
  fs::copy(data_dir() / name, to, fs::copy_options::recursive);
  return to;
}

void edit_config(const fs::path& dir, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json j;
  {
    std::ifstream in(dir / "config.json");
    j = nlohmann::json::parse(in);
  }
  edit(j);
  std::ofstream(dir / "config.json") << j.dump(2);
}

std::unique_ptr<xib::LanguageModel> load(const fs::path& p) {
  return load_llama(LlamaOptions{.path = p.string(), .tokenizer = false});
}

}  // namespace

TEST_CASE("llama errors: a missing shard names the file") {
  xib::test::TempDir tmp;
  const fs::path dir = copy_model(tmp, "tiny-untied");
  fs::remove(dir / "model-00002-of-00003.safetensors");
  try {
    load(dir);
    FAIL("loading a model with a missing shard succeeded");
  } catch (const xib::Error& e) {
    CHECK(std::string(e.report()).find("model-00002-of-00003.safetensors") != std::string::npos);
  }
}

TEST_CASE("llama errors: a config that does not fit the weights reports every mis-shaped weight at once") {
  xib::test::TempDir tmp;
  const fs::path dir = copy_model(tmp, "tiny-tied");
  edit_config(dir, [](nlohmann::json& j) { j["hidden_size"] = 48; });
  try {
    load(dir);
    FAIL("loading with the wrong hidden size succeeded");
  } catch (const xib::weights::WeightMapError& e) {
    // Every parameter touching the width: embeddings, norms, q/k/v, out, gate/up, down (2 layers).
    CHECK(e.plan().misshaped.size() >= 10);
    CHECK(e.report().find("embed.weight") != std::string::npos);
  }
}

TEST_CASE("llama errors: more or fewer layers than the weights hold: missing and unexpected listed") {
  xib::test::TempDir tmp;
  const fs::path dir = copy_model(tmp, "tiny-untied");
  SUBCASE("config says 4 layers, weights have 3") {
    edit_config(dir, [](nlohmann::json& j) { j["num_hidden_layers"] = 4; });
    try {
      load(dir);
      FAIL("loading succeeded");
    } catch (const xib::weights::WeightMapError& e) {
      CHECK(e.plan().missing.size() == 6);  // layer 3: 2 norms, qkv, out, gate_up, down
      CHECK(e.report().find("layers.3.") != std::string::npos);
    }
  }
  SUBCASE("config says 2 layers, weights have 3") {
    edit_config(dir, [](nlohmann::json& j) { j["num_hidden_layers"] = 2; });
    try {
      load(dir);
      FAIL("loading succeeded");
    } catch (const xib::weights::WeightMapError& e) {
      CHECK(e.plan().unexpected.size() == 9);  // layer 2: 9 upstream tensors
      CHECK(e.report().find("model.layers.2.") != std::string::npos);
    }
  }
}

TEST_CASE("llama errors: an unknown architecture lists the supported ones") {
  xib::test::TempDir tmp;
  const fs::path dir = copy_model(tmp, "tiny-tied");
  edit_config(dir, [](nlohmann::json& j) { j["model_type"] = "gpt_neox"; });
  try {
    load(dir);
    FAIL("loading a gpt_neox config succeeded");
  } catch (const xib::ConfigError& e) {
    CHECK(e.report().find("gpt_neox") != std::string::npos);
    CHECK(e.info().expected.find("llama") != std::string::npos);
  }
}

TEST_CASE("llama errors: unsupported features and inconsistent sizes are config errors") {
  xib::test::TempDir tmp;
  const fs::path dir = copy_model(tmp, "tiny-tied");
  SUBCASE("rope type") {
    edit_config(dir, [](nlohmann::json& j) { j["rope_parameters"]["rope_type"] = "yarn"; });
    CHECK_THROWS_AS(load(dir), xib::ConfigError);
  }
  SUBCASE("attention bias") {
    edit_config(dir, [](nlohmann::json& j) { j["attention_bias"] = true; });
    CHECK_THROWS_AS(load(dir), xib::ConfigError);
  }
  SUBCASE("kv heads not dividing heads") {
    edit_config(dir, [](nlohmann::json& j) { j["num_key_value_heads"] = 3; });
    CHECK_THROWS_AS(load(dir), xib::ConfigError);
  }
  SUBCASE("a missing size") {
    edit_config(dir, [](nlohmann::json& j) { j.erase("vocab_size"); });
    CHECK_THROWS_AS(load(dir), xib::ConfigError);
  }
}

TEST_CASE("llama errors: a prompt longer than the context") {
  xib::test::TempDir tmp;
  const fs::path dir = copy_model(tmp, "tiny-tied");
  edit_config(dir, [](nlohmann::json& j) { j["max_position_embeddings"] = 16; });
  auto lm = load(dir);
  CHECK(lm->context_length() == 16);
  const std::vector<int64_t> prompt(20, 5);
  try {
    xib::greedy_generate_ids(*lm, {prompt}, {.max_new_tokens = 4});
    FAIL("generating past the context succeeded");
  } catch (const xib::UsageError& e) {
    CHECK(e.report().find("context") != std::string::npos);
    CHECK(e.info().expected.find("16") != std::string::npos);
  }
  // A prompt that fits stops at the context's end instead of failing.
  const auto r = xib::greedy_generate_ids(*lm, {std::vector<int64_t>(12, 5)}, {.max_new_tokens = 10});
  CHECK(r.tokens.front().size() <= 4);
  // Ids outside the vocabulary.
  CHECK_THROWS_AS(xib::greedy_generate_ids(*lm, {{5, 600}}, {.max_new_tokens = 1}), xib::UsageError);
}

TEST_CASE("llama errors: paths that are not models") {
  xib::test::TempDir tmp;
  CHECK_THROWS_AS(load(tmp / "no-such-model"), xib::NotFoundError);
  fs::create_directories(tmp / "empty");
  CHECK_THROWS_AS(load(tmp / "empty"), xib::NotFoundError);
  CHECK_THROWS_AS(load(tmp.write("notes.txt", "hello")), xib::FormatError);
  // A model without a tokenizer says so when asked for one.
  auto lm = load(data_dir() / "tiny-tied");
  CHECK_THROWS_AS(lm->tokenizer(), xib::NotFoundError);
  CHECK_THROWS_AS(lm->apply_chat_template({{.role = "user", .content = "hi"}}, true), xib::NotFoundError);
}

TEST_CASE("llama config: generation_config.json's eos ids and the rope parameters are read") {
  const auto c = xib::llama::config_from_hf_folder(data_dir() / "tiny-tied");
  CHECK(c.eos == std::vector<int64_t>{2, 3});
  CHECK(c.pad == 0);
  CHECK(c.tied);
  CHECK(c.rope.type == "llama3");
  CHECK(c.rope_theta == 5000.0);
  CHECK(c.rope.original_context == 64);
  CHECK(c.kv_heads == 2);
}

TEST_CASE("utf8 stream: incomplete sequences are held back until complete") {
  xib::Utf8Stream s;
  const std::string euro = "\xE2\x82\xAC";  // €
  CHECK(s.push("a" + euro.substr(0, 1)) == "a");
  CHECK(s.push(euro.substr(1, 1)).empty());
  CHECK(s.push(euro.substr(2) + "b") == euro + "b");
  CHECK(s.push("\xF0\x9F").empty());
  CHECK(s.flush() == "\xF0\x9F");
}

TEST_CASE("xib generate: streams SmolLM2's answer, and bad models are clear errors") {
  const auto bad = xib::test::run_xib({"generate", "--model", "/no/such/model.gguf", "--prompt", "hi"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("no model at") != std::string::npos);
  const auto no_prompt = xib::test::run_xib({"generate", "--model", "x"});
  CHECK(no_prompt.exit_code == 2);
  if (!xib::ModelCache().find("smollm2-135m-instruct")) {
    return xib::test::skip_missing_model(xib::ModelCache::default_root() / "smollm2-135m-instruct",
                                         "smollm2-135m-instruct");
  }
  const auto r = xib::test::run_xib({"generate", "--model", "smollm2-135m-instruct", "--prompt",
                                     "What is the capital of France?", "--max-new-tokens", "12", "--stats"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("Paris") != std::string::npos);
  CHECK(r.err.find("tokens/s") != std::string::npos);
}
