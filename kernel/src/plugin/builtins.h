// Factories the kernel itself provides (registered into Registry::global() on first use).
#pragma once

#include <vector>

#include "xib/registry.h"

namespace xib {

std::vector<RegistryEntry> builtin_registrations();

// One function per built-in area, each defined beside what it registers.
void register_check_recipe(Registrations& reg);
void register_aligners(Registrations& reg);      // kernel/src/aligners/register_aligners.cpp
void register_train_recipe(Registrations& reg);  // kernel/src/train/train_recipe.cpp
void register_eval_recipe(Registrations& reg);   // kernel/src/eval/eval_recipe.cpp

}  // namespace xib
