// GGUF (llama.cpp's model file, https://github.com/ggml-org/ggml/blob/master/docs/gguf.md)
// reader, torch-free.
//
// Layout (little-endian): "GGUF", u32 version (2 or 3), u64 tensor count, u64 metadata count,
// the metadata (key string, u32 value type, value), the tensor infos (name, u32 n_dims, n_dims
// u64 dims fastest-first, u32 ggml type, u64 offset), padding to `general.alignment` (default
// 32), then the tensor data; each tensor's offset is relative to the data section and aligned.
// Strings are u64 length + UTF-8 bytes (no terminator).
//
//   xib::io::GgufFile f("SmolLM2-135M-Instruct.Q4_1.gguf");     // mmap + full validation
//   f.get_string("general.architecture");                        // "llama"
//   f.get_int("llama.block_count");                              // 30 (any integer type)
//   f.get_string_array("tokenizer.ggml.tokens");                 // 49152 strings
//   auto w = f.dequantize("blk.0.attn_q.weight");                // f32, shape {576, 576}
//   (LLaMA's attn_q/attn_k rows are in llama.cpp's rotary order: plugins/llama undoes it.)
//
// Shapes: GGUF stores dims fastest-first (ne[0] is the contiguous one). xib uses row-major
// shapes, so shape() = {ne[n-1], …, ne[0]}: token_embd.weight with ne = {576, 49152} has
// shape {49152, 576}, the same as the Hugging Face tensor.
//
// Every malformed file is a FormatError (an IoError when it cannot be read) naming the file, the
// key or tensor and the byte offset; nothing is trusted before it has been checked against the
// file size. Quantised types xib cannot dequantise are reported by dequantize() (naming the type
// and the tensor), not when the file is opened.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace xib::io {

/// GGUF metadata value types (the numbers are the file's).
enum class GgufType : uint32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12,
};

/// "u8", "i32", "f32", "bool", "string", "array", …; "type 42" for an unknown number.
std::string gguf_type_name(GgufType t);

/// One metadata value. Integers keep their exact value (u64 as uint64_t, others as int64_t);
/// f32/f64 as double; arrays hold their elements (all of `element_type()`; may nest).
class GgufValue {
 public:
  using Array = std::vector<GgufValue>;
  GgufValue() = default;
  GgufValue(GgufType type, std::variant<int64_t, uint64_t, double, bool, std::string, Array> v,
            GgufType element_type = GgufType::u8)
      : type_(type), element_type_(element_type), v_(std::move(v)) {}

  GgufType type() const { return type_; }
  /// Arrays: the type of the elements (meaningless for other values).
  GgufType element_type() const { return element_type_; }

  bool is_integer() const;  ///< u8 … u64, i8 … i64 (not bool)
  bool is_float() const { return type_ == GgufType::f32 || type_ == GgufType::f64; }
  bool is_bool() const { return type_ == GgufType::boolean; }
  bool is_string() const { return type_ == GgufType::string; }
  bool is_array() const { return type_ == GgufType::array; }

  /// Accessors return nullopt / nullptr on a type mismatch (GgufFile's get_*() turn that into a
  /// FormatError naming the key). as_int(): any integer type whose value fits in int64_t.
  std::optional<int64_t> as_int() const;
  /// Any integer or float.
  std::optional<double> as_float() const;
  std::optional<bool> as_bool() const;
  const std::string* as_string() const;
  const Array* as_array() const;

  /// Short text for listings: "u32 30", "f32 100000", "string \"llama\"" (cut at 60 chars),
  /// "bool false", "array[49152] of string".
  std::string render() const;

 private:
  GgufType type_ = GgufType::u8;
  GgufType element_type_ = GgufType::u8;
  std::variant<int64_t, uint64_t, double, bool, std::string, Array> v_;
};

/// ggml tensor types (the numbers are the file's). Every type below is recognised (its block
/// size is known, so the file's sizes can be checked); ggml_type_dequantizable() says which ones
/// dequantize() converts.
enum class GgmlType : uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  q8_k = 15,
  iq2_xxs = 16,
  iq2_xs = 17,
  iq3_xxs = 18,
  iq1_s = 19,
  iq4_nl = 20,
  iq3_s = 21,
  iq2_s = 22,
  iq4_xs = 23,
  i8 = 24,
  i16 = 25,
  i32 = 26,
  i64 = 27,
  f64 = 28,
  iq1_m = 29,
  bf16 = 30,
  tq1_0 = 34,
  tq2_0 = 35,
  mxfp4 = 39,
};

/// ggml's names: "F32", "Q4_1", "Q6_K", "BF16", …; "type 42" for an unknown number.
std::string ggml_type_name(GgmlType t);
/// Elements per block and bytes per block (1 and the element size for plain types); nullopt for
/// a number ggml does not define.
std::optional<std::pair<uint32_t, uint32_t>> ggml_type_block(GgmlType t);
/// F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K.
bool ggml_type_dequantizable(GgmlType t);
/// Converts `n` elements (a multiple of the block size) of `type` at `src` to f32, exactly as
/// ggml's dequantize_row_* does. FormatError for a type that is not dequantizable.
void dequantize_row(GgmlType type, const std::byte* src, float* dst, int64_t n);

/// One tensor of a GGUF file.
struct GgufTensorInfo {
  std::string name = {};
  GgmlType type = GgmlType::f32;
  std::vector<int64_t> dims = {};   ///< as stored: fastest-first (ne[0] is contiguous), all > 0
  uint64_t offset = 0;              ///< from the start of the data section (aligned)
  uint64_t nbytes = 0;              ///< bytes of the stored (possibly quantised) data
  const std::byte* data = nullptr;  ///< the stored bytes, valid while the GgufFile lives

  /// Row-major shape: dims reversed ({ne[n-1], …, ne[0]}).
  std::vector<int64_t> shape() const;
  int64_t numel() const;
};

/// A dequantised tensor, owning its values.
struct GgufTensor {
  std::vector<int64_t> shape = {};  ///< row-major (dims reversed)
  std::vector<float> data = {};     ///< numel() values, row-major
};

/// Defaults and limits.
inline constexpr uint32_t kGgufDefaultAlignment = 32;
inline constexpr uint32_t kGgufMaxDims = 4;        ///< GGML_MAX_DIMS
inline constexpr uint32_t kGgufMaxArrayDepth = 4;  ///< arrays of arrays nested deeper are refused

/// One .gguf file, memory-mapped read-only (version 2 or 3, little-endian).
class GgufFile {
 public:
  explicit GgufFile(const std::filesystem::path& file);
  /// Parses bytes already in memory; they are not copied and must outlive the object. `label`
  /// names the source in error messages.
  static GgufFile from_buffer(std::span<const std::byte> bytes, std::string label = "<memory>");

  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  ~GgufFile();

  /// The file, or the label given to from_buffer().
  const std::string& source() const { return source_; }
  uint32_t version() const { return version_; }
  /// general.alignment, or 32.
  uint32_t alignment() const { return alignment_; }
  /// Byte offset of the tensor data section in the file.
  uint64_t data_offset() const { return data_offset_; }

  // ---- metadata ----
  /// Keys in file order.
  const std::vector<std::string>& keys() const { return keys_; }
  /// The value, or nullptr when absent.
  const GgufValue* find(std::string_view key) const;
  /// The value; NotFoundError (with the nearest key) when absent.
  const GgufValue& get(std::string_view key) const;
  /// Typed getters: NotFoundError when absent, FormatError (naming key, expected and actual
  /// type) on a type mismatch.
  const std::string& get_string(std::string_view key) const;
  int64_t get_int(std::string_view key) const;   ///< any integer type, value fitting int64
  uint32_t get_u32(std::string_view key) const;  ///< any integer type, value in [0, 2^32)
  double get_float(std::string_view key) const;  ///< f32, f64 or any integer
  bool get_bool(std::string_view key) const;
  /// Arrays: every element must have the right kind (FormatError naming the index otherwise).
  std::vector<std::string> get_string_array(std::string_view key) const;
  std::vector<double> get_float_array(std::string_view key) const;  ///< f32/f64/integer elements
  std::vector<int64_t> get_int_array(std::string_view key) const;   ///< integer elements
  /// With a default for an absent key (a present key of the wrong type is still an error).
  std::string get_string_or(std::string_view key, std::string fallback) const;
  int64_t get_int_or(std::string_view key, int64_t fallback) const;
  double get_float_or(std::string_view key, double fallback) const;
  bool get_bool_or(std::string_view key, bool fallback) const;

  // ---- tensors ----
  /// In file (info) order.
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  /// NotFoundError (with the nearest name) when absent.
  const GgufTensorInfo& tensor(std::string_view name) const;
  /// The tensor as f32, row-major shape (dims reversed). FormatError naming the type and the
  /// tensor when its type is not dequantizable (Q5_*, IQ*, …).
  GgufTensor dequantize(std::string_view name) const;
  GgufTensor dequantize(const GgufTensorInfo& info) const;

 private:
  struct Mapping;
  GgufFile() = default;
  void parse(std::span<const std::byte> bytes);

  std::unique_ptr<Mapping> mapping_;
  std::string source_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<std::string> keys_;
  std::map<std::string, GgufValue, std::less<>> values_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace xib::io
