#include "builtins.h"

namespace xib {

std::vector<RegistryEntry> builtin_registrations() {
  Registrations reg;
  register_check_recipe(reg);
  register_aligners(reg);
  register_train_recipe(reg);
  register_eval_recipe(reg);
  return std::move(reg.entries());
}

}  // namespace xib
