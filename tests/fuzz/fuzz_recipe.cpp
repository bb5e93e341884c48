// libFuzzer target for recipes: YAML text → ConfigSource → the typed options of a training run
// (every key checked, validate() run) and --set assignments made of the same bytes. Whatever the
// bytes, the result is options or an xib::Error naming what is wrong; any other exception, a
// crash or a sanitizer report is a bug. Built and run by `make fuzz` (scripts/fuzz.sh), seeded
// with recipes/.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "xib/config.h"
#include "xib/error.h"

namespace {

/// A stand-in for a recipe section with every value kind the options use.
struct Section {
  int64_t steps = 10;
  double lr = 1e-3;
  bool flag = false;
  std::string name = "x";
  std::vector<double> mean = {};
  std::vector<std::string> tags = {};

  template <class V>
  void fields(V& v) {
    v("steps", steps, "an integer");
    v("lr", lr, "a number");
    v("flag", flag, "a boolean");
    v("name", name, "text");
    v("mean", mean, "numbers");
    v("tags", tags, "texts");
  }
  void validate(xib::Validator& v) const {
    v.require(steps > 0, "steps", "a positive number", steps);
    v.require(lr > 0, "lr", "a positive number", lr);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto src = xib::ConfigSource::from_string(text, "fuzz.yaml", "/");
    (void)xib::bind<Section>(src->section("run"));
    (void)xib::yaml_text(xib::to_yaml(xib::bind<Section>(src->section("run"))));
  } catch (const xib::Error&) {
  }
  try {
    auto src = xib::ConfigSource::from_string("run: {steps: 3}\n", "fuzz.yaml", "/");
    src->set(text.substr(0, 200));
    (void)xib::bind<Section>(src->section("run"));
  } catch (const xib::Error&) {
  }
  return 0;
}
