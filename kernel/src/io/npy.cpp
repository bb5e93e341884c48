// .npy reading and writing (xib/io/npy.h).
#include "xib/io/npy.h"

#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <optional>
#include <string_view>

#include "xib/error.h"

namespace xib::io {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

[[noreturn]] void bad(const std::string& label, std::string what, std::string expected, std::string got,
                      std::string hint = {}) {
  throw FormatError({.what = "not a usable .npy file: " + std::move(what),
                     .where = label,
                     .expected = std::move(expected),
                     .got = std::move(got),
                     .hint = hint.empty() ? "write it with numpy.save() (C order, little-endian)" : std::move(hint)});
}

/// numpy's dtype strings → ours ('<' little-endian, '|' byte-order free, '=' native = little here).
std::optional<DType> dtype_of(std::string_view descr, bool& big_endian) {
  big_endian = false;
  if (descr.size() < 2) return std::nullopt;
  const char order = descr[0];
  const std::string_view kind = descr.substr(1);
  if (order == '>') big_endian = true;
  if (order != '<' && order != '|' && order != '=' && order != '>') return std::nullopt;
  if (kind == "f8") return DType::f64;
  if (kind == "f4") return DType::f32;
  if (kind == "f2") return DType::f16;
  if (kind == "i8") return DType::i64;
  if (kind == "i4") return DType::i32;
  if (kind == "i2") return DType::i16;
  if (kind == "i1") return DType::i8;
  if (kind == "u1") return DType::u8;
  if (kind == "b1") return DType::boolean;
  return std::nullopt;
}

std::string_view descr_of(DType t) {
  switch (t) {
    case DType::f64:
      return "<f8";
    case DType::f32:
      return "<f4";
    case DType::f16:
      return "<f2";
    case DType::i64:
      return "<i8";
    case DType::i32:
      return "<i4";
    case DType::i16:
      return "<i2";
    case DType::i8:
      return "|i1";
    case DType::u8:
      return "|u1";
    case DType::boolean:
      return "|b1";
    case DType::bf16:
      break;
  }
  return {};
}

/// A tiny reader of the header's Python dict literal: {'descr': '<f4', 'fortran_order': False,
/// 'shape': (3, 4), }.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& label) : s_(text), label_(label) {}

  void parse(std::string& descr, bool& fortran, std::vector<int64_t>& shape) {
    bool has_descr = false, has_fortran = false, has_shape = false;
    expect('{');
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = quoted();
      expect(':');
      if (key == "descr") {
        descr = quoted();
        has_descr = true;
      } else if (key == "fortran_order") {
        fortran = boolean();
        has_fortran = true;
      } else if (key == "shape") {
        shape = tuple();
        has_shape = true;
      } else {
        bad(label_, "unknown header key", "'descr', 'fortran_order' and 'shape'", "'" + key + "'");
      }
      skip_space();
      if (peek() == ',') ++i_;
    }
    if (!has_descr || !has_fortran || !has_shape) {
      bad(label_, "the header lacks a key", "'descr', 'fortran_order' and 'shape'", std::string(s_));
    }
  }

 private:
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n')) ++i_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c)
      bad(label_, fmt::format("malformed header at character {}", i_), fmt::format("'{}'", c), context());
    ++i_;
  }
  std::string context() const { return fmt::format("'{}'", s_.substr(i_, 20)); }
  std::string quoted() {
    skip_space();
    const char q = peek();
    if (q != '\'' && q != '"')
      bad(label_, fmt::format("malformed header at character {}", i_), "a quoted string", context());
    const size_t end = s_.find(q, i_ + 1);
    if (end == std::string_view::npos) bad(label_, "unterminated string in the header", "a closing quote", context());
    std::string out(s_.substr(i_ + 1, end - i_ - 1));
    i_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_space();
    if (s_.substr(i_, 4) == "True") {
      i_ += 4;
      return true;
    }
    if (s_.substr(i_, 5) == "False") {
      i_ += 5;
      return false;
    }
    bad(label_, "fortran_order is not a boolean", "True or False", context());
  }
  std::vector<int64_t> tuple() {
    expect('(');
    std::vector<int64_t> out;
    for (;;) {
      skip_space();
      if (peek() == ')') {
        ++i_;
        return out;
      }
      size_t start = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      if (start == i_ || i_ - start > 18)
        bad(label_, "a bad dimension in the shape", "a non-negative integer", context());
      out.push_back(std::stoll(std::string(s_.substr(start, i_ - start))));
      if (out.size() > 32) bad(label_, "too many dimensions", "at most 32", "more");
      skip_space();
      if (peek() == ',') ++i_;
    }
  }

  std::string_view s_;
  const std::string& label_;
  size_t i_ = 0;
};

template <class T>
T load_le(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

TensorRecord NpyArray::record(std::string name) const {
  TensorRecord r;
  r.name = std::move(name);
  r.dtype = dtype;
  r.shape = shape;
  r.data = data.data();
  r.storage_bytes = data.size();
  return r;
}

NpyArray parse_npy(std::span<const std::byte> bytes, const std::string& label) {
  if (bytes.size() < kMagicSize + 4 || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0) {
    bad(label, "no .npy magic", "the bytes \\x93NUMPY", fmt::format("{} bytes of something else", bytes.size()));
  }
  const auto major = static_cast<uint8_t>(bytes[6]);
  size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = load_le<uint16_t>(bytes.data() + 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) bad(label, "truncated header length", "12 bytes at least", fmt::format("{}", bytes.size()));
    header_len = load_le<uint32_t>(bytes.data() + 8);
    offset = 12;
  } else {
    bad(label, "an unknown format version", "1.0, 2.0 or 3.0", fmt::format("{}.{}", major, uint8_t(bytes[7])),
        "re-save it with numpy");
  }
  if (header_len > kNpyMaxHeader || offset + header_len > bytes.size()) {
    bad(label, "the header is longer than the file (or absurd)",
        fmt::format("at most {} bytes within the file's {}", kNpyMaxHeader, bytes.size()),
        fmt::format("{} bytes", header_len));
  }
  const std::string_view header(reinterpret_cast<const char*>(bytes.data()) + offset, header_len);
  std::string descr;
  bool fortran = false;
  NpyArray out;
  HeaderParser(header, label).parse(descr, fortran, out.shape);
  bool big = false;
  const auto dtype = dtype_of(descr, big);
  if (!dtype) {
    bad(label, "an unsupported dtype", "f8, f4, f2, i8, i4, i2, i1, u1 or b1", "'" + descr + "'",
        "convert it with array.astype(numpy.float32) before saving");
  }
  if (big && dtype_size(*dtype) > 1) {
    bad(label, "big-endian data", "little-endian ('<')", "'" + descr + "'",
        "convert it with array.astype(array.dtype.newbyteorder('<'))");
  }
  if (fortran) {
    bad(label, "Fortran-ordered data", "fortran_order False (C order)", "True",
        "save numpy.ascontiguousarray(array) instead");
  }
  out.dtype = *dtype;
  uint64_t numel = 0, nbytes = 0;
  const size_t data_at = offset + header_len;
  if (!checked_byte_size(out.shape, out.dtype, numel, nbytes) || nbytes != bytes.size() - data_at) {
    bad(label, "the data size does not match the header's shape",
        fmt::format("{} bytes of data", checked_byte_size(out.shape, out.dtype, numel, nbytes) ? nbytes : 0),
        fmt::format("{} bytes after the header", bytes.size() - data_at), "the file is truncated or corrupt");
  }
  out.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(data_at), bytes.end());
  return out;
}

NpyArray read_npy(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    throw IoError({.what = "cannot read a .npy file",
                   .where = file.string(),
                   .expected = "an existing regular file",
                   .got = std::filesystem::exists(file, ec) ? "not a regular file" : "no such file"});
  }
  const auto size = std::filesystem::file_size(file, ec);
  std::ifstream in(file, std::ios::binary);
  if (!in || ec) throw IoError({.what = "cannot read a .npy file", .where = file.string(), .got = "open failed"});
  std::vector<std::byte> bytes(size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (!in) throw IoError({.what = "cannot read a .npy file", .where = file.string(), .got = "a read error"});
  return parse_npy(bytes, file.string());
}

std::vector<std::byte> encode_npy(const TensorRecord& r) {
  const std::string_view descr = descr_of(r.dtype);
  if (descr.empty() || !r.contiguous()) {
    throw UsageError({.what = "cannot write this tensor as .npy",
                      .where = r.name,
                      .expected = "a contiguous tensor of a numpy dtype (not bf16)",
                      .got = std::string(dtype_name(r.dtype))});
  }
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': (", descr);
  for (size_t i = 0; i < r.shape.size(); ++i) header += (i ? ", " : "") + std::to_string(r.shape[i]);
  header += r.shape.size() == 1 ? ",), }" : "), }";
  // Pad with spaces so that magic + length + header + '\n' is a multiple of 64 (numpy's rule).
  const bool v2 = header.size() + 1 + 10 > 0xFFFF;
  const size_t prefix = v2 ? 12 : 10;
  const size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  header.append(total - prefix - header.size() - 1, ' ');
  header.push_back('\n');
  std::vector<std::byte> out(prefix + header.size() + r.nbytes());
  std::memcpy(out.data(), kMagic, kMagicSize);
  out[6] = std::byte{static_cast<uint8_t>(v2 ? 2 : 1)};
  out[7] = std::byte{0};
  if (v2) {
    const auto n = static_cast<uint32_t>(header.size());
    std::memcpy(out.data() + 8, &n, 4);
  } else {
    const auto n = static_cast<uint16_t>(header.size());
    std::memcpy(out.data() + 8, &n, 2);
  }
  std::memcpy(out.data() + prefix, header.data(), header.size());
  if (r.nbytes() > 0) {
    std::memcpy(out.data() + prefix + header.size(),
                r.data + r.storage_offset * static_cast<int64_t>(dtype_size(r.dtype)), r.nbytes());
  }
  return out;
}

void write_npy(const std::filesystem::path& file, const TensorRecord& record) {
  const std::vector<std::byte> bytes = encode_npy(record);
  const std::filesystem::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw IoError({.what = "cannot write a .npy file", .where = file.string(), .got = "open failed"});
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw IoError({.what = "cannot write a .npy file", .where = file.string(), .got = "a write error"});
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) throw IoError({.what = "cannot write a .npy file", .where = file.string(), .got = ec.message()});
}

}  // namespace xib::io
