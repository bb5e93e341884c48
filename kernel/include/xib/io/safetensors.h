// safetensors (https://github.com/huggingface/safetensors) reader and writer, torch-free.
//
// Layout: 8-byte little-endian header length N, N bytes of JSON header, then the data buffer.
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
// into the data buffer) and may hold "__metadata__": {string: string}.
//
//   xib::io::SafetensorsFile f("model.safetensors");   // mmap + full header validation
//   const auto& w = f.tensor("encoder.weight");          // zero-copy TensorRecord
//   xib::io::SafetensorsModel m("model.safetensors.index.json");  // sharded checkpoints too
//   xib::io::write_safetensors("out.safetensors", records, {{"format", "pt"}});  // atomic
//
// Every malformed file is a FormatError (an IoError when it cannot be read) naming the file and
// the tensor; nothing is touched before the whole header has been validated.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "xib/io/tensor_record.h"

namespace xib::io {

/// Largest header accepted (the reference implementation's limit).
inline constexpr size_t kSafetensorsMaxHeader = 100'000'000;

/// One .safetensors file, memory-mapped read-only. Records point into the mapping and stay
/// valid while the object (or whatever it was moved to) lives.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::filesystem::path& file);
  /// Parses bytes already in memory; they are not copied and must outlive the object. `label`
  /// names the source in error messages.
  static SafetensorsFile from_buffer(std::span<const std::byte> bytes, std::string label = "<memory>");

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  /// The file, or the label given to from_buffer().
  const std::string& source() const { return source_; }
  /// Tensor names in file order (by data offset).
  const std::vector<std::string>& names() const { return names_; }
  /// The "__metadata__" entries (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  /// Records in file order.
  const std::vector<TensorRecord>& records() const { return records_; }
  bool contains(std::string_view name) const { return index_.find(name) != index_.end(); }
  /// NotFoundError (with the nearest known name) when absent.
  const TensorRecord& tensor(std::string_view name) const;

 private:
  struct Mapping;
  SafetensorsFile() = default;
  void parse(std::span<const std::byte> bytes);

  std::unique_ptr<Mapping> mapping_;
  std::string source_;
  std::vector<std::string> names_;
  std::map<std::string, std::string> metadata_;
  std::vector<TensorRecord> records_;
  std::map<std::string, size_t, std::less<>> index_;
};

/// A checkpoint that is either one .safetensors file or a sharded one described by
/// "model.safetensors.index.json" ({"metadata": {…}, "weight_map": {tensor: shard file}}).
/// A folder is accepted too: its index file if present, else its "model.safetensors".
class SafetensorsModel {
 public:
  explicit SafetensorsModel(const std::filesystem::path& path);

  /// Tensor names: shard by shard (shards sorted by file name), file order within a shard.
  const std::vector<std::string>& names() const { return names_; }
  /// The single file's "__metadata__", or the index's "metadata" (non-string values as JSON).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::vector<TensorRecord>& records() const { return records_; }
  bool contains(std::string_view name) const { return index_.find(name) != index_.end(); }
  const TensorRecord& tensor(std::string_view name) const;
  /// The shard files opened, in name order.
  std::vector<std::filesystem::path> shard_files() const;

 private:
  std::filesystem::path source_;
  std::map<std::string, SafetensorsFile> shards_;  ///< by path relative to the index's folder
  std::vector<std::string> names_;
  std::map<std::string, std::string> metadata_;
  std::vector<TensorRecord> records_;
  std::map<std::string, size_t, std::less<>> index_;
};

/// The whole file in memory: header (padded with spaces to a multiple of 8, like the reference
/// implementation) then the tensors' bytes in the given order. Records must be contiguous and
/// uniquely named (FormatError otherwise).
std::string serialize_safetensors(const std::vector<TensorRecord>& records,
                                  const std::map<std::string, std::string>& metadata = {});

/// Writes `records` to `file` atomically: a temporary file in the same folder, fsync, rename.
/// On any failure the temporary file is removed and an existing `file` is left untouched.
/// Same checks as serialize_safetensors(); IoError when the file cannot be written.
void write_safetensors(const std::filesystem::path& file, const std::vector<TensorRecord>& records,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace xib::io
