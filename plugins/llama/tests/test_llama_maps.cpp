// llama.cpp's attn_q/attn_k row order (llama_maps.h): unpermute_qk against transformers' own
// reverse permutation (tools/fixtures/make_gguf_fixtures.py), and on the cached SmolLM2 GGUF.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "llama_maps.h"
#include "test_skip.h"
#include "test_support.h"
#include "xib/error.h"
#include "xib/io/gguf.h"
#include "xib/io/safetensors.h"
#include "xib/model_cache.h"

namespace fs = std::filesystem;
using xib::llama::permute_qk;
using xib::llama::unpermute_qk;

namespace {

std::vector<float> values(const xib::io::TensorRecord& r) {
  std::vector<float> v(static_cast<size_t>(r.numel()));
  std::memcpy(v.data(), r.data, r.nbytes());
  return v;
}

}  // namespace

TEST_CASE("llama maps: unpermute_qk matches transformers' reverse permutation and inverts permute_qk") {
  const xib::io::SafetensorsFile ref(fs::path(XIB_LLAMA_TEST_DATA) / "permute.safetensors");
  const auto w = values(ref.tensor("w"));
  REQUIRE(ref.tensor("w").shape == std::vector<int64_t>{24, 5});
  CHECK(unpermute_qk(w, 24, 5, 3) == values(ref.tensor("q_hf")));
  CHECK(unpermute_qk(w, 24, 5, 1) == values(ref.tensor("k_hf")));
  CHECK(permute_qk(unpermute_qk(w, 24, 5, 3), 24, 5, 3) == w);
  CHECK(unpermute_qk(w, 24, 5, 3) != w);
  CHECK_THROWS_AS((void)unpermute_qk(w, 24, 5, 5), xib::ShapeError);  // 24 % 10 != 0
  CHECK_THROWS_AS((void)unpermute_qk(w, 24, 4, 3), xib::ShapeError);  // size mismatch
  CHECK_THROWS_AS((void)unpermute_qk(w, 24, 5, 0), xib::ShapeError);
}

TEST_CASE("llama maps: SmolLM2's attn_q/attn_k unpermute to transformers' rows") {
  const auto file = xib::ModelCache::default_root() / "smollm2-135m-instruct" / "SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!fs::exists(file)) {
    xib::test::skip_missing_model(file.string(), "smollm2-135m-instruct");
    return;
  }
  const auto want =
      nlohmann::json::parse(xib::test::read_file(xib::test::source_dir() / "tests/io/data/gguf/smollm2.json"));
  const xib::io::GgufFile f(file);
  int checked = 0;
  for (const auto& [name, w] : want["tensors"].items()) {
    if (!w.contains("hf_first_column")) continue;
    CAPTURE(name);
    const auto t = f.dequantize(name);
    const int64_t rows = t.shape[0], cols = t.shape[1];
    const int64_t heads = name.find("attn_q") != std::string::npos ? f.get_int("llama.attention.head_count")
                                                                   : f.get_int("llama.attention.head_count_kv");
    const auto hf = unpermute_qk(t.data, rows, cols, heads);
    const auto col = w["hf_first_column"].get<std::vector<float>>();
    REQUIRE(col.size() == static_cast<size_t>(rows));
    int mismatches = 0;
    for (int64_t r = 0; r < rows; ++r)
      if (hf[static_cast<size_t>(r * cols)] != doctest::Approx(col[static_cast<size_t>(r)]).epsilon(1e-6)) ++mismatches;
    CHECK(mismatches == 0);
    ++checked;
  }
  CHECK(checked == 2);
}
