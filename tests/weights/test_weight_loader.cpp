// Applying weight plans with real data: transforms, dtype conversion, strided records.
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/error.h"
#include "xib/weights/weight_loader.h"
#include "xib/weights/weight_map.h"

using namespace xib::weights;
using xib::io::DType;
using xib::io::TensorRecord;

namespace {

/// A record viewing `values` (which must outlive it).
template <class T>
TensorRecord record(const std::string& name, const std::vector<T>& values, std::vector<int64_t> shape,
                    DType dtype = DType::f32) {
  return {.name = name,
          .dtype = dtype,
          .shape = std::move(shape),
          .data = reinterpret_cast<const std::byte*>(values.data()),
          .storage_bytes = values.size() * sizeof(T)};
}

std::vector<float> values(const at::Tensor& t) {
  auto c = t.to(at::kFloat).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

std::map<std::string, at::Tensor> zeros_params(const std::vector<std::pair<std::string, std::vector<int64_t>>>& spec) {
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, shape] : spec) out[name] = at::zeros(shape).requires_grad_(true);
  return out;
}

}  // namespace

TEST_CASE("weight loader: transpose, fused qkv split, reshape") {
  const std::vector<float> w = {0, 1, 2, 3, 4, 5};                                // [2, 3]
  const std::vector<float> qkv = {0, 1, 10, 11, 20, 21, 30, 31, 40, 41, 50, 51};  // [6, 2]
  const std::vector<TensorRecord> records = {record("w", w, {2, 3}), record("attn.qkv", qkv, {6, 2})};
  WeightMap map{.name = "toy",
                .entries = {{.from = {"w"}, .to = "wt", .transform = Transform::transpose()},
                            {.from = {"w"}, .to = "flat", .transform = Transform::reshape({-1})},
                            {.from = {"attn.qkv"}, .to = "q", .transform = Transform::split(0, 0, 3)},
                            {.from = {"attn.qkv"}, .to = "k", .transform = Transform::split(0, 1, 3)},
                            {.from = {"attn.qkv"}, .to = "v", .transform = Transform::split(0, 2, 3)}}};
  auto params = zeros_params({{"wt", {3, 2}}, {"flat", {6}}, {"q", {2, 2}}, {"k", {2, 2}}, {"v", {2, 2}}});
  const auto report = load_weights(expand(map, {}), records, params);
  CHECK(report.loaded == 5);
  CHECK(values(params["wt"]) == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK(values(params["flat"]) == w);
  CHECK(values(params["q"]) == std::vector<float>{0, 1, 10, 11});
  CHECK(values(params["k"]) == std::vector<float>{20, 21, 30, 31});
  CHECK(values(params["v"]) == std::vector<float>{40, 41, 50, 51});
  CHECK(params["q"].requires_grad());  // still a trainable leaf, written without autograd
}

TEST_CASE("weight loader: EVA's qkv bias is [q_bias, zeros, v_bias]") {
  const std::vector<float> q_bias = {1, 2, 3}, v_bias = {7, 8, 9};
  const std::vector<TensorRecord> records = {record("blocks.0.attn.q_bias", q_bias, {3}),
                                             record("blocks.0.attn.v_bias", v_bias, {3})};
  WeightMap map{.name = "eva",
                .entries = {{.from = {"blocks.{i}.attn.q_bias", std::string(kZeros), "blocks.{i}.attn.v_bias"},
                             .to = "blocks.{i}.attn.qkv.bias",
                             .transform = Transform::concat(0)}}};
  auto params = zeros_params({{"blocks.0.attn.qkv.bias", {9}}});
  params["blocks.0.attn.qkv.bias"].detach().fill_(-1);
  load_weights(expand(map, {.layers = 1}), records, params);
  CHECK(values(params["blocks.0.attn.qkv.bias"]) == std::vector<float>{1, 2, 3, 0, 0, 0, 7, 8, 9});
}

TEST_CASE("weight loader: f16 and bf16 records are upcast into f32 parameters") {
  const auto src = at::tensor({1.5f, -2.25f, 65504.0f, 0.0078125f});
  const auto half = src.to(at::kHalf).contiguous();
  const auto bf = at::tensor({1.5f, -2.25f, 256.0f, 0.0078125f}).to(at::kBFloat16).contiguous();
  std::vector<uint16_t> half_bits(4), bf_bits(4);
  std::memcpy(half_bits.data(), half.data_ptr(), 8);
  std::memcpy(bf_bits.data(), bf.data_ptr(), 8);
  const std::vector<TensorRecord> records = {record("h", half_bits, {2, 2}, DType::f16),
                                             record("b", bf_bits, {4}, DType::bf16)};
  WeightMap map{.name = "dtypes", .entries = {{.from = {"h"}, .to = "H"}, {.from = {"b"}, .to = "B"}}};
  auto params = zeros_params({{"H", {2, 2}}, {"B", {4}}});
  load_weights(expand(map, {}), records, params);
  CHECK((params["H"].scalar_type() == at::kFloat));
  CHECK(values(params["H"]) == std::vector<float>{1.5f, -2.25f, 65504.0f, 0.0078125f});
  CHECK(values(params["B"]) == std::vector<float>{1.5f, -2.25f, 256.0f, 0.0078125f});
  // dest_spec() reports what plan() needs.
  const auto spec = dest_spec(params);
  REQUIRE(spec.size() == 2);
  CHECK(spec[0].name == "B");
  CHECK(spec[0].dtype == DType::f32);
}

TEST_CASE("weight loader: strided records with a storage offset") {
  // storage 0..7; the view starts at element 1 with shape [2, 3] and strides [1, 2] (a transpose).
  const std::vector<float> storage = {0, 1, 2, 3, 4, 5, 6, 7};
  auto r = record("s", storage, {2, 3});
  r.strides = {1, 2};
  r.storage_offset = 1;
  CHECK(values(record_to_tensor(r)) == std::vector<float>{1, 3, 5, 2, 4, 6});
  CHECK((record_to_tensor(r, DType::f64).scalar_type() == at::kDouble));

  auto past = r;
  past.storage_offset = 3;  // reaches element 8 of 8
  CHECK_THROWS_AS(record_to_tensor(past), xib::FormatError);
  auto negative = r;
  negative.strides = {-1, 2};
  CHECK_THROWS_AS(record_to_tensor(negative), xib::FormatError);
  auto rank = r;
  rank.strides = {1};
  CHECK_THROWS_AS(record_to_tensor(rank), xib::FormatError);
  auto empty = record("e", storage, {0, 3});
  CHECK(record_to_tensor(empty).numel() == 0);
}

TEST_CASE("weight loader: refuses failing plans and mismatched parameters") {
  const std::vector<float> w = {1, 2};
  const std::vector<TensorRecord> records = {record("w", w, {2})};
  WeightMap map{.name = "toy", .entries = {{.from = {"w"}, .to = "W"}}};
  const auto em = expand(map, {});

  auto wrong = zeros_params({{"W", {3}}});
  CHECK_THROWS_AS(load_weights(em, records, wrong), WeightMapError);

  // A plan made for other parameters than those given.
  auto right = zeros_params({{"W", {2}}});
  const auto p = plan(em, source_tensors(records), dest_spec(right));
  auto other = zeros_params({{"X", {2}}});
  CHECK_THROWS_AS(apply_plan(p, records, other), xib::NotFoundError);
  auto reshaped = zeros_params({{"W", {1, 2}}});
  CHECK_THROWS_AS(apply_plan(p, records, reshaped), xib::ShapeError);
  CHECK_THROWS_AS(apply_plan(p, {}, right), xib::NotFoundError);
  CHECK(apply_plan(p, records, right).loaded == 1);
  CHECK(values(right["W"]) == w);
}
