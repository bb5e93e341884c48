// libFuzzer target for the CTranslate2 model reader (xib/io/ctranslate2.h): parse from memory,
// look every variable and alias up, and touch every variable's bytes (so AddressSanitizer sees
// any out-of-range view). Any exception other than xib::Error, and any sanitizer report, is a
// bug. Built and run by `make fuzz` (scripts/fuzz.sh), seeded with tests/io/data/ctranslate2.
#include <cstddef>
#include <cstdint>
#include <span>

#include "xib/error.h"
#include "xib/io/ctranslate2.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  try {
    const auto f = xib::io::Ct2File::from_buffer(bytes, "fuzz.bin");
    unsigned sum = 0;
    for (const auto& r : f.variables()) {
      for (size_t i = 0; i < r.storage_bytes; ++i) sum += static_cast<unsigned>(r.data[i]);
      if (f.find(r.name) != &r) __builtin_trap();  // every variable is found by its name
    }
    for (const auto& [alias, target] : f.aliases()) {
      if (f.find(alias) == nullptr) __builtin_trap();
    }
    (void)xib::io::looks_like_ctranslate2(
        std::string_view(reinterpret_cast<const char*>(data), size < 64 ? size : size_t{64}));
    if (sum == 0xdeadbeef) return 1;
  } catch (const xib::Error&) {
  }
  return 0;
}
