// Decode benchmark helper for scripts/bench_decode.sh (`make bench`), not a test: loads a LLaMA
// model through the plugin's loader, then greedy-generates exactly N_NEW tokens from the prompt
// ids in IDS_FILE (comma-separated) after one 4-token warm-up, with THREADS intra-op threads.
//
//   bench_decode MODEL IDS_FILE N_NEW THREADS [DECODE]     DECODE: auto (default), f32, torch
//
// Prints "prefill_tps=… decode_tps=… rss_mb=… tokens=… ids=…" — the rates greedy_generate
// measures (what `xib generate --stats` prints: prompt positions / prefill time, decode steps
// after the first new token / their time), the process's peak resident memory (getrusage), and
// the generated ids (scripts/bench_decode.sh checks they equal transformers').
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "llama_load.h"
#include "xib/error.h"
#include "xib/generate.h"
#include "xib/runtime.h"

namespace {

std::vector<int64_t> read_ids(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw xib::NotFoundError({.what = "cannot read the prompt ids", .where = file});
  std::vector<int64_t> ids;
  std::string item;
  while (std::getline(in, item, ',')) ids.push_back(std::stoll(item));
  return ids;
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // KiB on Linux
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 5) {
      std::fprintf(stderr, "usage: bench_decode MODEL IDS_FILE N_NEW THREADS [auto|f32|torch]\n");
      return 2;
    }
    xib::set_threads(std::atoi(argv[4]));
    const std::vector<int64_t> ids = read_ids(argv[2]);
    const int64_t n_new = std::atoll(argv[3]);
    auto lm = xib::llama::load_llama({.path = argv[1], .tokenizer = false, .decode = argc > 5 ? argv[5] : "auto"});
    xib::greedy_generate_ids(*lm, {ids}, {.max_new_tokens = 4, .min_new_tokens = 4});  // warm-up
    const auto r = xib::greedy_generate_ids(*lm, {ids}, {.max_new_tokens = n_new, .min_new_tokens = n_new});
    std::printf("prefill_tps=%.2f decode_tps=%.2f rss_mb=%.0f tokens=%zu threads=%d ids=%s\n",
                static_cast<double>(r.prompt_positions) / r.prefill_seconds,
                static_cast<double>(r.steps) / r.decode_seconds, peak_rss_mb(), r.tokens.front().size(), xib::threads(),
                fmt::format("{}", fmt::join(r.tokens.front(), ",")).c_str());
    return 0;
  } catch (const xib::Error& e) {
    std::fprintf(stderr, "%s\n", e.report().c_str());
    return e.exit_code();
  }
}
