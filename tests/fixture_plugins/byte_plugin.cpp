// The good fixture plugin: a byte-level tokenizer ("byte") and a recipe kind ("echo"), enough
// to show registration, creation through the registry, and plugin-provided recipe kinds.
#include <iostream>

#include "xib/plugin.h"
#include "xib/recipe.h"
#include "xib/tokenizer.h"

namespace {

// Ids 0–255 are bytes; 256 is BOS, 257 EOS.
class ByteTokenizer : public xib::Tokenizer {
 public:
  std::string name() const override { return "byte"; }
  int64_t vocab_size() const override { return 258; }
  std::vector<int64_t> encode(std::string_view text, bool add_bos) const override {
    std::vector<int64_t> ids;
    if (add_bos) ids.push_back(256);
    for (unsigned char c : text) ids.push_back(c);
    return ids;
  }
  std::string decode(std::span<const int64_t> ids, bool skip_special) const override {
    std::string out;
    for (int64_t id : ids) {
      if (id < 256)
        out += static_cast<char>(id);
      else if (!skip_special)
        out += id == 256 ? "<s>" : "</s>";
    }
    return out;
  }
  std::string piece(int64_t id) const override { return decode(std::span<const int64_t>(&id, 1), false); }
  std::optional<int64_t> bos_id() const override { return 256; }
  std::optional<int64_t> eos_id() const override { return 257; }
  std::optional<int64_t> pad_id() const override { return std::nullopt; }
};

struct EchoOptions {
  std::string message = "hello";
  int64_t repeat = 1;
  template <class V>
  void fields(V& v) {
    v("message", message, "text to print");
    v("repeat", repeat, "how many times");
  }
  void validate(xib::Validator& v) const { v.require(repeat >= 1 && repeat <= 100, "repeat", "1 to 100", repeat); }
};

int run_echo(const EchoOptions& o, const xib::ConfigSource&) {
  for (int64_t i = 0; i < o.repeat; ++i) std::cout << o.message << "\n";
  return 0;
}

}  // namespace

XIB_PLUGIN_INFO("1.2.3", "test fixture: a byte tokenizer and an 'echo' recipe kind")

XIB_PLUGIN_INIT(reg) {
  reg.add<xib::Tokenizer>(
      "byte", [](const xib::FactoryArgs&) { return std::make_unique<ByteTokenizer>(); },
      "bytes as ids, BOS 256, EOS 257");
  reg.add<xib::RecipeRunner>("echo", xib::recipe_kind<EchoOptions>(&run_echo), "print a message");
}
