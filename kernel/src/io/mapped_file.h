// A read-only private mapping of a whole regular file, shared by the mmap-based weight readers
// (safetensors, GGUF), and the "first bytes" rendering their format errors show.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace xib::io {

class MappedFile {
 public:
  /// Maps `file`; an empty file maps to no bytes. IoError (naming `kind`, e.g. "GGUF file")
  /// when it cannot be opened, is not a regular file, or cannot be mapped.
  MappedFile(const std::filesystem::path& file, std::string_view kind);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const std::byte> bytes() const { return {data_, size_}; }

 private:
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

/// `bytes` as hex and, where printable, as text: first bytes 47 47 55 46 ("GGUF").
std::string first_bytes_text(std::span<const std::byte> bytes);

}  // namespace xib::io
