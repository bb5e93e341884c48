// `kind: check` — verifies that what a piece of work needs is in place before it starts: model
// cache entries (present, sizes, optionally hashes, and what format each file is), plugins
// (loaded, not refused) and files. Prints one line per item and fails if any is missing.
#include <fmt/format.h>

#include <iostream>

#include "../plugin/builtins.h"
#include "xib/model_cache.h"
#include "xib/plugin_loader.h"
#include "xib/recipe.h"

namespace xib {

namespace {

struct CheckOptions {
  std::string description;
  std::vector<std::string> models;
  bool verify_hashes = false;
  std::vector<std::string> plugins;
  std::vector<std::filesystem::path> files;

  template <class V>
  void fields(V& v) {
    v("description", description, "what this check is for (printed first)");
    v("models", models, "model cache entries that must be present (names as `xib models` lists them)");
    v("verify_hashes", verify_hashes, "re-hash every model file against its recorded sha256");
    v("plugins", plugins, "plugin names that must be loaded");
    v("files", files, "files that must exist (relative to the recipe)");
  }
  void validate(Validator& v) const {
    v.require(!models.empty() || !plugins.empty() || !files.empty(), "models",
              "at least one model, plugin or file to check", "nothing",
              "list what the work needs under models:, plugins: or files:");
  }
};

int run_check(const CheckOptions& o, const ConfigSource& source) {
  int failures = 0;
  auto line = [&](bool ok, const std::string& what, const std::string& detail) {
    if (!ok) ++failures;
    std::cout << fmt::format("  {}  {:<44} {}\n", ok ? "ok  " : "FAIL", what, detail);
  };
  std::cout << "check " << source.name() << (o.description.empty() ? "" : ": " + o.description) << "\n";

  if (!o.models.empty()) {
    const ModelCache cache;
    std::cout << "models in " << cache.root().string() << "\n";
    for (const auto& name : o.models) {
      const auto entry = cache.find(name);
      if (!entry || !entry->problem.empty()) {
        line(false, name, entry ? entry->problem : "not in the cache: run scripts/fetch-models.sh");
        continue;
      }
      const auto issues = cache.verify(*entry, o.verify_hashes);
      uint64_t bytes = 0;
      for (const auto& f : entry->files) bytes += f.bytes;
      line(issues.empty(), name,
           fmt::format("{}=={}, {} file(s), {:.1f} MB{}", entry->package, entry->version, entry->files.size(),
                       bytes / 1e6, o.verify_hashes ? ", sha256 verified" : ""));
      for (const auto& issue : issues) std::cout << fmt::format("        {}: {}\n", issue.file, issue.problem);
      if (issues.empty()) {
        for (const auto& f : entry->files) {
          std::cout << fmt::format("        {:<40} {}\n", f.path, sniff_format(entry->dir / f.path));
        }
      }
    }
  }
  if (!o.plugins.empty()) {
    std::cout << "plugins\n";
    const auto& statuses = PluginLoader::global().statuses();
    for (const auto& name : o.plugins) {
      const PluginStatus* found = nullptr;
      for (const auto& s : statuses) {
        if (s.name == name && (!found || s.loaded)) found = &s;
      }
      if (!found)
        line(false, name, "not found on the plugin path (see `xib plugins`)");
      else
        line(found->loaded, name, found->loaded ? found->version + ", " + found->path.string() : found->reason);
    }
  }
  if (!o.files.empty()) {
    std::cout << "files\n";
    for (const auto& f : o.files) {
      std::error_code ec;
      const bool ok = std::filesystem::is_regular_file(f, ec);
      line(ok, f.filename().string(), ok ? sniff_format(f) : "missing: " + f.string());
    }
  }
  std::cout << (failures ? fmt::format("{} problem(s)\n", failures) : std::string("all present\n"));
  return failures ? 1 : 0;
}

}  // namespace

void register_check_recipe(Registrations& reg) {
  reg.add<RecipeRunner>("check", recipe_kind<CheckOptions>(&run_check),
                        "verify that models, plugins and files a piece of work needs are in place");
}

}  // namespace xib
