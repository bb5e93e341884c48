// GEMV kernels for the decode step (packed_linear.h). The AVX2/FMA versions are compiled with a
// target attribute and picked at run time, so the library still runs on CPUs without AVX2.
#include "packed_linear.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <cstring>

#include "xib/io/half.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define XIB_LLAMA_X86 1
#endif

namespace xib::llama {

namespace {

constexpr int64_t kBlock = 32;

struct Q4Block {  // weight j = d·q_j + m; q_j = low nibble of qs[j] (j < 16), high nibble of qs[j − 16]
  float d, m;
  uint8_t qs[16];
};
struct Q8Block {  // weight j = d·qs[j]
  float d;
  int8_t qs[32];
};
static_assert(sizeof(Q4Block) == 24 && sizeof(Q8Block) == 36);

/// A ggml_half as stored (little-endian) → float.
float half_to_float(const std::byte* p) {
  uint16_t h = 0;
  std::memcpy(&h, p, 2);
  return io::f16_to_f32(h);
}

// ---- plain C++ row dots ----

float dot_f32_plain(const float* w, const float* x, int64_t n) {
  float acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += w[i + k] * x[i + k];
  float s = 0;
  for (; i < n; ++i) s += w[i] * x[i];
  for (float a : acc) s += a;
  return s;
}

float dot_q4_plain(const Q4Block* b, const float* x, const float* sx, int64_t nb) {
  float s = 0;
  for (int64_t k = 0; k < nb; ++k, x += kBlock) {
    float p = 0;
    for (int j = 0; j < 16; ++j)
      p += static_cast<float>(b[k].qs[j] & 0x0F) * x[j] + static_cast<float>(b[k].qs[j] >> 4) * x[j + 16];
    s += b[k].d * p + b[k].m * sx[k];
  }
  return s;
}

float dot_q8_plain(const Q8Block* b, const float* x, int64_t nb) {
  float s = 0;
  for (int64_t k = 0; k < nb; ++k, x += kBlock) {
    float p = 0;
    for (int j = 0; j < kBlock; ++j) p += static_cast<float>(b[k].qs[j]) * x[j];
    s += b[k].d * p;
  }
  return s;
}

#ifdef XIB_LLAMA_X86
// ---- AVX2 / FMA row dots ----

__attribute__((target("avx2,fma"))) inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

__attribute__((target("avx2,fma"))) float dot_f32_avx2(const float* w, const float* x, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 16), _mm256_loadu_ps(x + i + 16), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 24), _mm256_loadu_ps(x + i + 24), a3);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (; i < n; ++i) s += w[i] * x[i];
  return s;
}

__attribute__((target("avx2,fma"))) void axpy_avx2(float a, const float* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

__attribute__((target("avx2,fma"))) inline __m256 u8x8(__m128i v) {
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v));
}

__attribute__((target("avx2,fma"))) float dot_q4_avx2(const Q4Block* b, const float* x, const float* sx, int64_t nb) {
  const __m128i low4 = _mm_set1_epi8(0x0F);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
  float m = 0;
  for (int64_t k = 0; k < nb; ++k, x += kBlock) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[k].qs));
    const __m128i lo = _mm_and_si128(q, low4);
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(q, 4), low4);
    __m256 p0 = _mm256_mul_ps(u8x8(lo), _mm256_loadu_ps(x));
    __m256 p1 = _mm256_mul_ps(u8x8(_mm_srli_si128(lo, 8)), _mm256_loadu_ps(x + 8));
    p0 = _mm256_fmadd_ps(u8x8(hi), _mm256_loadu_ps(x + 16), p0);
    p1 = _mm256_fmadd_ps(u8x8(_mm_srli_si128(hi, 8)), _mm256_loadu_ps(x + 24), p1);
    const __m256 d = _mm256_set1_ps(b[k].d);
    acc0 = _mm256_fmadd_ps(d, p0, acc0);
    acc1 = _mm256_fmadd_ps(d, p1, acc1);
    m += b[k].m * sx[k];
  }
  return hsum(_mm256_add_ps(acc0, acc1)) + m;
}

__attribute__((target("avx2,fma"))) inline __m256 i8x8(const int8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

__attribute__((target("avx2,fma"))) float dot_q8_avx2(const Q8Block* b, const float* x, int64_t nb) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
  for (int64_t k = 0; k < nb; ++k, x += kBlock) {
    __m256 p0 = _mm256_mul_ps(i8x8(b[k].qs), _mm256_loadu_ps(x));
    __m256 p1 = _mm256_mul_ps(i8x8(b[k].qs + 8), _mm256_loadu_ps(x + 8));
    p0 = _mm256_fmadd_ps(i8x8(b[k].qs + 16), _mm256_loadu_ps(x + 16), p0);
    p1 = _mm256_fmadd_ps(i8x8(b[k].qs + 24), _mm256_loadu_ps(x + 24), p1);
    const __m256 d = _mm256_set1_ps(b[k].d);
    acc0 = _mm256_fmadd_ps(d, p0, acc0);
    acc1 = _mm256_fmadd_ps(d, p1, acc1);
  }
  return hsum(_mm256_add_ps(acc0, acc1));
}
#endif

bool detect_avx2() {
#ifdef XIB_LLAMA_X86
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

const bool kAvx2 = detect_avx2();

}  // namespace

std::string packed_format_name(PackedFormat f) {
  switch (f) {
    case PackedFormat::q4_1:
      return "q4_1";
    case PackedFormat::q8_0:
      return "q8_0";
    default:
      return "f32";
  }
}

bool packed_kernels_use_avx2() { return kAvx2; }

float dot_f32(const float* a, const float* b, int64_t n) {
#ifdef XIB_LLAMA_X86
  if (kAvx2) return dot_f32_avx2(a, b, n);
#endif
  return dot_f32_plain(a, b, n);
}

void axpy_f32(float a, const float* x, float* y, int64_t n) {
#ifdef XIB_LLAMA_X86
  if (kAvx2) return axpy_avx2(a, x, y, n);
#endif
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

PackedMatrix PackedMatrix::borrow_f32(const float* w, int64_t rows, int64_t cols) {
  PackedMatrix m;
  m.format_ = PackedFormat::f32;
  m.rows_ = rows;
  m.cols_ = cols;
  m.f32_ = w;
  return m;
}

bool PackedMatrix::from_ggml(uint32_t type, const std::byte* data, int64_t rows, int64_t cols,
                             const std::vector<int64_t>& row_order, PackedMatrix& out) {
  if ((type != 2 && type != 3 && type != 8) || cols % kBlock != 0 || rows <= 0) return false;
  if (!row_order.empty() && static_cast<int64_t>(row_order.size()) != rows) return false;
  const int64_t nb = cols / kBlock;
  PackedMatrix m;
  m.rows_ = rows;
  m.cols_ = cols;
  const size_t src_block = type == 2 ? 18 : type == 3 ? 20 : 34;
  if (type == 8) {
    m.format_ = PackedFormat::q8_0;
    m.blocks_.resize(static_cast<size_t>(rows * nb) * sizeof(Q8Block));
    auto* dst = reinterpret_cast<Q8Block*>(m.blocks_.data());
    for (int64_t r = 0; r < rows; ++r) {
      const std::byte* src = data + static_cast<size_t>((row_order.empty() ? r : row_order[r]) * nb) * src_block;
      for (int64_t k = 0; k < nb; ++k, src += src_block, ++dst) {
        dst->d = half_to_float(src);
        std::memcpy(dst->qs, src + 2, 32);
      }
    }
  } else {
    m.format_ = PackedFormat::q4_1;
    m.blocks_.resize(static_cast<size_t>(rows * nb) * sizeof(Q4Block));
    auto* dst = reinterpret_cast<Q4Block*>(m.blocks_.data());
    for (int64_t r = 0; r < rows; ++r) {
      const std::byte* src = data + static_cast<size_t>((row_order.empty() ? r : row_order[r]) * nb) * src_block;
      for (int64_t k = 0; k < nb; ++k, src += src_block, ++dst) {
        dst->d = half_to_float(src);
        dst->m = type == 3 ? half_to_float(src + 2) : -8.0f * dst->d;  // Q4_0: (q − 8)·d
        std::memcpy(dst->qs, src + (type == 3 ? 4 : 2), 16);
      }
    }
  }
  out = std::move(m);
  return true;
}

size_t PackedMatrix::bytes() const {
  return format_ == PackedFormat::f32 ? static_cast<size_t>(rows_ * cols_) * sizeof(float) : blocks_.size();
}

void PackedMatrix::row(int64_t r, float* out) const {
  const int64_t nb = cols_ / kBlock;
  if (format_ == PackedFormat::f32) {
    std::memcpy(out, f32_ + r * cols_, static_cast<size_t>(cols_) * sizeof(float));
  } else if (format_ == PackedFormat::q8_0) {
    const auto* b = reinterpret_cast<const Q8Block*>(blocks_.data()) + r * nb;
    for (int64_t k = 0; k < nb; ++k)
      for (int j = 0; j < kBlock; ++j) out[k * kBlock + j] = static_cast<float>(b[k].qs[j]) * b[k].d;
  } else {
    const auto* b = reinterpret_cast<const Q4Block*>(blocks_.data()) + r * nb;
    for (int64_t k = 0; k < nb; ++k)
      for (int j = 0; j < 16; ++j) {
        out[k * kBlock + j] = static_cast<float>(b[k].qs[j] & 0x0F) * b[k].d + b[k].m;
        out[k * kBlock + j + 16] = static_cast<float>(b[k].qs[j] >> 4) * b[k].d + b[k].m;
      }
  }
}

void PackedMatrix::matvec(const float* x, int64_t n, float* y, int64_t ldy) const {
  const int64_t nb = cols_ / kBlock;
  // Σ x over each block, for the offsets m of q4_1 blocks: [n, nb].
  std::vector<float> sx;
  if (format_ == PackedFormat::q4_1) {
    sx.resize(static_cast<size_t>(n * nb));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < nb; ++k) {
        float s = 0;
        for (int j = 0; j < kBlock; ++j) s += x[i * cols_ + k * kBlock + j];
        sx[i * nb + k] = s;
      }
  }
  const auto body = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t i = 0; i < n; ++i) {
        const float* xi = x + i * cols_;
        float v = 0;
        switch (format_) {
          case PackedFormat::f32:
#ifdef XIB_LLAMA_X86
            v = kAvx2 ? dot_f32_avx2(f32_ + r * cols_, xi, cols_) : dot_f32_plain(f32_ + r * cols_, xi, cols_);
#else
            v = dot_f32_plain(f32_ + r * cols_, xi, cols_);
#endif
            break;
          case PackedFormat::q4_1: {
            const auto* b = reinterpret_cast<const Q4Block*>(blocks_.data()) + r * nb;
#ifdef XIB_LLAMA_X86
            v = kAvx2 ? dot_q4_avx2(b, xi, sx.data() + i * nb, nb) : dot_q4_plain(b, xi, sx.data() + i * nb, nb);
#else
            v = dot_q4_plain(b, xi, sx.data() + i * nb, nb);
#endif
            break;
          }
          case PackedFormat::q8_0: {
            const auto* b = reinterpret_cast<const Q8Block*>(blocks_.data()) + r * nb;
#ifdef XIB_LLAMA_X86
            v = kAvx2 ? dot_q8_avx2(b, xi, nb) : dot_q8_plain(b, xi, nb);
#else
            v = dot_q8_plain(b, xi, nb);
#endif
            break;
          }
        }
        y[i * ldy + r] = v;
      }
    }
  };
  // Enough rows per task that the thread hand-off stays small against the work.
  const int64_t grain = std::max<int64_t>(16, 16384 / std::max<int64_t>(cols_, 1));
  at::parallel_for(0, rows_, grain, body);
}

int64_t PackedLinear::rows() const {
  int64_t r = 0;
  for (const auto& p : parts) r += p.rows();
  return r;
}

size_t PackedLinear::bytes() const {
  size_t b = 0;
  for (const auto& p : parts) b += p.bytes();
  return b;
}

std::string PackedLinear::format() const {
  std::string s;
  for (const auto& p : parts) {
    const std::string f = packed_format_name(p.format());
    if (s.find(f) == std::string::npos) s += (s.empty() ? "" : "+") + f;
  }
  return s;
}

void PackedLinear::matvec(const float* x, int64_t n, float* y) const {
  const int64_t total = rows();
  int64_t offset = 0;
  for (const auto& p : parts) {
    p.matvec(x, n, y + offset, total);
    offset += p.rows();
  }
}

}  // namespace xib::llama
