#include "elf_file.h"

#include <cstring>
#include <fstream>

namespace xib::elf {

namespace {

// ELF64 constants (from the System V ABI); spelled out so the reader needs no <elf.h>.
constexpr unsigned char kMagic[4] = {0x7f, 'E', 'L', 'F'};
constexpr int kClass64 = 2, kDataLittle = 1;
constexpr uint16_t kTypeShared = 3;
constexpr uint32_t kNoBits = 8, kDynSym = 11;
constexpr size_t kSymbolSize = 24;  // Elf64_Sym
constexpr size_t kHeaderSize = 64, kSectionHeaderSize = 64;
#if defined(__x86_64__)
constexpr uint16_t kMachine = 62;  // EM_X86_64
#elif defined(__aarch64__)
constexpr uint16_t kMachine = 183;  // EM_AARCH64
#else
constexpr uint16_t kMachine = 0;  // unchecked
#endif

template <class T>
T load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);  // little-endian host assumed (checked by the header test)
  return v;
}

std::vector<char> read_range(std::ifstream& in, uint64_t offset, uint64_t size) {
  std::vector<char> buf(size);
  in.seekg(static_cast<std::streamoff>(offset));
  if (size && !in.read(buf.data(), static_cast<std::streamsize>(size))) throw ElfError{"read failed"};
  return buf;
}

}  // namespace

File::File(const std::filesystem::path& path) : path_(path) {
  std::error_code ec;
  file_size_ = std::filesystem::file_size(path, ec);
  if (ec) throw ElfError{"cannot read: " + ec.message()};
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ElfError{"cannot open the file"};
  if (file_size_ < kHeaderSize) throw ElfError{"not an ELF shared library (file too small)"};
  const std::vector<char> h = read_range(in, 0, kHeaderSize);
  if (std::memcmp(h.data(), kMagic, 4) != 0) throw ElfError{"not an ELF shared library (no ELF magic)"};
  if (h[4] != kClass64) throw ElfError{"not a 64-bit ELF file"};
  if (h[5] != kDataLittle) throw ElfError{"not a little-endian ELF file"};
  const auto type = load<uint16_t>(&h[16]);
  const auto machine = load<uint16_t>(&h[18]);
  if (type != kTypeShared) throw ElfError{"an ELF file, but not a shared library (type " + std::to_string(type) + ")"};
  if (kMachine && machine != kMachine) {
    throw ElfError{"built for another CPU architecture (ELF machine " + std::to_string(machine) + ")"};
  }
  const auto shoff = load<uint64_t>(&h[40]);
  const auto shentsize = load<uint16_t>(&h[58]);
  const auto shnum = load<uint16_t>(&h[60]);
  const auto shstrndx = load<uint16_t>(&h[62]);
  if (shnum == 0) throw ElfError{"the ELF file has no section table"};
  if (shentsize != kSectionHeaderSize) throw ElfError{"unexpected ELF section header size"};
  if (shoff > file_size_ || uint64_t(shnum) * shentsize > file_size_ - shoff) {
    throw ElfError{"truncated or corrupt ELF file (section table past the end)"};
  }
  if (shstrndx >= shnum) throw ElfError{"corrupt ELF file (bad section name table index)"};

  const std::vector<char> table = read_range(in, shoff, uint64_t(shnum) * shentsize);
  struct Raw {
    uint32_t name, type;
    uint64_t offset, size;
    uint32_t link;
  };
  std::vector<Raw> raw(shnum);
  for (size_t i = 0; i < shnum; ++i) {
    const char* p = &table[i * kSectionHeaderSize];
    raw[i] = {load<uint32_t>(p), load<uint32_t>(p + 4), load<uint64_t>(p + 24), load<uint64_t>(p + 32),
              load<uint32_t>(p + 40)};
  }
  const Raw& names = raw[shstrndx];
  if (names.offset > file_size_ || names.size > file_size_ - names.offset || names.size > (16u << 20)) {
    throw ElfError{"corrupt ELF file (section names past the end)"};
  }
  const std::vector<char> strtab = read_range(in, names.offset, names.size);
  for (const Raw& r : raw) {
    if (r.name >= strtab.size()) throw ElfError{"corrupt ELF file (section name out of range)"};
    const char* begin = strtab.data() + r.name;
    const void* nul = std::memchr(begin, '\0', strtab.size() - r.name);
    if (!nul) throw ElfError{"corrupt ELF file (unterminated section name)"};
    sections_.push_back({std::string(begin, static_cast<const char*>(nul)), r.type, r.offset, r.size, r.link});
  }
}

const Section* File::find(const std::string& name) const {
  for (const auto& s : sections_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::vector<char> File::read(const Section& s, uint64_t max_bytes) const {
  if (s.type == kNoBits) return {};
  if (s.size > max_bytes) throw ElfError{"section " + s.name + " is implausibly large"};
  if (s.offset > file_size_ || s.size > file_size_ - s.offset) {
    throw ElfError{"section " + s.name + " lies past the end of the file"};
  }
  std::ifstream in(path_, std::ios::binary);
  if (!in) throw ElfError{"cannot open the file"};
  return read_range(in, s.offset, s.size);
}

std::vector<std::string> File::exported_symbols() const {
  std::vector<std::string> out;
  for (const Section& s : sections_) {
    if (s.type != kDynSym) continue;
    if (s.link >= sections_.size()) throw ElfError{"corrupt ELF file (symbol table without string table)"};
    const std::vector<char> table = read(s, 64u << 20);
    const std::vector<char> names = read(sections_[s.link], 64u << 20);
    for (size_t off = 0; off + kSymbolSize <= table.size(); off += kSymbolSize) {
      const char* p = &table[off];
      const auto name = load<uint32_t>(p);
      const auto info = static_cast<unsigned char>(p[4]);
      const auto other = static_cast<unsigned char>(p[5]);
      const auto shndx = load<uint16_t>(p + 6);
      const int binding = info >> 4, visibility = other & 0x3;
      // Defined (not SHN_UNDEF), global or weak, default or protected visibility.
      if (shndx == 0 || (binding != 1 && binding != 2) || (visibility != 0 && visibility != 3)) continue;
      if (name >= names.size()) throw ElfError{"corrupt ELF file (symbol name out of range)"};
      const char* begin = names.data() + name;
      const void* nul = std::memchr(begin, '\0', names.size() - name);
      if (!nul) throw ElfError{"corrupt ELF file (unterminated symbol name)"};
      out.emplace_back(begin, static_cast<const char*>(nul));
    }
  }
  return out;
}

}  // namespace xib::elf
