// Its init throws after registering one factory: refused, and nothing it registered remains.
#include <stdexcept>

#include "xib/plugin.h"
#include "xib/recipe.h"

namespace {
struct NoOptions {
  template <class V>
  void fields(V&) {}
};
}  // namespace

XIB_PLUGIN_INFO("0.0.1", "test fixture: init throws")

XIB_PLUGIN_INIT(reg) {
  reg.add<xib::RecipeRunner>("never_registered",
                             xib::recipe_kind<NoOptions>([](const NoOptions&, const xib::ConfigSource&) { return 0; }));
  throw std::runtime_error("fixture init failed on purpose");
}
