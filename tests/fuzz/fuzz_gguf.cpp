// libFuzzer target for the GGUF reader: parse from memory, read every metadata value through
// the typed getters, touch every tensor's bytes (so AddressSanitizer sees any out-of-range
// view) and dequantise what can be dequantised. Any exception other than xib::Error, and any
// sanitizer report, is a bug. Built and run by `make fuzz` (scripts/fuzz.sh), seeded with
// tests/io/data/gguf.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "fuzz_files.h"
#include "xib/error.h"
#include "xib/io/gguf.h"

namespace {

unsigned walk(const xib::io::GgufValue& v) {
  unsigned sum = static_cast<unsigned>(v.render().size());
  if (const auto* a = v.as_array())
    for (const auto& e : *a) sum += walk(e);
  if (const auto i = v.as_int()) sum += static_cast<unsigned>(*i);
  if (const auto d = v.as_float()) sum += *d > 0 ? 1u : 0u;
  return sum;
}

using xib::fuzz::expect_ok_or_error;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  try {
    const auto f = xib::io::GgufFile::from_buffer(bytes, "fuzz");
    unsigned sum = 0;
    for (const auto& k : f.keys()) {
      sum += walk(f.get(k));
      expect_ok_or_error([&] { sum += static_cast<unsigned>(f.get_string_array(k).size()); });
      expect_ok_or_error([&] { sum += static_cast<unsigned>(f.get_int_array(k).size()); });
      expect_ok_or_error([&] { sum += static_cast<unsigned>(f.get_float_array(k).size()); });
      expect_ok_or_error([&] { sum += f.get_u32(k); });
      expect_ok_or_error([&] { sum += f.get_float(k) > 0 ? 1u : 0u; });
    }
    for (const auto& t : f.tensors()) {
      if (t.nbytes > 0 && (t.data < bytes.data() || t.data + t.nbytes > bytes.data() + size)) std::abort();
      for (size_t i = 0; i < t.nbytes; ++i) sum += static_cast<unsigned>(t.data[i]);
      if (&f.tensor(t.name) != &t) std::abort();
      if (t.numel() <= (1 << 20) && xib::io::ggml_type_dequantizable(t.type)) {
        const auto d = f.dequantize(t);
        if (d.data.size() != static_cast<size_t>(t.numel()) || d.shape != t.shape()) std::abort();
      }
    }
    static volatile unsigned sink;
    sink = sum;
  } catch (const xib::Error&) {
    // Rejected input: expected.
  }
  return 0;
}
