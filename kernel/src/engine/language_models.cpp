// Choosing a language model by registry name (xib/language_model.h). Torch-free.
#include <fmt/format.h>

#include "xib/error.h"
#include "xib/language_model.h"
#include "xib/registry.h"

namespace xib {

std::string only_language_model(const std::string& where) {
  const auto known = Registry::global().names<LanguageModel>();
  if (known.size() == 1) return known.front();
  if (known.empty()) {
    throw NotFoundError({.what = "no language model plugin is loaded",
                         .where = where,
                         .expected = "a plugin that provides a language model",
                         .got = "none",
                         .hint = "check `xib plugins` (a refused plugin is listed with its reason)"});
  }
  throw ConfigError({.what = "which language model? several plugins provide one",
                     .where = where,
                     .expected = "plugin: one of " + join_names(known),
                     .got = "no plugin: key",
                     .hint = fmt::format("set {}.plugin", where)});
}

}  // namespace xib
