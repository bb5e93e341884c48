// The fused one-token decode step (llama_decode_step.cpp) and its matvec kernels
// (packed_linear.cpp): ggml blocks read as stored give exactly the kernel's dequantised weights
// (io::dequantize_row, an independent implementation of ggml's dequantize_row_*), matvec equals
// the f32 product, and every decode mode gives the full forward's logits.
#include <filesystem>
#include <random>
#include <vector>

#include "llama_load.h"
#include "llama_model.h"
#include "packed_linear.h"
#include "test_skip.h"
#include "test_support.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/error.h"
#include "xib/generate.h"
#include "xib/io/gguf.h"
#include "xib/model_cache.h"

namespace fs = std::filesystem;
using xib::io::GgmlType;
using xib::llama::PackedFormat;
using xib::llama::PackedMatrix;

namespace {

/// Random ggml blocks of `type` for a [rows, cols] tensor; scales are random f16 bit patterns
/// of moderate size (exponent 0x2C00–0x3BFF: about 0.06 … 1).
std::vector<std::byte> random_blocks(GgmlType type, int64_t rows, int64_t cols, uint32_t seed) {
  const auto [elems, bytes] = *xib::io::ggml_type_block(type);
  std::vector<std::byte> data(static_cast<size_t>(rows * cols / elems) * bytes);
  std::mt19937 rng(seed);
  for (auto& b : data) b = static_cast<std::byte>(rng() & 0xFF);
  const int halves = type == GgmlType::q4_1 ? 2 : 1;  // d (and m) lead each block
  for (size_t off = 0; off < data.size(); off += bytes) {
    for (int h = 0; h < halves; ++h) {
      const auto v = static_cast<uint16_t>(0x2C00 + rng() % 0x1000 + (h == 1 && rng() % 2 ? 0x8000 : 0));
      std::memcpy(&data[off + 2 * h], &v, 2);
    }
  }
  return data;
}

at::Tensor dequantised(GgmlType type, const std::vector<std::byte>& data, int64_t rows, int64_t cols) {
  at::Tensor t = at::empty({rows, cols}, at::kFloat);
  xib::io::dequantize_row(type, data.data(), t.data_ptr<float>(), rows * cols);
  return t;
}

fs::path data_dir() { return xib::test::source_dir() / "plugins/llama/tests/data"; }

}  // namespace

TEST_CASE("llama packed matvec: ggml Q4_0, Q4_1, Q8_0 blocks read as stored equal the dequantised f32 product") {
  const int64_t rows = 37, cols = 96;
  at::manual_seed(13);
  for (const GgmlType type : {GgmlType::q4_0, GgmlType::q4_1, GgmlType::q8_0}) {
    CAPTURE(xib::io::ggml_type_name(type));
    const auto data = random_blocks(type, rows, cols, 7 + static_cast<uint32_t>(type));
    const at::Tensor w = dequantised(type, data, rows, cols);
    PackedMatrix m;
    REQUIRE(PackedMatrix::from_ggml(static_cast<uint32_t>(type), data.data(), rows, cols, {}, m));
    CHECK(m.format() == (type == GgmlType::q8_0 ? PackedFormat::q8_0 : PackedFormat::q4_1));
    // Every weight exactly as the kernel's dequantisation gives it.
    at::Tensor back = at::empty({rows, cols}, at::kFloat);
    for (int64_t r = 0; r < rows; ++r) m.row(r, back.data_ptr<float>() + r * cols);
    CHECK(at::equal(back, w));
    // matvec of 3 vectors against the f32 product (only the summation order differs).
    const at::Tensor x = at::randn({3, cols}, at::kFloat);
    at::Tensor y = at::empty({3, rows}, at::kFloat);
    m.matvec(x.data_ptr<float>(), 3, y.data_ptr<float>(), rows);
    const at::Tensor want = at::matmul(x, w.t());
    CHECK((y - want).abs().max().item<double>() <= 1e-5 * (1 + want.abs().max().item<double>()));
    // A row order picks the stored rows.
    std::vector<int64_t> order(rows);
    for (int64_t r = 0; r < rows; ++r) order[r] = (r * 5) % rows;
    PackedMatrix p;
    REQUIRE(PackedMatrix::from_ggml(static_cast<uint32_t>(type), data.data(), rows, cols, order, p));
    std::vector<float> row(cols);
    p.row(3, row.data());
    CHECK(at::equal(at::from_blob(row.data(), {cols}, at::kFloat), w[order[3]]));
  }
}

TEST_CASE("llama packed matvec: f32 borrowed weights, odd sizes, and types it does not read") {
  const int64_t rows = 9, cols = 45;  // not a multiple of 8: the tail loop
  at::manual_seed(14);
  const at::Tensor w = at::randn({rows, cols}, at::kFloat);
  const at::Tensor x = at::randn({2, cols}, at::kFloat);
  const PackedMatrix m = PackedMatrix::borrow_f32(w.data_ptr<float>(), rows, cols);
  at::Tensor y = at::empty({2, rows}, at::kFloat);
  m.matvec(x.data_ptr<float>(), 2, y.data_ptr<float>(), rows);
  CHECK(at::allclose(y, at::matmul(x, w.t()), 1e-5, 1e-5));
  CHECK(m.bytes() == static_cast<size_t>(rows * cols * 4));
  CHECK(xib::llama::dot_f32(w.data_ptr<float>(), x.data_ptr<float>(), cols) ==
        doctest::Approx(at::dot(w[0], x[0]).item<float>()).epsilon(1e-5));
  PackedMatrix untouched;
  const std::vector<std::byte> bytes(4096);
  CHECK_FALSE(PackedMatrix::from_ggml(static_cast<uint32_t>(GgmlType::q6_k), bytes.data(), 2, 256, {}, untouched));
  CHECK_FALSE(PackedMatrix::from_ggml(static_cast<uint32_t>(GgmlType::q8_0), bytes.data(), 2, 40, {}, untouched));
  CHECK(untouched.rows() == 0);
}

TEST_CASE("llama decode modes: the fused step (f32) and the LibTorch path give the full forward's logits") {
  const fs::path dir = data_dir() / "tiny-tied";
  auto lm = xib::llama::load_llama({.path = dir.string(), .tokenizer = false});
  auto& model = dynamic_cast<xib::llama::LlamaModel&>(*lm);
  at::NoGradGuard no_grad;
  at::manual_seed(11);
  // 2 rows take the fused step; 6 (a beam-search batch) take LibTorch's GEMM in every mode.
  for (const int64_t rows : {2, 6}) {
    const at::Tensor ids = at::randint(0, lm->vocab_size(), {rows, 9}, at::kLong);
    at::Tensor mask = at::ones({rows, 9}, at::kLong);
    mask.index_put_({1, at::indexing::Slice(0, 3)}, 0);  // row 1 left-padded
    const at::Tensor e = lm->embed(ids);
    const at::Tensor full = lm->forward(e, mask);
    for (const std::string mode : {"f32", "torch", "auto"}) {
      CAPTURE(mode);
      CAPTURE(rows);
      model.set_decode_mode(mode);
      auto cache = lm->new_cache(rows, 2);  // grows while decoding
      std::vector<at::Tensor> parts = {lm->decode(e.narrow(1, 0, 4), mask.narrow(1, 0, 4), *cache, false)};
      for (int64_t t = 4; t < 9; ++t)
        parts.push_back(lm->decode(e.narrow(1, t, 1), mask.narrow(1, 0, t + 1), *cache, true));
      const at::Tensor step = at::cat(parts, 1);
      const at::Tensor real = mask.to(at::kBool).unsqueeze(-1).expand_as(full);
      CHECK((step - full).abs().masked_select(real).max().item<double>() <= 1e-4);
    }
  }
  CHECK(model.decode_summary().find("f32") != std::string::npos);
  CHECK_THROWS_AS(model.set_decode_mode("fast"), xib::ConfigError);
  CHECK_THROWS_AS(xib::llama::load_llama({.path = dir.string(), .tokenizer = false, .decode = "q8"}), xib::ConfigError);
}

TEST_CASE("llama SmolLM2 Q4_1 GGUF: the decode step on the stored blocks matches the f32 forward") {
  const fs::path gguf = xib::ModelCache::default_root() / "smollm2-135m-instruct" / "SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!fs::exists(gguf)) {
    return xib::test::skip_missing_model(gguf, "smollm2-135m-instruct");
  }
  auto lm = xib::llama::load_llama({.path = gguf.string(), .tokenizer = false});
  auto& model = dynamic_cast<xib::llama::LlamaModel&>(*lm);
  CHECK(model.decode_summary().find("q4_1") != std::string::npos);
  CHECK(model.decode_summary().find("lm_head q8_0") != std::string::npos);
  at::NoGradGuard no_grad;
  at::manual_seed(12);
  const at::Tensor ids = at::randint(0, 49152, {1, 24}, at::kLong);
  const at::Tensor mask = at::ones({1, 24}, at::kLong);
  const at::Tensor e = lm->embed(ids);
  const at::Tensor full = lm->forward(e, mask);  // f32 parameters, LibTorch
  auto cache = lm->new_cache(1, 24);
  lm->decode(e.narrow(1, 0, 16), mask.narrow(1, 0, 16), *cache, true);
  double worst = 0;
  for (int64_t t = 16; t < 24; ++t) {
    const at::Tensor step = lm->decode(e.narrow(1, t, 1), mask.narrow(1, 0, t + 1), *cache, true);
    worst = std::max(worst, (step[0][0] - full[0][t]).abs().max().item<double>());
    CHECK(step[0][0].argmax().item<int64_t>() == full[0][t].argmax().item<int64_t>());
  }
  INFO("max |logit diff| ", worst);
  CHECK(worst <= 1e-3);
}
