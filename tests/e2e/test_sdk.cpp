// The plugin SDK end to end, as a researcher outside the tree uses it: install xib
// (cmake --install), scaffold a modality with `xib new-modality` into a folder outside the source
// tree, build it with plain CMake against the installed SDK, run its own test, load it with
// `xib plugins`, and train its aligner for two steps with `xib run`.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "e2e_support.h"
#include "test_support.h"
#include "xib/metrics.h"

namespace fs = std::filesystem;
using namespace xib::test;

namespace {

/// A fresh folder under the system's temporary folder (outside the source and build trees).
struct OutsideDir {
  fs::path path;
  OutsideDir() {
    path = fs::temp_directory_path() / fmt::format("xib-sdk-{}-{}", ::getpid(), std::rand());
    fs::create_directories(path);
  }
  ~OutsideDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string show(const CommandResult& r) { return "exit " + std::to_string(r.exit_code) + "\n" + r.out + r.err; }

}  // namespace

TEST_CASE("sdk: a scaffolded modality built against the installed xib loads and trains") {
  OutsideDir tmp;
  const fs::path build = xib_binary().parent_path().parent_path();
  const fs::path prefix = tmp.path / "prefix";
  REQUIRE(source_dir().string().find(tmp.path.string()) == std::string::npos);

  // 1. Install: headers, libxib_kernel, the media library, the CLI, the plugins, xibConfig.cmake.
  const auto install = run_command({"cmake", "--install", build.string(), "--prefix", prefix.string()});
  REQUIRE_MESSAGE(install.exit_code == 0, show(install));
  const fs::path xib = prefix / "bin" / "xib";
  for (const char* f : {"bin/xib", "include/xib/modality.h", "include/xib/build_info.h", "include/xib/media/image.h",
                        "lib/libxib_kernel.so", "lib/libxib_media_image.so", "lib/cmake/xib/xibConfig.cmake",
                        "lib/cmake/xib/XibPlugin.cmake", "lib/xib/plugins/xib-plugin-llama.so"}) {
    CHECK_MESSAGE(fs::exists(prefix / f), f);
  }

  // 2. Scaffold outside the tree.
  const fs::path mod = tmp.path / "thermal";
  const auto scaffold = run_command({xib.string(), "new-modality", "thermal", "--dir", mod.string()});
  REQUIRE_MESSAGE(scaffold.exit_code == 0, show(scaffold));
  for (const char* f : {"CMakeLists.txt", "README.md", "src/plugin.cpp", "src/thermal_features.cpp",
                        "src/thermal_prompts.cpp", "tests/test_thermal.cpp", "recipes/train.yaml", "data/captions.json",
                        "data/features/0.npy", "system-packages.txt"}) {
    CHECK_MESSAGE(fs::exists(mod / f), f);
  }
  // Writing it again is refused: nothing is overwritten.
  CHECK(run_command({xib.string(), "new-modality", "thermal", "--dir", mod.string()}).exit_code == 2);
  CHECK(run_command({xib.string(), "new-modality", "Bad-Name", "--dir", (tmp.path / "x").string()}).exit_code == 2);

  // 3. Plain CMake against the installed SDK (ccache when there is one).
  std::vector<std::string> configure = {"cmake",
                                        "-S",
                                        mod.string(),
                                        "-B",
                                        (mod / "build").string(),
                                        "-G",
                                        "Ninja",
                                        "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                                        "-DCMAKE_PREFIX_PATH=" + prefix.string()};
  if (run_command({"sh", "-c", "command -v ccache"}).exit_code == 0) {
    configure.push_back("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache");
  }
  const auto configured = run_command(configure);
  REQUIRE_MESSAGE(configured.exit_code == 0, show(configured));
  const auto built = run_command({"cmake", "--build", (mod / "build").string(), "-j", "2"});
  REQUIRE_MESSAGE(built.exit_code == 0, show(built));
  const fs::path plugin = mod / "build" / "xib-plugin-thermal.so";
  REQUIRE(fs::exists(plugin));
  const auto own_test = run_command({(mod / "build" / "test_thermal_modality").string()});
  CHECK_MESSAGE(own_test.exit_code == 0, show(own_test));

  // 4. The installed xib loads it (and its own plugins, not the build tree's).
  const auto listed = run_command({xib.string(), "plugins", "--json", "--plugin-dir", (mod / "build").string()});
  REQUIRE_MESSAGE(listed.exit_code == 0, show(listed));
  bool thermal = false;
  for (const auto& p : nlohmann::json::parse(listed.out)) {
    CHECK_MESSAGE(p["status"] == "loaded", p.dump());
    CHECK_MESSAGE(p["path"].get<std::string>().find(build.string()) == std::string::npos, p.dump());
    if (p["name"] == "thermal") {
      thermal = true;
      const std::string provides = p["provides"].dump();
      CHECK(provides.find("modality:thermal") != std::string::npos);
      CHECK(provides.find("prompts:thermal") != std::string::npos);
    }
  }
  CHECK(thermal);

  // 5. Two training steps of its aligner with `xib run`, against a tiny LLaMA.
  write_tiny_llama(tmp.path / "lm", 7);
  const auto trained = run_command({xib.string(), "run", (mod / "recipes" / "train.yaml").string(), "--plugin-dir",
                                    (mod / "build").string(), "--set", "model.llm.path=" + (tmp.path / "lm").string(),
                                    "--set", "run.steps=2", "--set", "run.warmup_steps=1", "--set", "run.threads=1"});
  REQUIRE_MESSAGE(trained.exit_code == 0, show(trained));
  const auto metrics = xib::read_jsonl(mod / "runs" / "train" / "metrics.jsonl");
  REQUIRE(metrics.size() == 2);
  CHECK(metrics[1]["step"] == 2);
  CHECK(metrics[1]["samples"] == 4);
  CHECK(fs::exists(mod / "runs" / "train" / "checkpoints" / "step-00000002"));
}
