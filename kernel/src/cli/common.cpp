#include <fmt/format.h>

#include <filesystem>

#include "command.h"
#include "xib/error.h"
#include "xib/log.h"
#include "xib/plugin_loader.h"
#include "xib/runtime.h"

namespace xib::cli {

std::string human_bytes(uint64_t bytes) {
  if (bytes < 1000) return fmt::format("{} B", bytes);
  if (bytes < 1000 * 1000) return fmt::format("{:.1f} kB", bytes / 1e3);
  if (bytes < 1000ull * 1000 * 1000) return fmt::format("{:.1f} MB", bytes / 1e6);
  return fmt::format("{:.2f} GB", bytes / 1e9);
}

po::options_description common_options() {
  po::options_description o("Common options");
  o.add_options()("help,h", "show this help")("log-level", po::value<std::string>()->value_name("LEVEL"),
                                              "trace, debug, info, warn, error or off (default: $XIB_LOG or info)")(
      "verbose,v", "same as --log-level debug")("quiet,q", "same as --log-level warn")(
      "threads", po::value<int>()->value_name("N"), "LibTorch threads (default: all available cores)")(
      "plugin-dir", po::value<std::vector<std::string>>()->value_name("DIR")->composing(),
      "also load plugins from DIR (repeatable; searched before $XIB_PLUGIN_PATH)");
  return o;
}

void apply_common_options(const po::variables_map& vm) {
  if (vm.count("verbose")) log::set_level(log::Level::debug);
  if (vm.count("quiet")) log::set_level(log::Level::warn);
  if (vm.count("log-level")) log::set_level(log::parse_level(vm["log-level"].as<std::string>()));
  int threads = 0;
  if (vm.count("threads")) {
    threads = vm["threads"].as<int>();
    const int cores = available_cores();
    if (threads < 1 || threads > cores) {
      throw UsageError({.what = "--threads is out of range",
                        .where = "--threads",
                        .expected = fmt::format("1 to {} (the cores this process may use)", cores),
                        .got = std::to_string(threads),
                        .hint = "leave --threads out to use every available core; more threads than cores only "
                                "slow LibTorch down"});
    }
  }
  set_threads(threads);
}

std::vector<std::filesystem::path> plugin_dirs(const po::variables_map& vm) {
  std::vector<std::filesystem::path> dirs;
  if (vm.count("plugin-dir")) {
    for (const auto& d : vm["plugin-dir"].as<std::vector<std::string>>()) dirs.emplace_back(d);
  }
  return dirs;
}

void load_plugins(const po::variables_map& vm, bool warn_refused) {
  const auto extra = plugin_dirs(vm);
  for (const auto& d : extra) {
    if (!std::filesystem::is_directory(d)) log::warn("--plugin-dir {}: not a folder", d.string());
  }
  auto& loader = PluginLoader::global();
  loader.load_dirs(plugin_search_path(extra));
  for (const auto& s : loader.statuses()) {
    if (warn_refused && !s.loaded) log::warn("plugin {} refused: {}", s.path.filename().string(), s.reason);
  }
}

}  // namespace xib::cli
