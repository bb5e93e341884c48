// GgufFile: maps a .gguf file and validates its header, metadata and tensor infos against the
// file size before anything is used (see xib/io/gguf.h for the layout).
#include "xib/io/gguf.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>

#include "gguf_detail.h"
#include "mapped_file.h"
#include "xib/config.h"
#include "xib/error.h"

namespace xib::io {

namespace fs = std::filesystem;
using gguf_detail::fail;
using gguf_detail::load_le;
using gguf_detail::where;

namespace {

/// Bytes of a fixed-size value type; 0 for string/array/unknown.
size_t fixed_size(GgufType t) {
  switch (t) {
    case GgufType::u8:
    case GgufType::i8:
    case GgufType::boolean:
      return 1;
    case GgufType::u16:
    case GgufType::i16:
      return 2;
    case GgufType::u32:
    case GgufType::i32:
    case GgufType::f32:
      return 4;
    case GgufType::u64:
    case GgufType::i64:
    case GgufType::f64:
      return 8;
    default:
      return 0;
  }
}

/// The fewest bytes one value of type `t` can occupy (used to bound counts read from the file).
size_t min_size(GgufType t) {
  if (t == GgufType::string) return 8;
  if (t == GgufType::array) return 12;
  return fixed_size(t);
}

constexpr const char* kValueTypes = "0 … 12 (u8, i8, u16, i16, u32, i32, f32, bool, string, array, u64, i64, f64)";

/// Reads the file front to back; every read is bounds-checked and reports the byte offset.
class Reader {
 public:
  Reader(std::span<const std::byte> bytes, const std::string& source) : b_(bytes), source_(source) {}

  size_t pos() const { return pos_; }
  size_t left() const { return b_.size() - pos_; }
  /// Where errors point: the current key or tensor, if any.
  std::string_view ctx_kind, ctx_name;

  std::string at(size_t byte) const { return where(source_, ctx_kind, ctx_name, static_cast<int64_t>(byte)); }

  void need(size_t n, std::string_view what) const {
    if (n > left())
      fail(at(pos_), fmt::format("file ends inside {}", what), fmt::format("{} more bytes", n),
           fmt::format("{} bytes left in the file ({} bytes in all)", left(), b_.size()),
           "the file is truncated (an interrupted download?)");
  }
  template <class T>
  T read(std::string_view what) {
    need(sizeof(T), what);
    const T v = load_le<T>(b_.data() + pos_);
    pos_ += sizeof(T);
    return v;
  }
  std::string read_string(std::string_view what) {
    const size_t start = pos_;
    const auto n = read<uint64_t>(what);
    if (n > left())
      fail(at(start), fmt::format("{} length runs past the end of the file", what),
           fmt::format("at most {} bytes (what is left of the file)", left()), fmt::format("{} bytes", n),
           "the file is truncated or corrupt");
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }
  /// A count of items of at least `each` bytes: bounded by what the file can hold.
  uint64_t read_count(std::string_view what, size_t each) {
    const size_t start = pos_;
    const auto n = read<uint64_t>(what);
    const uint64_t most = each == 0 ? left() : left() / each;
    if (n > most)
      fail(at(start), fmt::format("{} is larger than the file can hold", what),
           fmt::format("at most {} (items of at least {} bytes in the {} bytes left)", most, each, left()),
           fmt::format("{}", n), "the file is truncated or corrupt");
    return n;
  }
  GgufType read_type(std::string_view what) {
    const size_t start = pos_;
    const auto t = read<uint32_t>(what);
    if (t > static_cast<uint32_t>(GgufType::f64))
      fail(at(start), fmt::format("unknown metadata value type {}", t), kValueTypes, fmt::format("{}", t),
           "the file may be corrupt, or written by a newer GGUF version");
    return static_cast<GgufType>(t);
  }

  GgufValue read_value(GgufType t, uint32_t depth) {
    switch (t) {
      case GgufType::u8:
        return {t, static_cast<int64_t>(read<uint8_t>("a u8 value"))};
      case GgufType::i8:
        return {t, static_cast<int64_t>(read<int8_t>("an i8 value"))};
      case GgufType::u16:
        return {t, static_cast<int64_t>(read<uint16_t>("a u16 value"))};
      case GgufType::i16:
        return {t, static_cast<int64_t>(read<int16_t>("an i16 value"))};
      case GgufType::u32:
        return {t, static_cast<int64_t>(read<uint32_t>("a u32 value"))};
      case GgufType::i32:
        return {t, static_cast<int64_t>(read<int32_t>("an i32 value"))};
      case GgufType::u64:
        return {t, read<uint64_t>("a u64 value")};
      case GgufType::i64:
        return {t, read<int64_t>("an i64 value")};
      case GgufType::f32:
        return {t, static_cast<double>(read<float>("an f32 value"))};
      case GgufType::f64:
        return {t, read<double>("an f64 value")};
      case GgufType::boolean: {
        const size_t start = pos_;
        const auto v = read<uint8_t>("a bool value");
        if (v > 1) fail(at(start), "bool value is neither 0 nor 1", "0 or 1", fmt::format("{}", v));
        return {t, v == 1};
      }
      case GgufType::string:
        return {t, read_string("string")};
      case GgufType::array: {
        const size_t start = pos_;
        if (depth >= kGgufMaxArrayDepth)
          fail(at(start), "metadata arrays nested too deeply", fmt::format("at most {} levels", kGgufMaxArrayDepth),
               "a deeper array");
        const GgufType et = read_type("array element type");
        const uint64_t n = read_count("array length", min_size(et));
        GgufValue::Array items;
        items.reserve(static_cast<size_t>(n));
        for (uint64_t i = 0; i < n; ++i) items.push_back(read_value(et, depth + 1));
        return {t, std::move(items), et};
      }
    }
    fail(at(pos_), "unknown metadata value type", kValueTypes, fmt::format("{}", static_cast<uint32_t>(t)));
  }

 private:
  std::span<const std::byte> b_;
  const std::string& source_;
  size_t pos_ = 0;
};

std::string first_bytes(std::span<const std::byte> b) {
  return b.empty() ? "an empty file" : first_bytes_text(b.first(std::min<size_t>(b.size(), 8)));
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct GgufFile::Mapping : MappedFile {
  using MappedFile::MappedFile;
};

GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

GgufFile::GgufFile(const fs::path& file) : source_(file.string()) {
  mapping_ = std::make_unique<Mapping>(file, "GGUF file");
  parse(mapping_->bytes());
}

GgufFile GgufFile::from_buffer(std::span<const std::byte> bytes, std::string label) {
  GgufFile f;
  f.source_ = std::move(label);
  f.parse(bytes);
  return f;
}

void GgufFile::parse(std::span<const std::byte> bytes) {
  Reader r(bytes, source_);
  if (bytes.size() < 4 || std::memcmp(bytes.data(), "GGUF", 4) != 0)
    fail(source_, "not a GGUF file", "the magic \"GGUF\" in the first 4 bytes", first_bytes(bytes),
         "GGUF files are written by llama.cpp's converters (convert_hf_to_gguf.py)");
  (void)r.read<uint32_t>("the magic");
  version_ = r.read<uint32_t>("the version");
  if (version_ == 1)
    fail(r.at(4), "GGUF version 1 is not supported", "version 2 or 3", "version 1",
         "version 1 (2023) used 32-bit counts; re-convert the model with a recent llama.cpp");
  if (version_ == 0x02000000u || version_ == 0x03000000u)
    fail(r.at(4), "big-endian GGUF files are not supported", "a little-endian GGUF file (version 2 or 3)",
         fmt::format("version bytes of a big-endian v{}", version_ >> 24), "convert the model without --bigendian");
  if (version_ < 2 || version_ > 3)
    fail(r.at(4), fmt::format("unsupported GGUF version {}", version_), "version 2 or 3",
         fmt::format("version {}", version_), "the file is corrupt, or written by a newer llama.cpp than xib knows");

  // Counts are bounded by what the rest of the file can hold: a tensor info takes at least 32
  // bytes (name length, n_dims, one dim, type, offset), a key/value at least 13.
  const uint64_t n_tensors = r.read_count("tensor count", 32);
  const uint64_t n_kv = r.read_count("metadata count", 13);

  for (uint64_t i = 0; i < n_kv; ++i) {
    const size_t start = r.pos();
    r.ctx_kind = "metadata entry";
    const std::string index = fmt::format("#{}", i);
    r.ctx_name = index;
    std::string key = r.read_string("metadata key");
    if (values_.count(key))
      fail(r.at(start), fmt::format("duplicate metadata key '{}'", key), "each key once", "the key twice");
    r.ctx_kind = "key";
    r.ctx_name = key;
    const GgufType t = r.read_type("metadata value type");
    GgufValue v = r.read_value(t, 0);
    r.ctx_kind = {};
    r.ctx_name = {};
    keys_.push_back(key);
    values_.emplace(std::move(key), std::move(v));
  }

  if (const GgufValue* a = find("general.alignment")) {
    const auto n = a->as_int();
    if (a->type() != GgufType::u32 || !n || *n == 0 || (*n & (*n - 1)) != 0)
      fail(where(source_, "key", "general.alignment"), "bad general.alignment", "a u32 power of two (default 32)",
           a->render());
    alignment_ = static_cast<uint32_t>(*n);
  }

  struct Pending {
    size_t info_start;
  };
  std::vector<Pending> starts;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    const size_t start = r.pos();
    const std::string index = fmt::format("#{}", i);
    r.ctx_kind = "tensor";
    r.ctx_name = index;
    GgufTensorInfo info;
    info.name = r.read_string("tensor name");
    if (tensor_index_.count(info.name))
      fail(r.at(start), fmt::format("duplicate tensor name '{}'", info.name), "each tensor once", "the name twice");
    r.ctx_name = info.name;
    const size_t dims_at = r.pos();
    const auto n_dims = r.read<uint32_t>("tensor n_dims");
    if (n_dims == 0 || n_dims > kGgufMaxDims)
      fail(r.at(dims_at), "tensor has a bad number of dimensions", fmt::format("1 … {}", kGgufMaxDims),
           fmt::format("{}", n_dims));
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const size_t at = r.pos();
      const auto ne = r.read<int64_t>("tensor dimension");
      if (ne <= 0)
        fail(r.at(at), fmt::format("tensor dimension {} is not positive", d), "dimensions > 0", fmt::format("{}", ne));
      if (__builtin_mul_overflow(numel, static_cast<uint64_t>(ne), &numel) ||
          numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        fail(r.at(at), "tensor has too many elements", "a number of elements that fits in 63 bits", "more");
      info.dims.push_back(ne);
    }
    const size_t type_at = r.pos();
    const auto type = r.read<uint32_t>("tensor type");
    info.type = static_cast<GgmlType>(type);
    const auto block = ggml_type_block(info.type);
    if (!block)
      fail(r.at(type_at), fmt::format("unknown ggml tensor type {}", type),
           "a ggml type number (0 F32, 1 F16, 2 Q4_0, 3 Q4_1, 8 Q8_0, 12 Q4_K, 14 Q6_K, 30 BF16, …)",
           fmt::format("{}", type), "the file may be written by a newer llama.cpp than xib knows");
    if (info.dims[0] % block->first != 0)
      fail(r.at(dims_at),
           fmt::format("tensor's first dimension is not a multiple of the {} block size", ggml_type_name(info.type)),
           fmt::format("a multiple of {}", block->first), fmt::format("{}", info.dims[0]));
    if (__builtin_mul_overflow(numel / block->first, static_cast<uint64_t>(block->second), &info.nbytes))
      fail(r.at(dims_at), "tensor byte size overflows", "a size that fits in 64 bits", "more");
    const size_t off_at = r.pos();
    info.offset = r.read<uint64_t>("tensor offset");
    if (info.offset % alignment_ != 0)
      fail(r.at(off_at), "tensor data offset is not aligned",
           fmt::format("a multiple of {} (general.alignment)", alignment_), fmt::format("{}", info.offset));
    r.ctx_kind = {};
    r.ctx_name = {};
    starts.push_back({start});
    tensor_index_.emplace(info.name, tensors_.size());
    tensors_.push_back(std::move(info));
  }

  // The data section starts at the next multiple of the alignment.
  const uint64_t end = r.pos();
  data_offset_ = (end + alignment_ - 1) / alignment_ * alignment_;
  const uint64_t size = bytes.size();
  const uint64_t data_size = data_offset_ <= size ? size - data_offset_ : 0;
  if (!tensors_.empty() && data_offset_ > size)
    fail(where(source_, {}, {}, static_cast<int64_t>(end)), "file ends before its tensor data section",
         fmt::format("at least {} bytes", data_offset_), fmt::format("{} bytes", size), "the file is truncated");
  for (size_t i = 0; i < tensors_.size(); ++i) {
    GgufTensorInfo& t = tensors_[i];
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      fail(where(source_, "tensor", t.name, static_cast<int64_t>(starts[i].info_start)),
           "tensor data runs past the end of the file",
           fmt::format("offset + {} bytes <= {} (the data section's size)", t.nbytes, data_size),
           fmt::format("offset {}", t.offset), "the file is truncated (an interrupted download?)");
    t.data = bytes.data() + data_offset_ + t.offset;
  }
  // Byte ranges must not overlap.
  std::vector<const GgufTensorInfo*> by_offset;
  for (const auto& t : tensors_) by_offset.push_back(&t);
  std::stable_sort(by_offset.begin(), by_offset.end(),
                   [](const auto* a, const auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const auto *prev = by_offset[i - 1], *cur = by_offset[i];
    if (cur->offset < prev->offset + prev->nbytes)
      fail(where(source_, "tensor", cur->name), fmt::format("tensor data overlaps tensor '{}'", prev->name),
           fmt::format("offset >= {} (where '{}' ends)", prev->offset + prev->nbytes, prev->name),
           fmt::format("offset {}", cur->offset));
  }
}

// ---------------------------------------------------------------------------------------------

std::vector<int64_t> GgufTensorInfo::shape() const { return {dims.rbegin(), dims.rend()}; }

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensorInfo& GgufFile::tensor(std::string_view name) const {
  if (const auto* t = find_tensor(name)) return *t;
  std::vector<std::string> names;
  for (const auto& t : tensors_) names.push_back(t.name);
  std::vector<std::string> some(names.begin(),
                                names.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(names.size(), 5)));
  std::string known = names.empty() ? "(no tensors)" : join_names(some);
  if (names.size() > some.size()) known += fmt::format(", … ({} tensors)", names.size());
  const auto near = nearest_name(name, names);
  throw NotFoundError({.what = fmt::format("no tensor '{}' in '{}'", name, source_),
                       .where = source_,
                       .expected = "one of: " + known,
                       .got = std::string(name),
                       .hint = near ? fmt::format("did you mean '{}'?", *near) : std::string()});
}

}  // namespace xib::io
