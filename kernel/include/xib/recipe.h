// Recipe kinds: `xib run RECIPE.yaml` reads the recipe's `kind:` and hands the whole recipe to
// the runner registered under that name (kernel built-ins such as `check`, or a plugin's).
// A kind is an option struct plus a function:
//
//   struct TrainOptions { … fields(), validate() … };
//   reg.add<xib::RecipeRunner>("train", xib::recipe_kind<TrainOptions>(&run_train), "train one aligner");
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "xib/config.h"
#include "xib/registry.h"

namespace xib {

class RecipeRunner {
 public:
  static constexpr const char* kKind = "recipe";
  virtual ~RecipeRunner() = default;
  /// The effective recipe: defaults < recipe file < --set (what --dump-config prints).
  virtual YAML::Node effective() const = 0;
  /// Do the work; returns the process exit code (0 ok, 1 failure).
  virtual int run() = 0;
};

/// One file a recipe needs, with what it is and where to get it (`requires:`). Every recipe
/// kind accepts the list; `xib run` checks all of it before the work starts and reports every
/// missing file at once, with its explanation.
///
///   requires:
///     - {path: &llm weights/vicuna-7b-v1.1, about: "Vicuna-7B v1.1, an HF folder (…how to get it…)"}
///   model: {llm: {plugin: llama, path: *llm}}       # a YAML alias keeps the path in one place
struct RequiredFile {
  std::filesystem::path path = {};  ///< relative to the recipe's folder
  std::string about = {};

  template <class V>
  void fields(V& v) {
    v("path", path, "a file or folder the recipe needs (relative to the recipe)");
    v("about", about, "what it is and where to get it (printed when it is missing)");
  }
};

/// NotFoundError listing every missing entry with its `about`, or nothing when all exist.
void check_required_files(const std::vector<RequiredFile>& required, const ConfigSource& source);

namespace recipe_detail {

/// The options of a kind plus the `kind:` key every recipe carries.
template <class Options>
struct WithKind {
  std::string kind;
  std::vector<RequiredFile> required;
  Options options;
  template <class V>
  void fields(V& v) {
    v("kind", kind, "what to do with this recipe");
    v("requires", required, "files the recipe needs, each {path, about}: all checked before the work starts");
    options.fields(v);
  }
  void validate(Validator& v) const {
    if constexpr (config_detail::Validatable<Options>) options.validate(v);
  }
};

template <class Options>
class Runner : public RecipeRunner {
 public:
  using Fn = std::function<int(const Options&, const ConfigSource&)>;
  Runner(const ConfigSection& recipe, Fn fn)
      : source_(recipe.source), bound_(bind<WithKind<Options>>(recipe)), fn_(std::move(fn)) {}
  YAML::Node effective() const override { return to_yaml(bound_); }
  int run() override {
    check_required_files(bound_.required, *source_);
    return fn_(bound_.options, *source_);
  }

 private:
  std::shared_ptr<const ConfigSource> source_;
  WithKind<Options> bound_;
  Fn fn_;
};

}  // namespace recipe_detail

/// A factory for a recipe kind: binds the recipe to `Options` (unknown keys, types and
/// validate() checked) and runs `fn` with it.
template <class Options>
Factory<RecipeRunner> recipe_kind(std::function<int(const Options&, const ConfigSource&)> fn) {
  return [fn](const FactoryArgs& args) -> std::unique_ptr<RecipeRunner> {
    return std::make_unique<recipe_detail::Runner<Options>>(args.options, fn);
  };
}

/// Parse a recipe file, apply --set overrides, and make the runner its `kind:` names.
/// Unknown kinds list the known ones.
std::shared_ptr<RecipeRunner> load_recipe(const std::filesystem::path& file, const std::vector<std::string>& overrides);

}  // namespace xib
