// Q-Former training-step benchmark helper (scripts/bench_qformer.sh; not a test). Its PyTorch
// eager counterpart is tools/bench_qformer.py, with the same sizes and the same FLOP count.
//
//   bench_qformer base|small ITERS [WARMUP]
//
// One step = forward + backward of the aligner (encoder LayerNorm → Q-Former → llm_proj) in
// training mode (dropout on), loss = mean of the output, on random tokens [8, 257, D] and
// 32-token instructions. Prints "seconds=<median step> gflop=<per step> mm_gflops=<peak>": the
// peak is the best of a few 2048×2048×2048 float32 matrix products in the same process.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "xib/aligners/qformer.h"
#include "xib/error.h"
#include "xib/runtime.h"

namespace {

struct Case {
  xib::aligners::QFormerOptions options;
  int64_t batch = 8, tokens = 257, text = 32;
};

Case make_case(const std::string& name) {
  if (name == "base") {  // SPEC's BERT-base Q-Former on EVA-CLIP ViT-g, Vicuna-7B output
    return {.options = {.layers = 12,
                        .hidden = 768,
                        .heads = 12,
                        .ffn = 3072,
                        .queries = 32,
                        .encoder_width = 1408,
                        .llm_width = 4096}};
  }
  if (name == "small") {  // MiniLM-sized: 6 layers, hidden 384, 16 queries, encoder width 1280
    return {.options = {.layers = 6,
                        .hidden = 384,
                        .heads = 12,
                        .ffn = 1536,
                        .queries = 16,
                        .encoder_width = 1280,
                        .llm_width = 576}};
  }
  throw xib::UsageError({.what = "unknown benchmark case '" + name + "'", .expected = "base or small"});
}

/// Forward multiply-adds × 2 of one step's matrix products; backward counted as twice forward.
double step_gflop(const Case& c) {
  const auto& o = c.options;
  const double b = static_cast<double>(c.batch), q = static_cast<double>(o.queries), l = static_cast<double>(c.text),
               s = q + l, t = static_cast<double>(c.tokens), h = static_cast<double>(o.hidden),
               f = static_cast<double>(o.ffn), d = static_cast<double>(o.encoder_width),
               llm = static_cast<double>(o.llm_width);
  double fwd = 0;
  for (int64_t i = 0; i < o.layers; ++i) {
    fwd += 2 * (4 * s * h * h + 2 * s * s * h);  // self-attention: q, k, v, out + scores, context
    if (i % o.cross_attention_freq == 0) fwd += 2 * (2 * q * h * h + 2 * t * d * h + 2 * q * t * h);
    fwd += 2 * 2 * q * h * f;                        // query FFN
    if (i + 1 < o.layers) fwd += 2 * 2 * l * h * f;  // text FFN (the last one cannot reach the output)
  }
  fwd += 2 * q * h * llm;
  return 3 * b * fwd / 1e9;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double matmul_peak() {
  const at::Tensor a = at::randn({2048, 2048}), b = at::randn({2048, 2048});
  double best = 1e30;
  for (int i = 0; i < 4; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const at::Tensor c = at::mm(a, b);
    best = std::min(best, seconds_since(t0));
  }
  return 2.0 * 2048 * 2048 * 2048 / best / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 3) {
      std::fprintf(stderr, "usage: bench_qformer base|small ITERS [WARMUP]\n");
      return 2;
    }
    const Case c = make_case(argv[1]);
    const int iters = std::atoi(argv[2]);
    const int warmup = argc > 3 ? std::atoi(argv[3]) : 1;
    xib::set_threads(0);  // every core, like PyTorch's default (LibTorch 1.13 starts with one)
    at::manual_seed(0);
    auto aligner = xib::aligners::make_qformer(c.options);
    aligner->set_training(true);
    const at::Tensor tokens = at::randn({c.batch, c.tokens, c.options.encoder_width});
    const at::Tensor ids = at::randint(1000, 30000, {c.batch, c.text}, at::kLong);
    at::Tensor mask = at::ones({c.batch, c.text}, at::kLong);
    mask.narrow(1, c.text / 2, c.text / 2).narrow(0, 0, c.batch / 2).zero_();  // half the batch padded
    const auto params = aligner->named_parameters();
    std::vector<double> times;
    for (int i = 0; i < warmup + iters; ++i) {
      for (const auto& [_, p] : params) {
        if (p.grad().defined()) p.mutable_grad().zero_();
      }
      const auto t0 = std::chrono::steady_clock::now();
      aligner->align_ids(tokens, ids, mask).mean().backward();
      if (i >= warmup) times.push_back(seconds_since(t0));
    }
    std::sort(times.begin(), times.end());
    const double median = times[times.size() / 2];
    std::printf("seconds=%.4f gflop=%.2f mm_gflops=%.1f threads=%d\n", median, step_gflop(c), matmul_peak(),
                at::get_num_threads());
    return 0;
  } catch (const xib::Error& e) {
    std::fprintf(stderr, "%s\n", e.report().c_str());
    return e.exit_code();
  }
}
