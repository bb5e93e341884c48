#include <fmt/format.h>

#include <algorithm>
#include <iostream>

#include <nlohmann/json.hpp>

#include "command.h"
#include "xib/json_text.h"
#include "xib/plugin_loader.h"

namespace xib::cli {

namespace {

int list_plugins(const po::variables_map& vm) {
  load_plugins(vm, /*warn_refused=*/false);
  const auto& statuses = PluginLoader::global().statuses();
  if (vm.count("json")) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : statuses) {
      out.push_back({{"name", s.name},
                     {"version", s.version},
                     {"abi", s.abi_version},
                     {"path", s.path.string()},
                     {"status", s.loaded ? "loaded" : "refused"},
                     {"reason", s.reason},
                     {"torch", s.torch_version},
                     {"build_id", s.build_id},
                     {"provides", s.provides},
                     {"description", s.description}});
    }
    std::cout << json_text(out, 2) << "\n";
    return 0;
  }
  std::cout << "plugin folders searched:\n";
  for (const auto& d : plugin_search_path(plugin_dirs(vm))) {
    std::cout << "  " << d.string() << "\n";
  }
  if (statuses.empty()) {
    std::cout << "no plugin files (xib-plugin-*.so) found\n";
    return 0;
  }
  size_t name_w = 4, version_w = 7;
  for (const auto& s : statuses) {
    name_w = std::max(name_w, s.name.size());
    version_w = std::max(version_w, s.version.size());
  }
  std::cout << fmt::format("\n{:<{}}  {:<{}}  {:<3}  {:<7}  {}\n", "NAME", name_w, "VERSION", version_w, "ABI",
                           "STATUS", "PATH");
  for (const auto& s : statuses) {
    const std::string name = s.name.empty() ? "?" : s.name;
    const std::string abi = s.abi_version ? std::to_string(s.abi_version) : "?";
    std::cout << fmt::format("{:<{}}  {:<{}}  {:<3}  {:<7}  {}\n", name, name_w, s.version.empty() ? "?" : s.version,
                             version_w, abi, s.loaded ? "loaded" : "refused", s.path.string());
    if (!s.loaded) {
      std::cout << "    reason:   " << s.reason << "\n";
    } else {
      if (!s.description.empty()) std::cout << "    about:    " << s.description << "\n";
      if (!s.provides.empty()) {
        std::string p;
        for (const auto& x : s.provides) p += (p.empty() ? "" : ", ") + x;
        std::cout << "    provides: " << p << "\n";
      }
    }
  }
  return 0;
}

}  // namespace

Command plugins_command() {
  return {
      .name = "plugins",
      .summary = "list plugins found, what they provide, and why any were refused",
      .usage = "xib plugins [--plugin-dir DIR]… [--json]",
      .details =
          "Plugins are files named xib-plugin-<name>.so in: --plugin-dir folders, $XIB_PLUGIN_PATH\n"
          "(':'-separated), the build tree's plugins/ folder, and <prefix>/lib/xib/plugins. Each is\n"
          "checked before it is loaded (info record, plugin ABI, LibTorch version, C++ ABI, init\n"
          "symbol); a refused plugin is listed with its reason and xib carries on without it.",
      .options = [](po::options_description& o,
                    po::positional_options_description&) { o.add_options()("json", "print JSON instead of a table"); },
      .run = list_plugins,
  };
}

}  // namespace xib::cli
