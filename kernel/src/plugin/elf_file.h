// A bounds-checked reader of ELF64 section tables: enough to find a plugin's info record in
// the file without loading it. Every offset and size is checked against the file before use,
// so a truncated or hostile file gives an error, never a crash.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace xib::elf {

struct Section {
  std::string name;
  uint32_t type = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint32_t link = 0;  ///< for symbol tables: index of their string table
};

/// Thrown with a human reason ("not an ELF file", "truncated section table").
struct ElfError {
  std::string reason;
};

class File {
 public:
  /// Reads the header and section table; throws ElfError. Requires a 64-bit little-endian
  /// shared object for this machine.
  explicit File(const std::filesystem::path& path);
  const std::vector<Section>& sections() const { return sections_; }
  const Section* find(const std::string& name) const;
  /// The bytes of a section (SHT_NOBITS sections have none); throws ElfError if out of range.
  std::vector<char> read(const Section& s, uint64_t max_bytes = 1 << 20) const;
  /// Names of the defined, globally visible symbols of the dynamic symbol table (.dynsym):
  /// what dlsym() can find. Read with the table's own string table (sh_link).
  std::vector<std::string> exported_symbols() const;

 private:
  std::filesystem::path path_;
  uint64_t file_size_ = 0;
  std::vector<Section> sections_;
};

}  // namespace xib::elf
