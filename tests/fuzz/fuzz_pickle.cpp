// libFuzzer target for the restricted unpickler. Built and run by `make fuzz` (scripts/fuzz.sh),
// seeded with the fixtures (the legacy ones are pickles; each zip's data.pkl is extracted).
#include <cstddef>
#include <cstdint>
#include <span>

#include "xib/error.h"
#include "xib/io/pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  for (const bool strict : {false, true}) {
    try {
      const xib::io::Unpickled u =
          xib::io::unpickle(bytes, {.strict = strict, .max_depth = 200, .max_memo = 4096, .max_elements = 100000});
      (void)u.value.describe();
    } catch (const xib::FormatError&) {
    }
  }
  return 0;
}
