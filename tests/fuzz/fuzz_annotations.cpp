// libFuzzer target for LAVIS annotation files (datasets/src/lavis_load.cpp): the bytes as an
// annotation JSON read by the caption and the qa reader (every entry's fields checked, the
// referenced files looked up under the scratch folder), and each loaded entry checked for what
// LavisDataset::get() relies on (a file, at least one caption or answer). Whatever the bytes, the
// result is the entries or an xib::Error naming what is wrong; any other exception, a crash or a
// sanitizer report is a bug. Built and run by `make fuzz` (scripts/fuzz.sh), seeded with
// datasets/tests/data/*.json.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fuzz_files.h"
#include "lavis_load.h"
#include "xib/datasets/lavis_reader.h"
#include "xib/error.h"

namespace {

void load(xib::datasets::LavisReaderOptions options) {
  try {
    const auto root = xib::datasets::resolve_root(options);
    const auto entries = xib::datasets::load_lavis_entries(options, root);
    if (options.limit && entries.size() > static_cast<size_t>(*options.limit)) std::abort();
    unsigned sum = 0;
    for (const auto& e : entries) {
      if (e.file.empty() || e.texts.empty()) std::abort();
      for (const auto& t : e.texts) sum += static_cast<unsigned>(t.size());
      sum += static_cast<unsigned>(e.key.size() + e.question.size());
    }
    static volatile unsigned sink;
    sink = sum;
  } catch (const xib::Error&) {
    // Rejected input: expected.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file =
      xib::fuzz::write_scratch("annotations.json", std::string_view(reinterpret_cast<const char*>(data), size));
  load({.reader = "caption", .path = file});
  load({.reader = "qa", .path = file, .root = xib::fuzz::scratch_dir(), .limit = 3});
  load({.reader = "caption", .path = file, .file_key = "video", .check_files = false});
  return 0;
}
