// Weight matrices for the one-token decode step: matrix × few vectors (GEMV) straight from a
// compact storage format, with AVX2/FMA kernels chosen at run time (plain C++ otherwise).
// Torch-free header.
//
//   f32   — borrows row-major f32 weights (the model's parameters), 4 bytes a weight.
//   q4_1  — ggml's Q4_1 / Q4_0 blocks kept as stored in a GGUF: 32 weights = scale d, offset m,
//           16 bytes of nibbles; weight = d·q + m (Q4_0: m = −8d). 0.75 bytes a weight.
//   q8_0  — ggml's Q8_0 blocks: 32 weights = scale d, 32 int8; weight = d·q. 1.125 bytes a weight.
//
// The quantised formats are lossless: the weights are exactly the values the GGUF's
// dequantisation gives (the f32 parameters the prefill uses), and the activations stay f32
// (unlike llama.cpp, which quantises them to 8 bits). Only the summation order differs from
// an f32 matmul: each block contributes d·Σ q·x + m·Σ x.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace xib::llama {

enum class PackedFormat { f32, q4_1, q8_0 };

/// "f32", "q4_1", "q8_0".
std::string packed_format_name(PackedFormat f);
/// True when this CPU runs the AVX2/FMA kernels (checked once).
bool packed_kernels_use_avx2();

/** a [n] · b [n], f32 (AVX2 when available) */
float dot_f32(const float* a, const float* b, int64_t n);
/** y [n] += a · x [n] */
void axpy_f32(float a, const float* x, float* y, int64_t n);

/// One weight matrix [rows, cols] in a PackedFormat.
class PackedMatrix {
 public:
  /// Borrows `w` [rows, cols] row-major; it must outlive the matrix.
  static PackedMatrix borrow_f32(const float* w, int64_t rows, int64_t cols);
  /// From ggml blocks (ggml type numbers: 2 = Q4_0, 3 = Q4_1, 8 = Q8_0) of a [rows, cols]
  /// tensor (cols a multiple of 32). Output row r is stored row row_order[r] (empty: r).
  /// Returns false (and leaves `out` alone) for any other type.
  static bool from_ggml(uint32_t ggml_type, const std::byte* data, int64_t rows, int64_t cols,
                        const std::vector<int64_t>& row_order, PackedMatrix& out);

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  PackedFormat format() const { return format_; }
  /// Bytes of weight storage read by one matvec.
  size_t bytes() const;

  /** x [n, cols] → y [n, rows] (row stride ldy), y = W x; parallel over rows. */
  void matvec(const float* x, int64_t n, float* y, int64_t ldy) const;
  /** Row r as f32 [cols], as the GGUF's dequantisation gives it. */
  void row(int64_t r, float* out) const;

 private:
  PackedFormat format_ = PackedFormat::f32;
  int64_t rows_ = 0, cols_ = 0;
  const float* f32_ = nullptr;
  std::vector<std::byte> blocks_;  // q4_1 / q8_0 blocks, row after row
};

/// A linear layer made of row blocks (a fused qkv or gate_up may mix formats): the parts'
/// outputs are concatenated.
struct PackedLinear {
  std::vector<PackedMatrix> parts;
  int64_t rows() const;
  int64_t cols() const { return parts.empty() ? 0 : parts.front().cols(); }
  size_t bytes() const;
  /// "q4_1" or "q4_1+q8_0".
  std::string format() const;
  /** x [n, cols] → y [n, rows()] */
  void matvec(const float* x, int64_t n, float* y) const;
};

}  // namespace xib::llama
