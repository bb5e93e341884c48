// CTranslate2 model files (model.bin of a converted model folder), torch-free and memory-mapped.
//
// Layout (little-endian, as ctranslate2/specs/model_spec.py writes it): u32 binary version
// (1 … 6); from version 2 the spec name (string) and a u32 spec revision; u32 variable count;
// per variable: name (string), u8 rank, rank × u32 dims, from version 4 a u8 dtype (0 float32,
// 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16) and u32 byte count (before: u8 item size and
// u32 element count), then the bytes; from version 3 a u32 alias count and per alias two strings
// (the alias, the variable it names). Strings are a u16 length counting a terminating NUL, then
// the bytes and the NUL.
//
//   xib::io::Ct2File f("model.bin");              // mmap + full validation
//   f.spec();                                     // "WhisperSpec"
//   f.find("encoder.conv1.weight");               // a TensorRecord into the mapping (or nullptr)
//
// Every count, length and size is checked against the file before it is trusted (a header that
// claims 2^32 variables or a 4 GiB tensor in a small file is refused before allocating); every
// malformed file is a FormatError naming the file, the variable and the byte offset.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "xib/io/tensor_record.h"

namespace xib::io {

class MappedFile;

class Ct2File {
 public:
  static constexpr uint32_t kMaxBinaryVersion = 6;

  explicit Ct2File(const std::filesystem::path& file);
  /// Parses bytes the caller keeps alive as long as the result (the fuzz target's entry);
  /// `name` stands for the file in messages.
  static Ct2File from_buffer(std::span<const std::byte> bytes, const std::filesystem::path& name);
  ~Ct2File();
  Ct2File(Ct2File&&) noexcept;
  Ct2File& operator=(Ct2File&&) noexcept;

  uint32_t binary_version() const { return version_; }
  const std::string& spec() const { return spec_; }  ///< empty before version 2
  uint32_t revision() const { return revision_; }
  /// The variables in file order (ctranslate2 writes them sorted by name); data points into the mapping.
  const std::vector<TensorRecord>& variables() const { return variables_; }
  /// (alias, variable name) pairs.
  const std::vector<std::pair<std::string, std::string>>& aliases() const { return aliases_; }
  /// A variable by name or alias, or nullptr.
  const TensorRecord* find(std::string_view name) const;
  const std::filesystem::path& path() const { return path_; }

 private:
  Ct2File() = default;
  void parse(std::span<const std::byte> bytes);

  std::filesystem::path path_;
  std::unique_ptr<MappedFile> map_;
  uint32_t version_ = 0;
  std::string spec_;
  uint32_t revision_ = 1;
  std::vector<TensorRecord> variables_;
  std::vector<std::pair<std::string, std::string>> aliases_;
};

/// True when `head` (a file's first bytes) looks like a CTranslate2 model: a version in 2 … 6
/// and a NUL-terminated printable spec name (version 1 files have nothing to recognise them by).
bool looks_like_ctranslate2(std::string_view head);

}  // namespace xib::io
