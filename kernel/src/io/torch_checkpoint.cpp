#include "xib/io/torch_checkpoint.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "xib/error.h"

namespace xib::io {

namespace fs = std::filesystem;

namespace {

using Kind = PickleValue::Kind;

/// A read-only private mapping of a whole file.
class Mapping {
 public:
  explicit Mapping(const fs::path& file) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw IoError({.what = "cannot open checkpoint", .where = file.string(), .got = std::strerror(errno)});
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      throw IoError({.what = "checkpoint is not a regular file", .where = file.string()});
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ == 0) {
      ::close(fd);
      throw FormatError({.what = "checkpoint is empty", .where = file.string(), .expected = "a PyTorch checkpoint"});
    }
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    ::close(fd);
    if (p == MAP_FAILED)
      throw IoError({.what = "cannot map checkpoint", .where = file.string(), .got = std::strerror(err)});
    data_ = static_cast<const std::byte*>(p);
  }
  ~Mapping() {
    if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  std::span<const std::byte> bytes() const { return {data_, size_}; }

 private:
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

struct Blob {
  const std::byte* data = nullptr;
  size_t size = 0;
};

uint64_t rd(std::span<const std::byte> b, size_t at, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(b[at + i]) << (8 * i);
  return v;
}

// --- zip (stored entries only, zip64 aware) ---

struct ZipEntry {
  std::string name;
  Blob blob;
};

class ZipReader {
 public:
  ZipReader(std::span<const std::byte> b, std::string where) : b_(b), where_(std::move(where)) {}

  std::vector<ZipEntry> entries() {
    // End of central directory: 22 bytes plus a comment of up to 65535 bytes.
    if (b_.size() < 22) bad("zip file is too short for an end-of-central-directory record");
    size_t eocd = std::string::npos;
    const size_t lowest = b_.size() > 22 + 65535 ? b_.size() - 22 - 65535 : 0;
    for (size_t i = b_.size() - 22 + 1; i-- > lowest;)
      if (rd(b_, i, 4) == 0x06054b50) {
        eocd = i;
        break;
      }
    if (eocd == std::string::npos) bad("no zip end-of-central-directory record", "the file is truncated or not a zip");
    uint64_t count = rd(b_, eocd + 10, 2);
    uint64_t cd_size = rd(b_, eocd + 12, 4);
    uint64_t cd_offset = rd(b_, eocd + 16, 4);
    if (eocd >= 20 && rd(b_, eocd - 20, 4) == 0x07064b50) {  // zip64 locator
      const uint64_t z64 = rd(b_, eocd - 20 + 8, 8);
      if (z64 > b_.size() - 56 || b_.size() < 56 || rd(b_, z64, 4) != 0x06064b50)
        bad("bad zip64 end-of-central-directory record");
      count = rd(b_, z64 + 32, 8);
      cd_size = rd(b_, z64 + 40, 8);
      cd_offset = rd(b_, z64 + 48, 8);
    }
    if (cd_offset > b_.size() || cd_size > b_.size() - cd_offset) bad("zip central directory lies outside the file");
    if (count > cd_size / 46 + 1) bad("zip central directory entry count is implausible");
    std::vector<ZipEntry> out;
    size_t p = static_cast<size_t>(cd_offset);
    const size_t end = static_cast<size_t>(cd_offset + cd_size);
    for (uint64_t i = 0; i < count; ++i) {
      if (end - p < 46 || rd(b_, p, 4) != 0x02014b50) bad("bad zip central directory entry", "the file is corrupt");
      const auto method = rd(b_, p + 10, 2);
      uint64_t csize = rd(b_, p + 20, 4);
      uint64_t usize = rd(b_, p + 24, 4);
      const size_t name_len = rd(b_, p + 28, 2), extra_len = rd(b_, p + 30, 2), comment_len = rd(b_, p + 32, 2);
      uint64_t local = rd(b_, p + 42, 4);
      if (end - p - 46 < name_len + extra_len + comment_len) bad("zip central directory entry overruns the directory");
      std::string name(reinterpret_cast<const char*>(b_.data() + p + 46), name_len);
      // zip64 extended information: the 0xffffffff fields, in order usize, csize, offset.
      for (size_t e = p + 46 + name_len; e + 4 <= p + 46 + name_len + extra_len;) {
        const auto id = rd(b_, e, 2);
        const size_t len = rd(b_, e + 2, 2);
        if (e + 4 + len > p + 46 + name_len + extra_len) break;
        if (id == 0x0001) {
          size_t q = e + 4;
          auto next = [&](uint64_t& field) {
            if (field != 0xffffffff) return;
            if (q + 8 > e + 4 + len) bad("truncated zip64 extra field");
            field = rd(b_, q, 8);
            q += 8;
          };
          next(usize);
          next(csize);
          next(local);
        }
        e += 4 + len;
      }
      if (method != 0)
        throw FormatError({.what = fmt::format("zip entry '{}' is compressed", name),
                           .where = where_,
                           .expected = "stored (uncompressed) entries, as torch.save writes",
                           .got = fmt::format("compression method {}", method),
                           .hint = "re-save the checkpoint with torch.save, or unzip and re-zip with `zip -0`"});
      if (csize != usize) bad(fmt::format("zip entry '{}' has differing stored and real sizes", name));
      if (local > b_.size() || b_.size() - local < 30 || rd(b_, local, 4) != 0x04034b50)
        bad(fmt::format("bad zip local header for '{}'", name));
      const uint64_t data = local + 30 + rd(b_, local + 26, 2) + rd(b_, local + 28, 2);
      if (data > b_.size() || usize > b_.size() - data) bad(fmt::format("zip entry '{}' lies outside the file", name));
      out.push_back({std::move(name), {b_.data() + data, static_cast<size_t>(usize)}});
      p += 46 + name_len + extra_len + comment_len;
    }
    return out;
  }

 private:
  [[noreturn]] void bad(std::string what, std::string hint = "the file is truncated or corrupt") {
    throw FormatError({.what = std::move(what),
                       .where = where_,
                       .expected = "a zip file as torch.save writes",
                       .hint = std::move(hint)});
  }
  std::span<const std::byte> b_;
  std::string where_;
};

bool is_dict_of_tensors(const PickleValue& v) {
  if (v.kind != Kind::dict) return false;
  for (const auto& [k, x] : v.entries)
    if (x.kind == Kind::tensor) return true;
  return false;
}

std::string key_text(const PickleValue& k) {
  if (k.kind == Kind::string) return k.text;
  if (k.kind == Kind::integer) return std::to_string(k.integer);
  return "<" + k.describe() + ">";
}

std::string join(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

template <class F>
void walk(const PickleValue& v, const std::string& name, F&& f) {
  if (v.kind == Kind::dict) {
    for (const auto& [k, x] : v.entries) walk(x, join(name, key_text(k)), f);
  } else if (v.kind == Kind::list || v.kind == Kind::tuple) {
    for (size_t i = 0; i < v.items.size(); ++i) walk(v.items[i], join(name, std::to_string(i)), f);
  } else {
    f(name, v);
  }
}

}  // namespace

struct Checkpoint::Impl {
  fs::path path;
  Format format = Format::zip;
  std::unique_ptr<Mapping> map;
  PickleValue root;
  std::map<std::string, Blob, std::less<>> storages;
};

Checkpoint::Checkpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Checkpoint::Checkpoint(Checkpoint&&) noexcept = default;
Checkpoint& Checkpoint::operator=(Checkpoint&&) noexcept = default;
Checkpoint::~Checkpoint() = default;

Checkpoint::Format Checkpoint::format() const { return impl_->format; }
const fs::path& Checkpoint::path() const { return impl_->path; }
const PickleValue& Checkpoint::root() const { return impl_->root; }

namespace {

void check_storages(const std::vector<PickleStorage>& used, const std::map<std::string, Blob, std::less<>>& have,
                    const std::string& where) {
  for (const PickleStorage& s : used) {
    const auto it = have.find(s.key);
    if (it == have.end())
      throw FormatError({.what = fmt::format("checkpoint refers to missing storage '{}'", s.key),
                         .where = where,
                         .hint = "the file is truncated or corrupt"});
    const auto need = static_cast<unsigned __int128>(s.numel) * dtype_size(s.dtype);
    if (need > it->second.size)
      throw FormatError({.what = fmt::format("storage '{}' is shorter than its declared size", s.key),
                         .where = where,
                         .expected = fmt::format("{} elements of {}", s.numel, dtype_name(s.dtype)),
                         .got = fmt::format("{} bytes", it->second.size)});
  }
}

PickleOptions pickle_options(const CheckpointOptions& o, const std::string& where, size_t base) {
  PickleOptions p = o.limits;
  p.strict = o.strict;
  p.where = where;
  p.base_offset = base;
  return p;
}

void open_zip(Checkpoint::Format&, std::span<const std::byte> b, const CheckpointOptions& o, const std::string& where,
              PickleValue& root, std::map<std::string, Blob, std::less<>>& storages) {
  const std::vector<ZipEntry> entries = ZipReader(b, where).entries();
  const ZipEntry* pkl = nullptr;
  for (const ZipEntry& e : entries)
    if (e.name == "data.pkl" || e.name.ends_with("/data.pkl")) {
      pkl = &e;
      break;
    }
  if (!pkl)
    throw FormatError({.what = "zip file has no data.pkl",
                       .where = where,
                       .expected = "<archive>/data.pkl, as torch.save writes",
                       .got = fmt::format("{} entries", entries.size())});
  const std::string prefix = pkl->name.substr(0, pkl->name.size() - std::string_view("data.pkl").size());
  for (const ZipEntry& e : entries) {
    if (e.name == prefix + "byteorder") {
      const std::string_view order(reinterpret_cast<const char*>(e.blob.data), e.blob.size);
      if (order != "little")
        throw FormatError({.what = "checkpoint is not little-endian",
                           .where = where,
                           .expected = "little",
                           .got = std::string(order)});
    }
    if (e.name.starts_with(prefix + "data/")) storages[e.name.substr(prefix.size() + 5)] = e.blob;
  }
  const auto offset = static_cast<size_t>(pkl->blob.data - b.data());
  Unpickled u = unpickle({pkl->blob.data, pkl->blob.size}, pickle_options(o, where + " (data.pkl)", offset));
  check_storages(u.storages, storages, where);
  root = std::move(u.value);
}

void open_legacy(std::span<const std::byte> b, const CheckpointOptions& o, const std::string& where, PickleValue& root,
                 std::map<std::string, Blob, std::less<>>& storages) {
  size_t pos = 0;
  auto next = [&](const CheckpointOptions& opts) {
    Unpickled u = unpickle(b.subspan(pos), pickle_options(opts, where, pos));
    pos += u.end;
    return u;
  };
  CheckpointOptions header = o;
  header.strict = true;
  const Unpickled magic = next(header);
  static const char kMagic[] = "\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";  // 0x1950a86a20f9469cfc6c, LE
  if (magic.value.kind != Kind::big_integer || magic.value.text != std::string_view(kMagic, 10))
    throw FormatError({.what = "not a PyTorch checkpoint (bad magic number)",
                       .where = where,
                       .expected = "a torch.save zip or legacy file",
                       .got = magic.value.describe()});
  const Unpickled version = next(header);
  if (version.value.kind != Kind::integer || version.value.integer != 1001)
    throw FormatError({.what = "unsupported legacy checkpoint protocol",
                       .where = where,
                       .expected = "1001",
                       .got = version.value.describe()});
  const Unpickled sys_info = next(header);
  if (const PickleValue* le = sys_info.value.find("little_endian"); le && !(le->kind == Kind::boolean && le->boolean))
    throw FormatError({.what = "checkpoint is not little-endian", .where = where, .expected = "little_endian=True"});
  Unpickled main = next(o);
  const Unpickled keys = next(header);
  if (keys.value.kind != Kind::list)
    throw FormatError({.what = "legacy checkpoint has no storage key list",
                       .where = where,
                       .expected = "a list",
                       .got = keys.value.describe()});
  for (const PickleValue& k : keys.value.items) {
    if (k.kind != Kind::string)
      throw FormatError({.what = "legacy storage key is not a string", .where = where, .got = k.describe()});
    const PickleStorage* s = nullptr;
    for (const PickleStorage& x : main.storages)
      if (x.key == k.text) s = &x;
    if (!s)
      throw FormatError({.what = fmt::format("legacy storage '{}' is not used by the pickle", k.text), .where = where});
    if (b.size() - pos < 8)
      throw FormatError({.what = fmt::format("legacy checkpoint is truncated before storage '{}'", k.text),
                         .where = fmt::format("{}, byte {}", where, pos)});
    const uint64_t numel = rd(b, pos, 8);
    pos += 8;
    const size_t es = dtype_size(s->dtype);
    if (numel > (b.size() - pos) / es)
      throw FormatError({.what = fmt::format("legacy storage '{}' runs past the end of the file", k.text),
                         .where = fmt::format("{}, byte {}", where, pos),
                         .expected = fmt::format("{} bytes", numel * es),
                         .got = fmt::format("{} bytes left", b.size() - pos)});
    storages[k.text] = {b.data() + pos, static_cast<size_t>(numel * es)};
    pos += static_cast<size_t>(numel * es);
  }
  check_storages(main.storages, storages, where);
  root = std::move(main.value);
}

}  // namespace

Checkpoint Checkpoint::open(const fs::path& file, const CheckpointOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->path = file;
  impl->map = std::make_unique<Mapping>(file);
  const auto b = impl->map->bytes();
  const std::string where = file.string();
  if (b.size() >= 4 && rd(b, 0, 4) == 0x04034b50) {
    impl->format = Format::zip;
    open_zip(impl->format, b, options, where, impl->root, impl->storages);
  } else if (static_cast<uint8_t>(b[0]) == 0x80) {
    impl->format = Format::legacy;
    open_legacy(b, options, where, impl->root, impl->storages);
  } else {
    throw FormatError({.what = "not a PyTorch checkpoint",
                       .where = where,
                       .expected = "a zip (torch.save) or a pickle stream (legacy torch.save)",
                       .got = fmt::format("first byte 0x{:02x}", static_cast<uint8_t>(b[0])),
                       .hint = "safetensors files have their own reader"});
  }
  return Checkpoint(std::move(impl));
}

TensorRecord Checkpoint::record(const std::string& name, const PickleTensor& t) const {
  auto bad = [&](std::string what) {
    return FormatError({.what = std::move(what),
                        .where = fmt::format("{}, tensor '{}'", impl_->path.string(), name),
                        .hint = "the checkpoint is corrupt"});
  };
  const auto it = impl_->storages.find(t.storage_key);
  if (it == impl_->storages.end()) throw bad(fmt::format("tensor refers to missing storage '{}'", t.storage_key));
  if (t.storage_offset < 0) throw bad("negative storage offset");
  // Last element reached: offset + Σ (size-1)·stride, with overflow checks.
  using i128 = __int128;
  i128 last = t.storage_offset;
  bool empty = false;
  for (size_t i = 0; i < t.shape.size(); ++i) {
    if (t.shape[i] < 0 || t.strides[i] < 0) throw bad("negative size or stride");
    if (t.shape[i] == 0) empty = true;
    last += static_cast<i128>(t.shape[i] > 0 ? t.shape[i] - 1 : 0) * t.strides[i];
    if (last > std::numeric_limits<int64_t>::max()) throw bad("tensor view overflows");
  }
  const size_t es = dtype_size(t.dtype);
  if (!empty && (last + 1) * static_cast<i128>(es) > static_cast<i128>(it->second.size))
    throw FormatError({.what = "tensor view reaches past its storage",
                       .where = fmt::format("{}, tensor '{}'", impl_->path.string(), name),
                       .expected = fmt::format("at most {} bytes", it->second.size),
                       .got = fmt::format("element {} of {} bytes", static_cast<int64_t>(last), es)});
  return {.name = name,
          .dtype = t.dtype,
          .shape = t.shape,
          .strides = t.strides,
          .storage_offset = t.storage_offset,
          .data = it->second.data,
          .storage_bytes = it->second.size};
}

std::vector<TensorRecord> Checkpoint::tensors() const {
  std::vector<TensorRecord> out;
  walk(impl_->root, "", [&](const std::string& name, const PickleValue& v) {
    if (v.kind == Kind::tensor) out.push_back(record(name, v.tensor));
  });
  return out;
}

std::vector<TensorRecord> Checkpoint::state_dict(std::string_view path) const {
  const PickleValue* v = &impl_->root;
  std::string rest(path);
  std::string walked;
  while (!rest.empty()) {
    if (v->kind != Kind::dict) break;
    // Keys may contain dots themselves: take the longest key that is a dotted prefix of the rest.
    const PickleValue* next = nullptr;
    size_t used = 0;
    for (const auto& [k, x] : v->entries) {
      const std::string key = key_text(k);
      if ((rest == key || (rest.starts_with(key) && rest[key.size()] == '.')) && key.size() > used) {
        next = &x;
        used = key.size();
      }
    }
    if (!next) break;
    walked = join(walked, rest.substr(0, used));
    rest = used < rest.size() ? rest.substr(used + 1) : "";
    v = next;
  }
  if (!rest.empty() || v->kind != Kind::dict) {
    std::vector<std::string> known;
    if (v->kind == Kind::dict)
      for (const auto& [k, x] : v->entries) known.push_back(key_text(k));
    throw NotFoundError({.what = fmt::format("no state dict '{}' in checkpoint", path),
                         .where = impl_->path.string(),
                         .expected = known.empty() ? "a dict" : fmt::format("one of: {}", join_names(known)),
                         .got = walked.empty() ? v->describe() : fmt::format("'{}' is {}", walked, v->describe())});
  }
  std::vector<TensorRecord> out;
  walk(*v, "", [&](const std::string& name, const PickleValue& x) {
    if (x.kind == Kind::tensor) out.push_back(record(name, x.tensor));
  });
  return out;
}

std::vector<std::string> Checkpoint::state_dict_paths() const {
  std::vector<std::string> out;
  if (is_dict_of_tensors(impl_->root)) out.emplace_back();
  walk(impl_->root, "", [](const std::string&, const PickleValue&) {});
  // walk() visits leaves only; dicts are found with a small explicit recursion.
  auto visit = [&](auto&& self, const PickleValue& v, const std::string& name) -> void {
    if (v.kind != Kind::dict) return;
    for (const auto& [k, x] : v.entries) {
      if (x.kind != Kind::dict) continue;
      const std::string n = join(name, key_text(k));
      if (is_dict_of_tensors(x)) out.push_back(n);
      self(self, x, n);
    }
  };
  visit(visit, impl_->root, "");
  return out;
}

std::vector<CheckpointEntry> Checkpoint::other_entries() const {
  std::vector<CheckpointEntry> out;
  walk(impl_->root, "", [&](const std::string& name, const PickleValue& v) {
    if (v.kind != Kind::tensor) out.push_back({name, v.describe()});
  });
  return out;
}

}  // namespace xib::io
