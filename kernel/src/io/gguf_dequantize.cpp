// ggml block formats → f32, written after ggml's dequantize_row_* (ggml/src/ggml-quants.c) with
// the same arithmetic order, so the results match ggml bit for bit; and the Q/K row
// (un)permutation of LLaMA attention weights.
#include <fmt/format.h>

#include <cstring>

#include "gguf_detail.h"
#include "xib/error.h"
#include "xib/io/gguf.h"

namespace xib::io {

using gguf_detail::bf16_to_f32;
using gguf_detail::f16_to_f32;
using gguf_detail::fail;
using gguf_detail::load_le;
using gguf_detail::where;

namespace {

constexpr int kQK = 32;    // QK4_0, QK4_1, QK8_0
constexpr int kQKK = 256;  // QK_K

float half_at(const std::byte* p) { return f16_to_f32(load_le<uint16_t>(p)); }
uint8_t u8_at(const std::byte* p) { return static_cast<uint8_t>(*p); }

// block_q4_0 { ggml_half d; uint8_t qs[16]; }
void dequant_q4_0(const std::byte* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 18, y += kQK) {
    const float d = half_at(x);
    for (int j = 0; j < kQK / 2; ++j) {
      const uint8_t q = u8_at(x + 2 + j);
      const int x0 = (q & 0x0F) - 8;
      const int x1 = (q >> 4) - 8;
      y[j] = static_cast<float>(x0) * d;
      y[j + kQK / 2] = static_cast<float>(x1) * d;
    }
  }
}

// block_q4_1 { ggml_half d; ggml_half m; uint8_t qs[16]; }
void dequant_q4_1(const std::byte* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 20, y += kQK) {
    const float d = half_at(x);
    const float m = half_at(x + 2);
    for (int j = 0; j < kQK / 2; ++j) {
      const uint8_t q = u8_at(x + 4 + j);
      const int x0 = q & 0x0F;
      const int x1 = q >> 4;
      y[j] = static_cast<float>(x0) * d + m;
      y[j + kQK / 2] = static_cast<float>(x1) * d + m;
    }
  }
}

// block_q8_0 { ggml_half d; int8_t qs[32]; }
void dequant_q8_0(const std::byte* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 34, y += kQK) {
    const float d = half_at(x);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(static_cast<int8_t>(x[2 + j])) * d;
  }
}

// ggml's get_scale_min_k4: 6-bit scale and min number j of the 12 packed bytes.
void scale_min_k4(int j, const uint8_t* q, uint8_t& d, uint8_t& m) {
  if (j < 4) {
    d = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    d = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

// block_q4_K { ggml_half d; ggml_half dmin; uint8_t scales[12]; uint8_t qs[128]; }
void dequant_q4_k(const std::byte* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 144) {
    const float d = half_at(x);
    const float min = half_at(x + 2);
    uint8_t scales[12];
    std::memcpy(scales, x + 4, 12);
    const auto* q = reinterpret_cast<const uint8_t*>(x + 16);
    int is = 0;
    for (int j = 0; j < kQKK; j += 64) {
      uint8_t sc = 0, m = 0;
      scale_min_k4(is + 0, scales, sc, m);
      const float d1 = d * sc, m1 = min * m;
      scale_min_k4(is + 1, scales, sc, m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
      q += 32;
      is += 2;
    }
  }
}

// block_q6_K { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; ggml_half d; }
void dequant_q6_k(const std::byte* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 210) {
    const float d = half_at(x + 208);
    const auto* ql = reinterpret_cast<const uint8_t*>(x);
    const auto* qh = reinterpret_cast<const uint8_t*>(x + 128);
    const auto* sc = reinterpret_cast<const int8_t*>(x + 192);
    for (int n = 0; n < kQKK; n += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = static_cast<int8_t>((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = static_cast<int8_t>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = static_cast<int8_t>((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = static_cast<int8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l + 0] = d * sc[is + 0] * static_cast<float>(q1);
        y[l + 32] = d * sc[is + 2] * static_cast<float>(q2);
        y[l + 64] = d * sc[is + 4] * static_cast<float>(q3);
        y[l + 96] = d * sc[is + 6] * static_cast<float>(q4);
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

std::string dequantizable_list() { return "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K or Q6_K"; }

}  // namespace

void dequantize_row(GgmlType type, const std::byte* src, float* dst, int64_t n) {
  const auto block = ggml_type_block(type);
  if (!ggml_type_dequantizable(type) || !block)
    fail("dequantize_row", fmt::format("cannot dequantize ggml type {}", ggml_type_name(type)), dequantizable_list(),
         ggml_type_name(type), "re-quantise the model with llama-quantize to one of these types");
  if (n < 0 || n % block->first != 0)
    fail("dequantize_row", fmt::format("element count is not a multiple of the {} block size", ggml_type_name(type)),
         fmt::format("a multiple of {}", block->first), fmt::format("{}", n));
  const int64_t nb = n / block->first;
  switch (type) {
    case GgmlType::f32:
      if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case GgmlType::f16:
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(load_le<uint16_t>(src + 2 * i));
      return;
    case GgmlType::bf16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(load_le<uint16_t>(src + 2 * i));
      return;
    case GgmlType::q4_0:
      return dequant_q4_0(src, dst, nb);
    case GgmlType::q4_1:
      return dequant_q4_1(src, dst, nb);
    case GgmlType::q8_0:
      return dequant_q8_0(src, dst, nb);
    case GgmlType::q4_k:
      return dequant_q4_k(src, dst, nb);
    case GgmlType::q6_k:
      return dequant_q6_k(src, dst, nb);
    default:
      break;
  }
}

GgufTensor GgufFile::dequantize(std::string_view name) const { return dequantize(tensor(name)); }

GgufTensor GgufFile::dequantize(const GgufTensorInfo& info) const {
  if (!ggml_type_dequantizable(info.type))
    fail(where(source_, "tensor", info.name),
         fmt::format("cannot dequantize tensor '{}' of type {}", info.name, ggml_type_name(info.type)),
         dequantizable_list(), ggml_type_name(info.type),
         "xib dequantizes these types only; re-quantise the model with llama-quantize (e.g. Q4_K_M, Q8_0)");
  GgufTensor out;
  out.shape = info.shape();
  out.data.resize(static_cast<size_t>(info.numel()));
  dequantize_row(info.type, info.data, out.data.data(), info.numel());
  return out;
}

}  // namespace xib::io
