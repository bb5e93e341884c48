// The registry on its own: typed factories, all-or-nothing commits, unknown-name messages.
#include <doctest/doctest.h>

#include "xib/recipe.h"
#include "xib/registry.h"
#include "xib/tokenizer.h"

using namespace xib;

namespace {

class Fixed : public Tokenizer {
 public:
  explicit Fixed(std::string n) : n_(std::move(n)) {}
  std::string name() const override { return n_; }
  int64_t vocab_size() const override { return 1; }
  std::vector<int64_t> encode(std::string_view, bool) const override { return {0}; }
  std::string decode(std::span<const int64_t>, bool) const override { return n_; }
  std::string piece(int64_t) const override { return n_; }
  std::optional<int64_t> bos_id() const override { return std::nullopt; }
  std::optional<int64_t> eos_id() const override { return std::nullopt; }
  std::optional<int64_t> pad_id() const override { return std::nullopt; }

 private:
  std::string n_;
};

Factory<Tokenizer> fixed(const std::string& n) {
  return [n](const FactoryArgs&) { return std::make_unique<Fixed>(n); };
}

}  // namespace

TEST_CASE("factories are created by kind and name and see their options") {
  Registry r;
  Registrations regs;
  regs.add<Tokenizer>("alpha", fixed("A"), "first");
  regs.add<Tokenizer>("beta", [](const FactoryArgs& a) {
    return std::make_unique<Fixed>(a.options.present() ? a.options.node["label"].as<std::string>() : "none");
  });
  r.commit(std::move(regs.entries()));
  CHECK(r.names<Tokenizer>() == std::vector<std::string>{"alpha", "beta"});
  CHECK(r.contains<Tokenizer>("alpha"));
  CHECK_FALSE(r.contains<RecipeRunner>("alpha"));  // kinds are separate namespaces
  CHECK(r.create<Tokenizer>("alpha", {})->name() == "A");
  auto src = ConfigSource::from_string("label: from-recipe", "t.yaml", "/");
  CHECK(r.create<Tokenizer>("beta", FactoryArgs{src->section()})->name() == "from-recipe");
  CHECK(r.create<Tokenizer>("beta", {})->name() == "none");
}

TEST_CASE("a commit with a clash adds nothing, whether the clash is old or within the batch") {
  Registry r;
  Registrations first;
  first.add<Tokenizer>("alpha", fixed("A"));
  r.commit(std::move(first.entries()));

  Registrations clash_old;
  clash_old.add<Tokenizer>("gamma", fixed("G"));
  clash_old.add<Tokenizer>("alpha", fixed("A2"));
  CHECK_THROWS_AS(r.commit(std::move(clash_old.entries())), PluginError);
  CHECK_FALSE(r.contains<Tokenizer>("gamma"));

  Registrations clash_self;
  clash_self.add<Tokenizer>("delta", fixed("D"));
  clash_self.add<Tokenizer>("delta", fixed("D2"));
  CHECK_THROWS_AS(r.commit(std::move(clash_self.entries())), PluginError);
  CHECK(r.names<Tokenizer>() == std::vector<std::string>{"alpha"});
  CHECK(r.create<Tokenizer>("alpha", {})->name() == "A");
}

TEST_CASE("an unknown name lists the known ones and suggests the nearest") {
  Registry r;
  Registrations regs;
  regs.add<Tokenizer>("wordpiece", fixed("W"));
  regs.add<Tokenizer>("sentencepiece", fixed("S"));
  r.commit(std::move(regs.entries()));
  try {
    r.create<Tokenizer>("wordpeice", {});
    FAIL("expected NotFoundError");
  } catch (const NotFoundError& e) {
    CHECK(std::string(e.what()) == "unknown tokenizer 'wordpeice'");
    CHECK(e.info().expected == "one of: sentencepiece, wordpiece");
    CHECK(e.info().hint == "did you mean 'wordpiece'?");
    CHECK(e.exit_code() == 1);
  }
}

TEST_CASE("the global registry holds the kernel's built-in recipe kinds") {
  const RegistryEntry* check = Registry::global().find("recipe", "check");
  REQUIRE(check);
  CHECK(check->provider == "kernel");
  CHECK_FALSE(check->help.empty());
}
