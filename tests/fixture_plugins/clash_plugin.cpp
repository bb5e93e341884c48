// Claims the tokenizer name "byte", which fixture_byte already registered: must be refused
// as a whole (its other registration, "byte_upper", must not appear either).
#include "xib/plugin.h"
#include "xib/tokenizer.h"

namespace {
class Nothing : public xib::Tokenizer {
 public:
  std::string name() const override { return "clash"; }
  int64_t vocab_size() const override { return 0; }
  std::vector<int64_t> encode(std::string_view, bool) const override { return {}; }
  std::string decode(std::span<const int64_t>, bool) const override { return {}; }
  std::string piece(int64_t) const override { return {}; }
  std::optional<int64_t> bos_id() const override { return std::nullopt; }
  std::optional<int64_t> eos_id() const override { return std::nullopt; }
  std::optional<int64_t> pad_id() const override { return std::nullopt; }
};
}  // namespace

XIB_PLUGIN_INFO("0.0.1", "test fixture: claims a name another plugin has")

XIB_PLUGIN_INIT(reg) {
  reg.add<xib::Tokenizer>("byte_upper", [](const xib::FactoryArgs&) { return std::make_unique<Nothing>(); });
  reg.add<xib::Tokenizer>("byte", [](const xib::FactoryArgs&) { return std::make_unique<Nothing>(); });
}
