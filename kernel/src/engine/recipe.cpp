#include "xib/recipe.h"

#include <fmt/format.h>

namespace xib {

void check_required_files(const std::vector<RequiredFile>& required, const ConfigSource& source) {
  std::vector<std::pair<std::string, std::string>> missing;
  for (const auto& r : required) {
    std::error_code ec;
    if (!std::filesystem::exists(r.path, ec)) {
      missing.emplace_back("missing", r.path.string() + (r.about.empty() ? std::string() : " — " + r.about));
    }
  }
  if (missing.empty()) return;
  throw NotFoundError({.what = fmt::format("{} of the {} files this recipe needs {} missing", missing.size(),
                                           required.size(), missing.size() == 1 ? "is" : "are"),
                       .where = source.name() + ": requires",
                       .expected = "every path under requires: present",
                       .got = fmt::format("{} missing (listed below, each with what it is)", missing.size()),
                       .hint = "put the files in place (or point the paths at them with --set); nothing was run",
                       .details = missing});
}

std::shared_ptr<RecipeRunner> load_recipe(const std::filesystem::path& file,
                                          const std::vector<std::string>& overrides) {
  std::shared_ptr<ConfigSource> source = ConfigSource::from_file(file);
  for (const auto& o : overrides) source->set(o);

  const ConfigSection root = source->section();
  const ConfigSection kind_section = root.child("kind");
  const std::vector<std::string> known = Registry::global().names_of(RecipeRunner::kKind);
  if (!kind_section.present()) {
    throw ConfigError({.what = "the recipe does not say what kind it is",
                       .where = source->name(),
                       .expected = "a top-level key 'kind:' with one of: " + join_names(known),
                       .hint = "add e.g. 'kind: check' as the first line"});
  }
  std::string kind;
  config_detail::from_yaml(kind_section, kind);
  if (!Registry::global().find(RecipeRunner::kKind, kind)) {
    ErrorInfo info{.what = "unknown recipe kind '" + kind + "'",
                   .where = kind_section.where(),
                   .expected = "one of: " + join_names(known)};
    if (auto near = nearest_name(kind, known))
      info.hint = "did you mean '" + *near + "'?";
    else
      info.hint = "a plugin may provide it: see `xib plugins`";
    throw ConfigError(std::move(info));
  }
  return Registry::global().create<RecipeRunner>(kind, FactoryArgs{root});
}

}  // namespace xib
