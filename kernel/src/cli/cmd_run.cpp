#include <iostream>

#include "command.h"
#include "xib/config.h"
#include "xib/recipe.h"
#include "xib/registry.h"

namespace xib::cli {

namespace {

int run_recipe(const po::variables_map& vm) {
  if (!vm.count("recipe")) {
    throw UsageError(
        {.what = "no recipe given", .expected = "xib run RECIPE.yaml", .hint = "recipes live in recipes/"});
  }
  load_plugins(vm);  // plugins may provide the recipe's kind and the parts it names
  const std::vector<std::string> sets =
      vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  auto runner = load_recipe(vm["recipe"].as<std::string>(), sets);
  if (vm.count("dump-config")) {
    std::cout << yaml_text(runner->effective());
    return 0;
  }
  return runner->run();
}

}  // namespace

Command run_command() {
  return {
      .name = "run",
      .summary = "run a recipe (train, evaluate, check, …: the recipe's `kind:` decides)",
      .usage = "xib run RECIPE.yaml [--set key.path=value]… [--dump-config]",
      .details =
          "A recipe is YAML. Values come from the option defaults, then the recipe, then each\n"
          "--set in order (later wins). --set takes YAML values: --set run.steps=200,\n"
          "--set data.train=[a.json,b.json]. Relative paths resolve against the recipe's folder.\n"
          "An unknown key is an error naming the nearest valid key. --dump-config prints the\n"
          "effective recipe and exits without running it.",
      .options =
          [](po::options_description& o, po::positional_options_description& p) {
            o.add_options()("recipe", po::value<std::string>()->value_name("RECIPE.yaml"), "the recipe to run")(
                "set", po::value<std::vector<std::string>>()->value_name("KEY=VALUE")->composing(),
                "override a recipe value (repeatable)")("dump-config", "print the effective recipe and exit");
            p.add("recipe", 1);
          },
      .run = run_recipe,
  };
}

}  // namespace xib::cli
