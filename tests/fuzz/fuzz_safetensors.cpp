// libFuzzer target for the safetensors reader: parse from memory, touch every tensor's bytes
// (so AddressSanitizer sees any out-of-range view), and round-trip what parsed through the
// writer. Any exception other than xib::Error, and any sanitizer report, is a bug.
// Built and run by `make fuzz` (scripts/fuzz.sh), seeded with tests/io/data/safetensors.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "xib/error.h"
#include "xib/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  try {
    const auto f = xib::io::SafetensorsFile::from_buffer(bytes, "fuzz");
    unsigned sum = 0;
    for (const auto& r : f.records()) {
      if (r.nbytes() != r.storage_bytes) std::abort();
      if (r.nbytes() > 0 && (r.data < bytes.data() || r.data + r.nbytes() > bytes.data() + size)) std::abort();
      for (size_t i = 0; i < r.nbytes(); ++i) sum += static_cast<unsigned>(r.data[i]);
      (void)f.tensor(r.name);
    }
    // What was read must write and read back identically.
    const std::string out = xib::io::serialize_safetensors(f.records(), f.metadata());
    const auto g = xib::io::SafetensorsFile::from_buffer({reinterpret_cast<const std::byte*>(out.data()), out.size()},
                                                         "fuzz-roundtrip");
    if (g.names() != f.names() || g.metadata() != f.metadata()) std::abort();
    for (size_t i = 0; i < g.records().size(); ++i) {
      const auto &a = f.records()[i], &b = g.records()[i];
      if (a.dtype != b.dtype || a.shape != b.shape || a.nbytes() != b.nbytes()) std::abort();
      for (size_t k = 0; k < a.nbytes(); ++k)
        if (a.data[k] != b.data[k]) std::abort();
    }
    static volatile unsigned sink;
    sink = sum;
  } catch (const xib::Error&) {
    // Rejected input: expected.
  }
  return 0;
}
