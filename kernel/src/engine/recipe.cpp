#include "xib/recipe.h"

namespace xib {

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
