// Vicuna version detection and check (vicuna_version.h) on the config-only fixture folders
// plugins/llama/tests/data/{vicuna-v0, vicuna-v1.1, vicuna-v1.5, llama-7b} (see vicuna-README.md).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "vicuna_version.h"
#include "xib/error.h"
#include "xib/io/gguf.h"

using namespace xib::llama;
namespace fs = std::filesystem;

namespace {

fs::path data_dir() { return xib::test::source_dir() / "plugins/llama/tests/data"; }

VicunaDetection detect(const fs::path& dir) { return detect_vicuna_version(vicuna_facts_from_hf_folder(dir)); }

/// `folder`'s files copied under a neutral name (no name signal), `edit` applied to config.json.
fs::path neutral_copy(const xib::test::TempDir& tmp, const std::string& folder,
                      const std::function<void(nlohmann::json&)>& edit = {}) {
  static int n = 0;
  const fs::path dst = tmp.path() / ("model" + std::to_string(n++));
  fs::create_directories(dst);
  for (const auto& e : fs::directory_iterator(data_dir() / folder)) fs::copy_file(e.path(), dst / e.path().filename());
  if (edit) {
    nlohmann::json cfg = nlohmann::json::parse(xib::test::read_file(dst / "config.json"));
    edit(cfg);
    std::ofstream(dst / "config.json") << cfg.dump(2);
  }
  return dst;
}

}  // namespace

TEST_CASE("vicuna: each fixture folder is detected") {
  CHECK(detect(data_dir() / "vicuna-v0").version == VicunaVersion::v0);
  CHECK(detect(data_dir() / "vicuna-v1.1").version == VicunaVersion::v1_1);
  CHECK(detect(data_dir() / "vicuna-v1.5").version == VicunaVersion::v1_5);
  const auto llama = detect(data_dir() / "llama-7b");
  CHECK(llama.version == VicunaVersion::llama);
  CHECK_FALSE(llama.vicuna);
}

TEST_CASE("vicuna: the signals without a name") {
  xib::test::TempDir tmp;
  SUBCASE("v0 from its 32001-row embeddings alone") {
    const auto d = detect(neutral_copy(tmp, "vicuna-v0"));
    CHECK(d.version == VicunaVersion::v0);
    CHECK(d.vicuna);
  }
  SUBCASE("32001 with an added [PAD] = 32000 is not taken for v0") {
    const auto dir = neutral_copy(tmp, "vicuna-v0");
    std::ofstream(dir / "added_tokens.json") << R"({"[PAD]": 32000})";
    CHECK(detect(dir).version != VicunaVersion::v0);
  }
  SUBCASE("v1.1 files without a name look like plain LLaMA; a Vicuna name without version is v1") {
    CHECK(detect(neutral_copy(tmp, "vicuna-v1.1")).version == VicunaVersion::llama);
    const auto dir = neutral_copy(tmp, "vicuna-v1.1", [](nlohmann::json& c) { c["_name_or_path"] = "my-vicuna-7b"; });
    CHECK(detect(dir).version == VicunaVersion::v1);
  }
  SUBCASE("a Vicuna with a 4096 context is v1.5") {
    const auto dir = neutral_copy(tmp, "vicuna-v1.5", [](nlohmann::json& c) { c["_name_or_path"] = "vicuna"; });
    CHECK(detect(dir).version == VicunaVersion::v1_5);
  }
  SUBCASE("a '### Human' chat template is v0") {
    VicunaFacts f;
    f.chat_template = "{% for m in messages %}### Human: {{ m.content }}\n### Assistant:{% endfor %}";
    CHECK(detect_vicuna_version(f).version == VicunaVersion::v0);
  }
  SUBCASE("names: delta-v0, v1-1, v1_3") {
    for (const auto& [name, v] :
         std::vector<std::pair<std::string, VicunaVersion>>{{"lmsys/vicuna-7b-delta-v0", VicunaVersion::v0},
                                                            {"vicuna-13b-v1-1", VicunaVersion::v1_1},
                                                            {"Vicuna_7B_v1_3", VicunaVersion::v1_3},
                                                            {"vicuna-7b-v0.1-something", VicunaVersion::v1}}) {
      CAPTURE(name);
      CHECK(detect_vicuna_version(VicunaFacts{.names = {name}, .vocab = 32000}).version == v);
    }
  }
}

TEST_CASE("vicuna: a name that contradicts the files: the files win") {
  xib::test::TempDir tmp;
  const auto dir = neutral_copy(tmp, "vicuna-v0", [](nlohmann::json& c) { c["_name_or_path"] = "vicuna-7b-v1.1"; });
  const auto d = detect(dir);
  CHECK(d.version == VicunaVersion::v0);
  CHECK(d.signals.back().find("contradict") != std::string::npos);
}

TEST_CASE("vicuna: the check against the recipe's version") {
  const auto v0 = detect(data_dir() / "vicuna-v0");
  const auto v11 = detect(data_dir() / "vicuna-v1.1");
  CHECK(check_vicuna_version(v11, "v1.1", "m").empty());
  CHECK(check_vicuna_version(v11, "", "m").empty());
  SUBCASE("v0 given for v1.1: ConfigError saying what to get") {
    try {
      check_vicuna_version(v0, "v1.1", "m");
      FAIL("no error");
    } catch (const xib::ConfigError& e) {
      const std::string msg = e.report();
      CHECK(msg.find("Vicuna v0") != std::string::npos);
      CHECK(msg.find("32001") != std::string::npos);
      CHECK(msg.find("lmsys/vicuna-7b-v1.1") != std::string::npos);
    }
  }
  SUBCASE("v1.5 and plain LLaMA given for v1.1") {
    CHECK_THROWS_AS(check_vicuna_version(detect(data_dir() / "vicuna-v1.5"), "v1.1", "m"), xib::ConfigError);
    CHECK_THROWS_AS(check_vicuna_version(detect(data_dir() / "llama-7b"), "v1.1", "m"), xib::ConfigError);
    CHECK(check_vicuna_version(detect(data_dir() / "llama-7b"), "llama", "m").empty());
  }
  SUBCASE("v0 without an expected version: a warning") {
    const auto w = check_vicuna_version(v0, "", "m");
    REQUIRE(w.size() == 1);
    CHECK(w[0].find("gibberish") != std::string::npos);
  }
  SUBCASE("v1 (v1.1 or v1.3) passes for either, with a warning") {
    const VicunaDetection v1{.version = VicunaVersion::v1, .vicuna = true};
    CHECK(check_vicuna_version(v1, "v1.1", "m").size() == 1);
    CHECK(check_vicuna_version(v1, "v1.3", "m").size() == 1);
    CHECK_THROWS_AS(check_vicuna_version(v1, "v0", "m"), xib::ConfigError);
  }
  SUBCASE("unknown: a warning, not an error") {
    CHECK(check_vicuna_version(VicunaDetection{}, "v1.1", "m").size() == 1);
  }
  SUBCASE("an unknown version name") {
    CHECK_THROWS_AS(check_vicuna_version(v11, "v1.2", "m"), xib::ConfigError);
    CHECK_THROWS_AS(check_vicuna_version(v11, "1.1", "m"), xib::ConfigError);
  }
}

TEST_CASE("vicuna: broken conversions are warned about") {
  xib::test::TempDir tmp;
  const auto dir = neutral_copy(tmp, "vicuna-v1.1", [](nlohmann::json& c) {
    c["bos_token_id"] = 0;
    c["eos_token_id"] = 1;
  });
  std::ofstream(dir / "special_tokens_map.json") << R"({"bos_token": "", "eos_token": "", "unk_token": ""})";
  const auto d = detect(dir);
  CHECK(d.warnings.size() == 4);  // three blank tokens + the old bos/eos ids
  CHECK(check_vicuna_version(d, "llama", "m").size() == 4);
}

TEST_CASE("vicuna: facts from GGUF metadata and bad files") {
  const auto f = vicuna_facts_from_gguf(xib::io::GgufFile(data_dir() / "sp-vicuna.gguf"));
  CHECK(f.vocab == 420);
  const auto d = detect_vicuna_version(f);
  CHECK(d.vicuna);  // the file name says vicuna, no version
  CHECK(d.version == VicunaVersion::v1);
  xib::test::TempDir tmp;
  std::ofstream(tmp.path() / "config.json") << "{broken";
  CHECK_THROWS_AS(vicuna_facts_from_hf_folder(tmp.path()), xib::FormatError);
}
