// Recipes → typed options: defaults < recipe < --set, unknown keys with suggestions, types,
// validate(), locations in messages, relative paths, and the effective config.
#include <doctest/doctest.h>

#include "test_support.h"
#include "xib/config.h"

using namespace xib;
namespace fs = std::filesystem;

namespace {

struct AlignerOptions {
  std::string type = "qformer";
  int64_t queries = 32;
  std::optional<std::string> init;
  template <class V>
  void fields(V& v) {
    v("type", type, "qformer or linear");
    v("queries", queries, "learned query tokens");
    v("init", init, "checkpoint to start from");
  }
  void validate(Validator& v) const {
    v.one_of("type", type, {"qformer", "linear"});
    v.require(queries > 0, "queries", "a positive number", queries);
  }
};

struct ModalityOptions {
  fs::path encoder = "encoder.pth";
  AlignerOptions aligner;
  template <class V>
  void fields(V& v) {
    v("encoder", encoder);
    v("aligner", aligner);
  }
};

struct RunOptions {
  int64_t steps = 100;
  double lr = 1e-4;
  bool cache_features = false;
  fs::path out = "runs/default";
  std::vector<std::string> tags;
  template <class V>
  void fields(V& v) {
    v("steps", steps);
    v("lr", lr);
    v("cache_features", cache_features);
    v("out", out);
    v("tags", tags);
  }
  void validate(Validator& v) const {
    v.require(steps > 0, "steps", "a positive number", steps);
    v.require(lr > 0 && lr < 1, "lr", "a learning rate in (0, 1)", lr);
  }
};

struct Needs {
  std::string path;
  template <class V>
  void fields(V& v) {
    v("path", path);
  }
  void validate(Validator& v) const { v.require(!path.empty(), "path", "a path", "nothing"); }
};

struct Outer {
  Needs needs;
  template <class V>
  void fields(V& v) {
    v("needs", needs);
  }
};

struct Recipe {
  std::string kind;
  std::map<std::string, ModalityOptions> modalities;
  RunOptions run;
  ConfigSection plugin_section;  // handed on unparsed
  template <class V>
  void fields(V& v) {
    v("kind", kind);
    v("modalities", modalities);
    v("run", run);
    v("extra", plugin_section);
  }
};

const char* kRecipe = R"(kind: train
modalities:
  image:
    encoder: models/eff.pth
    aligner: {type: qformer, queries: 16}
run:
  steps: 120
  lr: 1e-4
  out: ../runs/x
extra:
  anything: [1, 2]
)";

std::shared_ptr<ConfigSource> source(const std::string& text, const fs::path& dir = "/recipes/mini") {
  return ConfigSource::from_string(text, "recipe.yaml", dir);
}

template <class Fn>
ConfigError config_error(Fn&& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e;
  }
  FAIL("expected a ConfigError");
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("recipe values override defaults, and absent keys keep them") {
  auto src = source(kRecipe);
  const Recipe r = bind<Recipe>(src->section());
  CHECK(r.kind == "train");
  REQUIRE(r.modalities.count("image") == 1);
  CHECK(r.modalities.at("image").aligner.queries == 16);
  CHECK(r.modalities.at("image").aligner.type == "qformer");
  CHECK_FALSE(r.modalities.at("image").aligner.init.has_value());
  CHECK(r.run.steps == 120);
  CHECK(r.run.cache_features == false);  // default kept
  CHECK(r.run.lr == doctest::Approx(1e-4));
  CHECK(r.plugin_section.present());
  CHECK(r.plugin_section.path == "extra");
  CHECK(r.plugin_section.node["anything"].size() == 2);
}

TEST_CASE("relative paths resolve against the recipe's folder, never the current directory") {
  auto src = source(kRecipe, "/data/recipes/mini");
  const Recipe r = bind<Recipe>(src->section());
  CHECK(r.modalities.at("image").encoder == fs::path("/data/recipes/mini/models/eff.pth"));
  CHECK(r.run.out == fs::path("/data/recipes/runs/x"));
  // Relative defaults belong to the recipe as well, set or not, present section or not.
  CHECK(bind<RunOptions>(source("steps: 1", "/data")->section()).out == fs::path("/data/runs/default"));
  CHECK(bind<Recipe>(source("kind: x", "/data")->section()).run.out == fs::path("/data/runs/default"));
  // Absolute paths stay absolute.
  CHECK(bind<RunOptions>(source("out: /abs/out")->section()).out == fs::path("/abs/out"));
}

TEST_CASE("--set overrides the recipe, creates sections, and parses YAML values") {
  auto src = source(kRecipe);
  src->set("run.steps=7");
  src->set("modalities.image.aligner.type=linear");
  src->set("modalities.audio.aligner.queries=8");  // a new section
  src->set("run.tags=[a, b]");
  const Recipe r = bind<Recipe>(src->section());
  CHECK(r.run.steps == 7);
  CHECK(r.modalities.at("image").aligner.type == "linear");
  CHECK(r.modalities.at("image").aligner.queries == 16);  // untouched sibling
  CHECK(r.modalities.at("audio").aligner.queries == 8);
  CHECK(r.modalities.at("audio").encoder == fs::path("/recipes/mini/encoder.pth"));  // default, resolved
  CHECK(r.run.tags == std::vector<std::string>{"a", "b"});
  // Later --set wins.
  src->set("run.steps=9");
  CHECK(bind<Recipe>(src->section()).run.steps == 9);
}

TEST_CASE("--set addresses list elements and rejects malformed assignments") {
  auto src = source("run:\n  tags: [x, y]\n");
  src->set("run.tags.1=z");
  CHECK(bind<Recipe>(src->section()).run.tags == std::vector<std::string>{"x", "z"});
  CHECK_THROWS_AS(src->set("run.tags.5=z"), UsageError);
  // An index beyond any size is the same error, not an overflow.
  CHECK_THROWS_WITH_AS(src->set("run.tags.99999999999999999999999=z"), doctest::Contains("does not exist"), UsageError);
  CHECK_THROWS_AS(src->set("run.steps"), UsageError);     // no '='
  CHECK_THROWS_AS(src->set("=3"), UsageError);            // no key
  CHECK_THROWS_AS(src->set("run..steps=3"), UsageError);  // empty part
  src->set("run.steps=3");
  CHECK_THROWS_AS(src->set("run.steps.deeper=1"), UsageError);  // below a plain value
}

TEST_CASE("an unknown key names the nearest known key, the file, line and column") {
  auto src = source("kind: train\nrun:\n  stpes: 10\n");
  const ConfigError e = config_error([&] { bind<Recipe>(src->section()); });
  CHECK(std::string(e.what()) == "unknown key 'stpes' in section 'run'");
  CHECK(e.info().where == "recipe.yaml:3:3, key run.stpes");
  CHECK(e.info().hint.find("did you mean 'steps'?") != std::string::npos);
  CHECK(e.info().expected.find("cache_features, lr, out, steps, tags") != std::string::npos);
  CHECK(e.exit_code() == 2);
}

TEST_CASE("a key far from every known key lists them instead of guessing") {
  auto src = source("run:\n  completely_unrelated: 1\n");
  const ConfigError e = config_error([&] { bind<Recipe>(src->section()); });
  CHECK(e.info().hint.find("did you mean") == std::string::npos);
  CHECK(e.info().expected.find("steps") != std::string::npos);
}

TEST_CASE("several unknown keys are reported together") {
  auto src = source("run:\n  stpes: 1\n  lrr: 2\n");
  const ConfigError e = config_error([&] { bind<Recipe>(src->section()); });
  REQUIRE(e.info().details.size() == 1);
  CHECK(e.info().details[0].second.find("'lrr'") != std::string::npos);
  CHECK(e.info().details[0].second.find("did you mean 'lr'?") != std::string::npos);
}

TEST_CASE("an unknown key introduced by --set is blamed on the --set") {
  auto src = source(kRecipe);
  src->set("modalities.image.aligner.tpye=linear");
  const ConfigError e = config_error([&] { bind<Recipe>(src->section()); });
  CHECK(e.info().where.find("--set modalities.image.aligner.tpye=linear") == 0);
  CHECK(e.info().hint.find("did you mean 'type'?") != std::string::npos);
}

TEST_CASE("wrong types say what was expected and what was found") {
  auto check = [](const std::string& yaml, const std::string& expected, const std::string& got) {
    auto src = source(yaml);
    const ConfigError e = config_error([&] { bind<RunOptions>(src->section()); });
    CHECK(e.info().expected == expected);
    CHECK(e.info().got == got);
  };
  check("steps: many", "an integer", "'many'");
  check("steps: 1.5", "an integer", "'1.5'");
  check("lr: fast", "a number", "'fast'");
  check("cache_features: maybe", "true or false", "'maybe'");
  check("tags: solo", "a list ([a, b] or '- a' lines)", "'solo'");
  check("steps: [1]", "an integer", "a list");
  // Integral floats are integers; yes/no are booleans.
  auto ok = bind<RunOptions>(source("steps: 1e3\ncache_features: yes\n")->section());
  CHECK(ok.steps == 1000);
  CHECK(ok.cache_features);
}

TEST_CASE("validate() problems are collected into one error with locations") {
  auto src = source("steps: -1\nlr: 5\n");
  const ConfigError e = config_error([&] { bind<RunOptions>(src->section()); });
  CHECK(std::string(e.what()).find("invalid value for 'steps'") == 0);
  CHECK(std::string(e.what()).find("(and 1 more)") != std::string::npos);
  CHECK(e.info().where == "recipe.yaml:1:1, key steps");
  CHECK(e.info().got == "-1");
  REQUIRE(e.info().details.size() == 1);
  CHECK(e.info().details[0].second.find("lr") != std::string::npos);
}

TEST_CASE("one_of suggests the nearest choice") {
  auto src = source("modalities:\n  image:\n    aligner: {type: qfromer}\n");
  const ConfigError e = config_error([&] { bind<Recipe>(src->section()); });
  CHECK(e.info().expected == "one of: qformer, linear");
  CHECK(e.info().hint == "did you mean 'qformer'?");
  CHECK(e.info().where.find("recipe.yaml:3:") == 0);
}

TEST_CASE("absent sections are validated with their defaults") {
  CHECK_THROWS_AS(bind<Outer>(source("{}")->section()), ConfigError);
  CHECK(bind<Outer>(source("needs: {path: a}")->section()).needs.path == "a");
}

TEST_CASE("to_yaml gives back the effective configuration, which binds to the same values") {
  auto src = source(kRecipe);
  src->set("run.steps=5");
  const Recipe r = bind<Recipe>(src->section());
  const YAML::Node eff = to_yaml(r);
  CHECK(eff["run"]["steps"].as<int>() == 5);
  CHECK(eff["run"]["cache_features"].as<bool>() == false);  // defaults appear too
  CHECK(eff["modalities"]["image"]["aligner"]["type"].as<std::string>() == "qformer");
  CHECK(eff["extra"]["anything"].size() == 2);
  // Round trip: the dump is itself a valid recipe with the same meaning.
  auto again = ConfigSource::from_string(yaml_text(eff), "dump.yaml", "/elsewhere");
  const Recipe r2 = bind<Recipe>(again->section());
  CHECK(r2.run.steps == 5);
  CHECK(r2.run.out == r.run.out);  // absolute after the first resolution
  CHECK(r2.modalities.at("image").aligner.queries == 16);
}

TEST_CASE("syntax errors name the file, line and column") {
  try {
    ConfigSource::from_string("run:\n  steps: [1, 2\n", "broken.yaml", "/");
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    CHECK(e.info().where.find("broken.yaml:") == 0);
    CHECK(std::string(e.what()).find("cannot parse YAML") == 0);
  }
  CHECK_THROWS_AS(ConfigSource::from_string("- a\n- b\n", "list.yaml", "/"), ConfigError);
  // Nesting deeper than the parser allows says so (the parser's own words are "bad file").
  const std::string deep = "run: " + std::string(3000, '[') + std::string(3000, ']') + "\n";
  CHECK_THROWS_WITH_AS(ConfigSource::from_string(deep, "deep.yaml", "/"), doctest::Contains("nests too deeply"),
                       ConfigError);
}

TEST_CASE("recipe files: missing file is a usage error — relative paths use the file's folder") {
  test::TempDir dir;
  CHECK_THROWS_AS(ConfigSource::from_file(dir / "nope.yaml"), UsageError);
  // A folder is named as one, with the recipes in it.
  dir.write("recipes/train.yaml", "kind: train\n");
  CHECK_THROWS_WITH_AS(ConfigSource::from_file(dir / "recipes"), doctest::Contains("is a folder"), UsageError);
  try {
    (void)ConfigSource::from_file(dir / "recipes");
  } catch (const UsageError& e) {
    CHECK(e.info().hint.find("train.yaml") != std::string::npos);
  }
  const fs::path file = dir.write("sub/r.yaml", "out: ../o\n");
  auto src = ConfigSource::from_file(file);
  CHECK(bind<RunOptions>(src->section()).out == (dir.path() / "o").lexically_normal());
}

TEST_CASE("nearest_name accepts typos and rejects strangers") {
  const std::vector<std::string> names{"steps", "batch", "lr", "warmup", "cache_features"};
  CHECK(nearest_name("stpes", names) == std::optional<std::string>("steps"));  // transposition
  CHECK(nearest_name("Batch", names) == std::optional<std::string>("batch"));  // case
  CHECK(nearest_name("cache_feature", names) == std::optional<std::string>("cache_features"));
  CHECK_FALSE(nearest_name("epochs", names).has_value());
  CHECK_FALSE(nearest_name("steps", names).has_value());  // an exact match is not a suggestion
}
