// CTranslate2 model reader (xib/io/ctranslate2.h): a cursor over the mapping that checks every
// read against the file's end, and the variables as TensorRecords into the mapping. Torch-free.
#include "xib/io/ctranslate2.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "mapped_file.h"
#include "xib/error.h"

namespace xib::io {

namespace fs = std::filesystem;

namespace {

/// ctranslate2's DataType enum (include/ctranslate2/types.h).
constexpr DType kTypes[] = {DType::f32, DType::i8, DType::i16, DType::i32, DType::f16, DType::bf16};
constexpr const char* kTypeNames[] = {"float32", "int8", "int16", "int32", "float16", "bfloat16"};

class Cursor {
 public:
  Cursor(std::span<const std::byte> bytes, const fs::path& file) : b_(bytes), file_(file) {}

  size_t offset() const { return pos_; }
  size_t left() const { return b_.size() - pos_; }

  [[noreturn]] void fail(const std::string& what, const std::string& expected, const std::string& got) const {
    throw FormatError(
        {.what = fmt::format("'{}' is not a valid CTranslate2 model: {}", file_.string(), what),
         .where = fmt::format("{} at byte {}", file_.string(), pos_),
         .expected = expected,
         .got = got,
         .hint = "the file is truncated or damaged: convert the model again (ct2-transformers-converter)"});
  }
  void need(size_t n, const std::string& what) const {
    if (n > left())
      fail(what + " runs past the end of the file", fmt::format("{} more bytes", n),
           fmt::format("{} bytes left", left()));
  }
  template <class T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string string(const std::string& what) {
    const auto n = read<uint16_t>(what + " length");
    if (n == 0) fail(what + " has length 0", "a length counting its terminating NUL (≥ 1)", "0");
    need(n, what);
    const char* p = reinterpret_cast<const char*>(b_.data() + pos_);
    if (p[n - 1] != '\0') fail(what + " is not NUL-terminated", "a NUL as its last byte", "another byte");
    std::string s(p, n - 1);
    if (s.find('\0') != std::string::npos) fail(what + " holds a NUL", "text", "a NUL inside");
    pos_ += n;
    return s;
  }
  const std::byte* take(size_t n, const std::string& what) {
    need(n, what);
    const std::byte* p = b_.data() + pos_;
    pos_ += n;
    return p;
  }

 private:
  std::span<const std::byte> b_;
  const fs::path& file_;
  size_t pos_ = 0;
};

}  // namespace

bool looks_like_ctranslate2(std::string_view head) {
  if (head.size() < 4) return false;
  uint32_t version = 0;
  std::memcpy(&version, head.data(), 4);
  // Version 1 (CTranslate2 1.x) starts with nothing else to recognise: not sniffed.
  if (version < 2 || version > Ct2File::kMaxBinaryVersion) return false;
  if (head.size() < 7) return false;
  uint16_t n = 0;
  std::memcpy(&n, head.data() + 4, 2);
  if (n < 2 || n > 256 || head.size() < 6u + n) return false;
  const std::string_view name = head.substr(6, n);
  if (name.back() != '\0') return false;
  return std::all_of(name.begin(), name.end() - 1, [](char c) { return c > 0x20 && c < 0x7f; });
}

Ct2File::Ct2File(const fs::path& file) : path_(file), map_(std::make_unique<MappedFile>(file, "CTranslate2 model")) {
  parse(map_->bytes());
}

Ct2File Ct2File::from_buffer(std::span<const std::byte> bytes, const fs::path& name) {
  Ct2File f;
  f.path_ = name;
  f.parse(bytes);
  return f;
}

void Ct2File::parse(std::span<const std::byte> bytes) {
  const fs::path& file = path_;
  Cursor c(bytes, path_);
  version_ = c.read<uint32_t>("the binary version");
  if (version_ < 1 || version_ > kMaxBinaryVersion) {
    throw FormatError({.what = fmt::format("'{}' has a CTranslate2 binary version xib does not read", file.string()),
                       .where = file.string(),
                       .expected = fmt::format("1 … {}", kMaxBinaryVersion),
                       .got = std::to_string(version_),
                       .hint = version_ > kMaxBinaryVersion ? "written by a newer CTranslate2: convert it with "
                                                              "ctranslate2 4.x, or report it"
                                                            : "not a CTranslate2 model.bin"});
  }
  if (version_ >= 2) {
    spec_ = c.string("the spec name");
    revision_ = c.read<uint32_t>("the spec revision");
  }
  const auto count = c.read<uint32_t>("the variable count");
  // Each variable takes at least 2 (name) + 1 (rank) + 1 + 4 bytes: a count the file cannot hold is refused now.
  if (static_cast<uint64_t>(count) * 8 > c.left()) {
    c.fail(fmt::format("it claims {} variables", count), fmt::format("at most {} in the bytes left", c.left() / 8),
           std::to_string(count));
  }
  variables_.reserve(count);
  std::set<std::string, std::less<>> names;
  for (uint32_t i = 0; i < count; ++i) {
    const std::string where = fmt::format("variable {}", i);
    TensorRecord r;
    r.name = c.string(where + "'s name");
    const std::string v = fmt::format("variable '{}'", r.name);
    if (!names.insert(r.name).second) c.fail(v + " appears twice", "unique names", r.name);
    const auto rank = c.read<uint8_t>(v + "'s rank");
    for (uint8_t d = 0; d < rank; ++d) r.shape.push_back(c.read<uint32_t>(v + "'s dimensions"));
    uint64_t bytes = 0;
    if (version_ >= 4) {
      const auto type = c.read<uint8_t>(v + "'s dtype");
      if (type >= std::size(kTypes)) {
        c.fail(v + " has an unknown dtype", "0 … 5 (float32, int8, int16, int32, float16, bfloat16)",
               std::to_string(type));
      }
      r.dtype = kTypes[type];
      bytes = c.read<uint32_t>(v + "'s byte count");
    } else {
      const auto item = c.read<uint8_t>(v + "'s item size");
      r.dtype = item == 4 ? DType::f32 : item == 2 ? DType::i16 : item == 1 ? DType::i8 : DType::boolean;
      if (r.dtype == DType::boolean)
        c.fail(v + " has an item size xib does not read", "1, 2 or 4", std::to_string(item));
      bytes = static_cast<uint64_t>(c.read<uint32_t>(v + "'s element count")) * item;
    }
    uint64_t numel = 0, want = 0;
    if (!checked_byte_size(r.shape, r.dtype, numel, want) || want != bytes) {
      c.fail(v + "'s byte count does not match its shape and dtype",
             fmt::format("{} bytes ({} elements of {})", want, numel, dtype_name(r.dtype)), fmt::format("{}", bytes));
    }
    r.data = c.take(static_cast<size_t>(bytes), v + "'s data");
    r.storage_bytes = static_cast<size_t>(bytes);
    variables_.push_back(std::move(r));
  }
  if (version_ >= 3) {
    const auto n = c.read<uint32_t>("the alias count");
    if (static_cast<uint64_t>(n) * 4 > c.left()) {
      c.fail(fmt::format("it claims {} aliases", n), fmt::format("at most {} in the bytes left", c.left() / 4),
             std::to_string(n));
    }
    for (uint32_t i = 0; i < n; ++i) {
      std::string alias = c.string(fmt::format("alias {}'s name", i));
      std::string target = c.string(fmt::format("alias '{}''s variable", alias));
      if (!names.count(target)) c.fail(fmt::format("alias '{}' names no variable", alias), "a variable's name", target);
      if (!names.insert(alias).second)
        c.fail(fmt::format("alias '{}' is also a variable's name", alias), "a new name", alias);
      aliases_.emplace_back(std::move(alias), std::move(target));
    }
  }
  if (c.left() != 0) {
    c.fail("bytes follow the last alias", "the end of the file", fmt::format("{} more bytes", c.left()));
  }
}

Ct2File::~Ct2File() = default;
Ct2File::Ct2File(Ct2File&&) noexcept = default;
Ct2File& Ct2File::operator=(Ct2File&&) noexcept = default;

const TensorRecord* Ct2File::find(std::string_view name) const {
  for (const auto& [alias, target] : aliases_) {
    if (alias == name) return find(target);
  }
  const auto it = std::find_if(variables_.begin(), variables_.end(), [&](const auto& r) { return r.name == name; });
  return it == variables_.end() ? nullptr : &*it;
}

}  // namespace xib::io
