// libFuzzer target for the image decoders (xib/media/image.h): PNG and JPEG bytes from memory,
// with EXIF orientation applied and a pixel cap low enough that the fuzzer explores headers
// rather than allocations. A decoded image must have the size it says and be readable whole.
// Any exception other than xib::Error, and any sanitizer report, is a bug.
// Built and run by `make fuzz` (scripts/fuzz.sh), seeded with kernel/media/image/tests/data.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "xib/error.h"
#include "xib/media/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const xib::media::Image img =
        xib::media::decode_image(std::span<const uint8_t>(data, size), "fuzz", {.max_pixels = 1 << 20});
    if (img.width <= 0 || img.height <= 0) std::abort();
    if (img.rgb.size() != static_cast<size_t>(img.width) * img.height * 3) std::abort();
    unsigned sum = 0;
    for (uint8_t v : img.rgb) sum += v;
    static volatile unsigned sink;
    sink = sum;
  } catch (const xib::Error&) {
    // Rejected input: expected.
  }
  return 0;
}
