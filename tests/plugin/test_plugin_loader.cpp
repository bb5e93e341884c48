// The plugin loader against the fixture plugins (tests/fixture_plugins): the good one loads and
// its objects keep it loaded; every bad one is refused with its own reason and leaves nothing
// behind; hostile files are errors, never crashes.
#include <dlfcn.h>
#include <doctest/doctest.h>
#include <stdlib.h>

#include <cstring>
#include <fstream>

#include "test_support.h"
#include "xib/plugin_loader.h"
#include "xib/recipe.h"
#include "xib/tokenizer.h"

using namespace xib;
namespace fs = std::filesystem;

namespace {

fs::path fixture(const std::string& name) { return test::fixture_plugin_dir() / ("xib-plugin-" + name + ".so"); }

const PluginStatus& status_of(const PluginLoader& loader, const std::string& file_stem) {
  for (const auto& s : loader.statuses()) {
    if (s.path.filename() == "xib-plugin-" + file_stem + ".so") return s;
  }
  FAIL("no status for " << file_stem);
  throw std::logic_error("unreachable");
}

bool library_is_loaded(const fs::path& file) {
  void* h = dlopen(fs::canonical(file).c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (h) dlclose(h);
  return h != nullptr;
}

void copy_truncated(const fs::path& from, const fs::path& to, size_t bytes) {
  const std::string data = test::read_file(from);
  std::ofstream(to, std::ios::binary).write(data.data(), static_cast<std::streamsize>(std::min(bytes, data.size())));
}

}  // namespace

TEST_CASE("the good fixture plugin loads, registers, and its objects work") {
  Registry registry;
  PluginLoader loader(registry);
  const PluginStatus& s = loader.load_file(fixture("fixture_byte"));
  REQUIRE_MESSAGE(s.loaded, s.reason);
  CHECK(s.name == "fixture_byte");
  CHECK(s.version == "1.2.3");
  CHECK(s.abi_version == kPluginAbiVersion);
  CHECK(s.provides == std::vector<std::string>{"tokenizer:byte", "recipe:echo"});
  CHECK(registry.names<Tokenizer>() == std::vector<std::string>{"byte"});
  const RegistryEntry* e = registry.find("tokenizer", "byte");
  REQUIRE(e);
  CHECK(e->provider == "fixture_byte");
  CHECK(e->help == "bytes as ids, BOS 256, EOS 257");

  auto tok = registry.create<Tokenizer>("byte", {});
  const auto ids = tok->encode("hi", true);
  CHECK(ids == std::vector<int64_t>{256, 'h', 'i'});
  CHECK(tok->decode(ids, true) == "hi");
  CHECK(tok->decode(ids, false) == "<s>hi");
}

TEST_CASE("a plugin's library stays loaded while an object it made lives") {
  const fs::path file = fixture("fixture_byte");
  // (Other tests in this process may hold it too; this one checks its own references.)
  std::shared_ptr<Tokenizer> tok;
  {
    auto registry = std::make_unique<Registry>();
    PluginLoader loader(*registry);
    REQUIRE(loader.load_file(file).loaded);
    tok = registry->create<Tokenizer>("byte", {});
  }  // registry and loader gone: only `tok` holds the library now
  CHECK(library_is_loaded(file));
  CHECK(tok->decode(tok->encode("still here", false), true) == "still here");  // code from the library runs
  tok.reset();
  CHECK_FALSE(library_is_loaded(file));
}

TEST_CASE("a plugin-provided recipe kind binds its own options") {
  Registry registry;
  PluginLoader loader(registry);
  REQUIRE(loader.load_file(fixture("fixture_byte")).loaded);
  auto src = ConfigSource::from_string("kind: echo\nmessage: hey\nrepeat: 2\n", "echo.yaml", "/");
  auto runner = registry.create<RecipeRunner>("echo", FactoryArgs{src->section()});
  CHECK(runner->effective()["repeat"].as<int>() == 2);
  auto bad = ConfigSource::from_string("kind: echo\nrepaet: 2\n", "echo.yaml", "/");
  CHECK_THROWS_AS(registry.create<RecipeRunner>("echo", FactoryArgs{bad->section()}), ConfigError);
}

TEST_CASE("each bad fixture is refused with its own reason, and the loader carries on") {
  Registry registry;
  PluginLoader loader(registry);
  loader.load_dirs({test::fixture_plugin_dir()});

  CHECK(status_of(loader, "fixture_byte").loaded);
  struct Case {
    const char* stem;
    std::string reason;
  };
  const Case cases[] = {
      {"fixture_bad_abi", "built for another plugin ABI (expected plugin ABI " + std::to_string(kPluginAbiVersion)},
      {"fixture_bad_torch", "built against another LibTorch"},
      {"fixture_byte_clash", "two providers claim tokenizer 'byte', already registered by fixture_byte"},
      {"fixture_no_info", "no xib plugin info record"},
      {"fixture_no_init", "missing symbol xib_plugin_init"},
      {"fixture_not_a_library", "not an ELF shared library"},
      {"fixture_throwing_init", "its init function threw: fixture init failed on purpose"},
      {"fixture_unresolved", "undefined symbol: xib_fixture_symbol_nobody_defines"},
  };
  for (const auto& c : cases) {
    const PluginStatus& s = status_of(loader, c.stem);
    INFO(c.stem << ": " << s.reason);
    CHECK_FALSE(s.loaded);
    CHECK(s.reason.find(c.reason) != std::string::npos);
    CHECK(s.provides.empty());
  }
  // Refused plugins registered nothing, not even what they added before failing.
  CHECK(registry.names<Tokenizer>() == std::vector<std::string>{"byte"});
  CHECK(registry.names<RecipeRunner>() == std::vector<std::string>{"echo"});
  CHECK(registry.find("tokenizer", "byte_upper") == nullptr);
  CHECK(registry.find("recipe", "never_registered") == nullptr);
  // Files refused on their info record were never loaded (their init would have aborted).
  CHECK_FALSE(library_is_loaded(fixture("fixture_bad_abi")));
  CHECK_FALSE(library_is_loaded(fixture("fixture_bad_torch")));
  CHECK_FALSE(library_is_loaded(fixture("fixture_no_info")));
  // Unknown names point at the refused plugins.
  try {
    registry.create<Tokenizer>("bpe", {});
    FAIL("expected NotFoundError");
  } catch (const NotFoundError& e) {
    CHECK(e.info().expected == "one of: byte");
    REQUIRE(!e.info().details.empty());
    CHECK(e.info().details[0].second.find("xib-plugin-fixture_bad_abi.so") != std::string::npos);
  }
}

TEST_CASE("load_file can throw the refusal, naming the file") {
  Registry registry;
  PluginLoader loader(registry);
  try {
    loader.load_file(fixture("fixture_throwing_init"), /*throw_if_refused=*/true);
    FAIL("expected PluginError");
  } catch (const PluginError& e) {
    CHECK(e.info().where == fs::canonical(fixture("fixture_throwing_init")).string());
  }
  CHECK_THROWS_AS(loader.load_file("/nonexistent/xib-plugin-x.so", true), PluginError);
}

TEST_CASE("the same file is loaded once — the same plugin name from another file is refused") {
  test::TempDir dir;
  Registry registry;
  PluginLoader loader(registry);
  REQUIRE(loader.load_file(fixture("fixture_byte")).loaded);
  loader.load_file(fixture("fixture_byte"));
  CHECK(loader.statuses().size() == 1);

  const fs::path copy = dir / "xib-plugin-fixture_byte.so";
  fs::copy_file(fixture("fixture_byte"), copy);
  const PluginStatus& s = loader.load_file(copy);
  CHECK_FALSE(s.loaded);
  CHECK(s.reason.find("a plugin named 'fixture_byte' is already loaded") != std::string::npos);
}

TEST_CASE("truncated and corrupted files are refused without a crash") {
  test::TempDir dir;
  const fs::path good = fixture("fixture_byte");
  const size_t size = fs::file_size(good);
  for (size_t bytes : {size_t(0), size_t(3), size_t(63), size_t(64), size_t(1000), size / 2, size - 1}) {
    const fs::path f = dir / ("xib-plugin-cut" + std::to_string(bytes) + ".so");
    copy_truncated(good, f, bytes);
    INFO("truncated to " << bytes);
    CHECK_THROWS_AS(read_plugin_info(f), PluginError);
  }
  // Section table offset pointing far past the end.
  std::string data = test::read_file(good);
  const uint64_t huge = ~uint64_t(0) - 10;
  std::memcpy(&data[40], &huge, 8);
  const fs::path bad = dir / "xib-plugin-bad_shoff.so";
  std::ofstream(bad, std::ios::binary) << data;
  CHECK_THROWS_WITH_AS(read_plugin_info(bad), doctest::Contains("section table past the end"), PluginError);
  // A (position-independent) executable is an ELF shared object, but carries no info record.
  CHECK_THROWS_WITH_AS(read_plugin_info(test::xib_binary()), doctest::Contains("no xib plugin info record"),
                       PluginError);

  Registry registry;
  PluginLoader loader(registry);
  loader.load_dirs({dir.path()});
  for (const auto& s : loader.statuses()) CHECK_FALSE(s.loaded);
  CHECK(registry.names_of("tokenizer").empty());
}

TEST_CASE("the search path: --plugin-dir first, then XIB_PLUGIN_PATH, existing folders once") {
  test::TempDir a, b;
  setenv("XIB_PLUGIN_PATH", (b.path().string() + ":/does/not/exist::" + a.path().string()).c_str(), 1);
  const auto dirs = plugin_search_path({a.path(), "/also/missing"});
  unsetenv("XIB_PLUGIN_PATH");
  REQUIRE(dirs.size() >= 2);
  CHECK(dirs[0] == fs::canonical(a.path()));
  CHECK(dirs[1] == fs::canonical(b.path()));
  CHECK(std::count(dirs.begin(), dirs.end(), fs::canonical(a.path())) == 1);
  for (const auto& d : dirs) CHECK(fs::is_directory(d));
}

TEST_CASE("only xib-plugin-*.so files are considered") {
  CHECK(looks_like_plugin_file("/x/xib-plugin-image.so"));
  CHECK_FALSE(looks_like_plugin_file("/x/libxib_kernel.so"));
  CHECK_FALSE(looks_like_plugin_file("/x/xib-plugin-image.so.bak"));
  CHECK_FALSE(looks_like_plugin_file("/x/notes.txt"));
}
