// The `xib` executable end to end: help, exit codes, error reports, plugins, models, run.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "xib/plugin.h"
#include "xib/runtime.h"

using namespace xib::test;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

const std::string kFixtureDir = "--plugin-dir=" + fixture_plugin_dir().string();

// A model cache with one complete entry ("tiny") and one without a stamp ("broken").
void write_fake_cache(const TempDir& cache) {
  cache.write("tiny/weights.json", "{\"a\": 1}\n");  // 9 bytes
  cache.write("tiny/xib-model.json", R"({"format": 1, "name": "tiny", "package": "tiny-pkg", "version": "1.0",
    "license": "MIT", "description": "a tiny test model",
    "files": [{"path": "weights.json", "bytes": 9,
               "sha256": "7d5d1d6a8d9d8b7f7e2b2b4c0f2a7e4c7d9e1c3b5a7f9e1d3c5b7a9f1e3d5c7b"}]})");
  cache.write("broken/partial.bin", "x");
}

}  // namespace

TEST_CASE("xib --help lists the commands and exits 0 — no arguments is a usage error") {
  auto r = run_xib({"--help"});
  CHECK(r.exit_code == 0);
  for (const char* cmd : {"version", "plugins", "models", "run"}) CHECK(contains(r.out, std::string("  ") + cmd));
  auto none = run_xib({});
  CHECK(none.exit_code == 2);
  CHECK(contains(none.out, "usage: xib <command>"));
}

TEST_CASE("xib <command> --help explains the command and its options") {
  auto r = run_xib({"run", "--help"});
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "usage: xib run RECIPE.yaml"));
  CHECK(contains(r.out, "--dump-config"));
  CHECK(contains(r.out, "--plugin-dir"));  // common options too
  CHECK(run_xib({"help", "models"}).out == run_xib({"models", "--help"}).out);
}

TEST_CASE("an unknown command or option is a usage error with one clear report") {
  auto r = run_xib({"plugns"});
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "xib: error: unknown command 'plugns'"));
  CHECK(contains(r.err, "did you mean 'xib plugins'?"));
  auto o = run_xib({"models", "--bogus"});
  CHECK(o.exit_code == 2);
  CHECK(contains(o.err, "xib: error: unrecognised option '--bogus'"));
  CHECK(contains(o.err, "hint:"));
  auto l = run_xib({"version", "--log-level", "loud"});
  CHECK(l.exit_code == 2);
  CHECK(contains(l.err, "trace, debug, info, warn, error, off"));
}

TEST_CASE("xib version reports the build, LibTorch, plugin ABI and threads") {
  auto r = run_xib({"version", "--threads", "1"});
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "xib 0."));
  CHECK(contains(r.out, "LibTorch"));
  CHECK(contains(r.out, "plugin ABI   " + std::to_string(xib::kPluginAbiVersion)));
  CHECK(contains(r.out, "threads      1 of"));
}

TEST_CASE("--threads: 0, negative or more than the cores is a usage error naming the range") {
  const std::string cores = std::to_string(xib::available_cores());
  for (const std::string& n :
       std::vector<std::string>{"0", "-3", std::to_string(xib::available_cores() + 1), "100000"}) {
    CAPTURE(n);
    const auto r = run_xib({"version", "--threads", n});
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "--threads is out of range"));
    CHECK(contains(r.err, "1 to " + cores));
  }
  CHECK(run_xib({"version", "--threads", cores}).exit_code == 0);
}

TEST_CASE("xib plugins lists the fixture plugin and every refused file with its reason") {
  auto r = run_xib({"plugins", kFixtureDir});
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "fixture_byte"));
  CHECK(contains(r.out, "provides: tokenizer:byte, recipe:echo"));
  CHECK(contains(r.out, "reason:   built for another plugin ABI"));
  CHECK(contains(r.out, "reason:   not an ELF shared library"));
  CHECK(contains(r.out, "reason:   its init function threw"));

  auto j = run_xib({"plugins", kFixtureDir, "--json"});
  REQUIRE(j.exit_code == 0);
  const auto list = nlohmann::json::parse(j.out);
  // The build tree's own plugins (llama, image, …) are on the search path too: count only the
  // fixture folder's files, and check that the real ones loaded.
  int loaded = 0, refused = 0;
  const std::string fixture_dir = fixture_plugin_dir().string();
  for (const auto& p : list) {
    if (p["path"].get<std::string>().rfind(fixture_dir, 0) != 0) {
      CHECK_MESSAGE(p["status"] == "loaded", p.dump());
      continue;
    }
    if (p["status"] == "loaded") {
      ++loaded;
      CHECK(p["name"] == "fixture_byte");
      CHECK(p["version"] == "1.2.3");
    } else {
      ++refused;
      CHECK_FALSE(p["reason"].get<std::string>().empty());
    }
  }
  CHECK(loaded == 1);
  CHECK(refused == 8);
}

TEST_CASE("xib run dispatches to a plugin's recipe kind — --set and --dump-config work") {
  TempDir dir;
  const fs::path recipe = dir.write("echo.yaml", "kind: echo\nmessage: hello there\nrepeat: 2\n");
  auto r = run_xib({"run", recipe.string(), kFixtureDir});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "hello there\nhello there\n");
  CHECK(contains(r.err, "refused"));  // the refused fixtures are mentioned, and xib carries on

  auto s = run_xib({"run", recipe.string(), kFixtureDir, "--set", "repeat=3", "--set", "message=bye"});
  CHECK(s.out == "bye\nbye\nbye\n");

  auto d = run_xib({"run", recipe.string(), kFixtureDir, "--set", "repeat=3", "--dump-config"});
  CHECK(d.exit_code == 0);
  CHECK(contains(d.out, "kind: echo"));
  CHECK(contains(d.out, "repeat: 3"));
  CHECK(contains(d.out, "message: hello there"));
}

TEST_CASE("a typo in a recipe key exits 2 and names the nearest valid key and the line") {
  TempDir dir;
  const fs::path recipe = dir.write("typo.yaml", "kind: echo\nmesage: hi\n");
  auto r = run_xib({"run", recipe.string(), kFixtureDir});
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "xib: error: unknown key 'mesage'"));
  CHECK(contains(r.err, "typo.yaml:2:1"));
  CHECK(contains(r.err, "did you mean 'message'?"));
  CHECK(r.out.empty());  // nothing ran

  auto v = run_xib({"run", recipe.string(), kFixtureDir, "--set", "mesage=", "--set", "repeat=0"});
  CHECK(v.exit_code == 2);
}

TEST_CASE("a recipe with an unknown or missing kind, or no file, is a usage error") {
  TempDir dir;
  auto unknown = run_xib({"run", dir.write("k.yaml", "kind: trian\n").string()});
  CHECK(unknown.exit_code == 2);
  CHECK(contains(unknown.err, "unknown recipe kind 'trian'"));
  CHECK(contains(unknown.err, "one of: check"));
  auto missing = run_xib({"run", dir.write("m.yaml", "models: [a]\n").string()});
  CHECK(missing.exit_code == 2);
  CHECK(contains(missing.err, "does not say what kind it is"));
  auto nofile = run_xib({"run", (dir / "absent.yaml").string()});
  CHECK(nofile.exit_code == 2);
  CHECK(contains(nofile.err, "recipe not found"));
  auto broken = run_xib({"run", dir.write("b.yaml", "kind: check\nmodels: [a\n").string()});
  CHECK(broken.exit_code == 2);
  CHECK(contains(broken.err, "cannot parse YAML"));
}

TEST_CASE("xib models lists the cache, marks incomplete entries, and --verify checks hashes") {
  TempDir cache;
  const std::string env = "XIB_MODEL_CACHE=" + cache.path().string();
  auto empty = run_xib({"models"}, {env});
  CHECK(empty.exit_code == 0);
  CHECK(contains(empty.out, "empty: run scripts/fetch-models.sh"));

  write_fake_cache(cache);
  auto r = run_xib({"models"}, {env});
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "tiny-pkg==1.0"));
  CHECK(contains(r.out, "weights.json"));
  CHECK(contains(r.out, "json"));  // the sniffed format
  CHECK(contains(r.out, "broken"));
  // The recorded hash above is not the file's: --verify finds it and fails.
  auto v = run_xib({"models", "--verify"}, {env});
  CHECK(v.exit_code == 1);
  CHECK(contains(v.out, "sha256"));
  auto j = run_xib({"models", "--json"}, {env});
  const auto list = nlohmann::json::parse(j.out);
  REQUIRE(list.size() == 2);
  CHECK(list[1]["name"] == "tiny");
  CHECK(list[1]["files"][0]["format"] == "json");
}

TEST_CASE("requires: every recipe kind checks its files first and lists every missing one with its about") {
  TempDir cache, dir;
  write_fake_cache(cache);
  const std::string env = "XIB_MODEL_CACHE=" + cache.path().string();
  dir.write("data/a.txt", "text\n");
  const fs::path recipe = dir.write("r.yaml",
                                    "kind: check\n"
                                    "requires:\n"
                                    "  - {path: &a data/a.txt, about: the present file}\n"
                                    "  - {path: weights/llm, about: an LLM folder from somewhere}\n"
                                    "  - {path: data/b.json, about: annotations}\n"
                                    "files: [*a]\n"
                                    "models: [tiny]\n");
  auto r = run_xib({"run", recipe.string()}, {env});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "2 of the 3 files this recipe needs are missing"));
  CHECK(contains(r.err, (dir.path() / "weights/llm").string() + " — an LLM folder from somewhere"));
  CHECK(contains(r.err, (dir.path() / "data/b.json").string() + " — annotations"));
  CHECK(!contains(r.err, "the present file"));
  CHECK(!contains(r.out, "all present"));  // nothing ran
  dir.write("weights/llm/config.json", "{}");
  dir.write("data/b.json", "[]");
  auto ok = run_xib({"run", recipe.string()}, {env});
  CHECK(ok.exit_code == 0);
  CHECK(contains(ok.out, "all present"));
  auto typo = run_xib({"run", recipe.string(), "--set", "requires.0.abut=x"}, {env});
  CHECK(typo.exit_code == 2);
  CHECK(contains(typo.err, "about"));
}

TEST_CASE("kind: check passes when what it lists is present and fails otherwise") {
  TempDir cache, dir;
  write_fake_cache(cache);
  const std::string env = "XIB_MODEL_CACHE=" + cache.path().string();
  dir.write("data/a.txt", "text\n");
  const fs::path ok = dir.write("ok.yaml", "kind: check\nmodels: [tiny]\nfiles: [data/a.txt]\n");
  auto r = run_xib({"run", ok.string()}, {env});
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "all present"));
  auto bad = run_xib({"run", ok.string(), "--set", "models=[tiny, absent, broken]", "--set", "plugins=[nope]"}, {env});
  CHECK(bad.exit_code == 1);
  CHECK(contains(bad.out, "FAIL  absent"));
  CHECK(contains(bad.out, "FAIL  broken"));
  CHECK(contains(bad.out, "FAIL  nope"));
  CHECK(contains(bad.out, "3 problem(s)"));
  auto nothing = run_xib({"run", dir.write("n.yaml", "kind: check\n").string()}, {env});
  CHECK(nothing.exit_code == 2);
  CHECK(contains(nothing.err, "at least one model, plugin or file"));
}
