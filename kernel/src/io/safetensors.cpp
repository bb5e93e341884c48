#include "xib/io/safetensors.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "mapped_file.h"
#include "safetensors_errors.h"
#include "xib/config.h"
#include "xib/error.h"
#include "xib/json_text.h"

namespace xib::io {

namespace fs = std::filesystem;
using nlohmann::json;
using safetensors_detail::fail;
using safetensors_detail::where;

namespace {

constexpr size_t kMaxIndexBytes = 100'000'000;

/// A JSON value for a message, cut short.
std::string shown(const json& v) {
  std::string s = json_text(v);
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

std::string known_dtypes() {
  std::vector<std::string> names;
  for (DType t : {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i64, DType::i32, DType::i16, DType::i8,
                  DType::u8, DType::boolean})
    names.emplace_back(dtype_to_safetensors(t));
  return "one of: " + join_names(names);
}

/// A non-negative JSON integer, or nullopt.
std::optional<uint64_t> as_index(const json& v) {
  if (!v.is_number_unsigned()) return std::nullopt;
  return v.get<uint64_t>();
}

/// Parses JSON, turning duplicate object keys (which nlohmann would silently merge) into errors.
json parse_json(std::string_view text, const std::string& source, std::string_view what) {
  std::vector<std::set<std::string>> open;  // keys seen, per open object
  std::string duplicate;
  auto cb = [&](int /*depth*/, json::parse_event_t ev, json& parsed) {
    if (ev == json::parse_event_t::object_start) {
      open.emplace_back();
    } else if (ev == json::parse_event_t::object_end) {
      if (!open.empty()) open.pop_back();
    } else if (ev == json::parse_event_t::key && !open.empty() && parsed.is_string()) {
      if (!open.back().insert(parsed.get<std::string>()).second && duplicate.empty())
        duplicate = parsed.get<std::string>();
    }
    return true;
  };
  json j;
  try {
    j = json::parse(text.begin(), text.end(), cb);
  } catch (const json::exception& e) {
    fail(source, {}, fmt::format("{} is not valid JSON", what), "a JSON object", e.what());
  }
  if (!duplicate.empty())
    fail(source, duplicate, fmt::format("duplicate key '{}' in the {}", duplicate, what), "each key once",
         "the key twice");
  return j;
}

struct Entry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

Entry parse_entry(const std::string& source, const std::string& key, const json& value, uint64_t data_size) {
  Entry e{.name = key, .dtype = DType::f32, .shape = {}, .begin = 0, .end = 0};
  if (!value.is_object())
    fail(source, key, "tensor entry is not a JSON object", R"({"dtype": …, "shape": […], "data_offsets": [b, e]})",
         shown(value));
  const auto dt = value.find("dtype");
  if (dt == value.end() || !dt->is_string())
    fail(source, key, "tensor has no \"dtype\" string", known_dtypes(), dt == value.end() ? "nothing" : shown(*dt));
  const auto dtype = dtype_from_safetensors(dt->get<std::string>());
  if (!dtype) fail(source, key, "unknown dtype", known_dtypes(), shown(*dt), "xib reads only these dtypes");
  e.dtype = *dtype;

  const auto sh = value.find("shape");
  if (sh == value.end() || !sh->is_array())
    fail(source, key, "tensor has no \"shape\" list", "a list of non-negative integers",
         sh == value.end() ? "nothing" : shown(*sh));
  for (const json& d : *sh) {
    const auto v = as_index(d);
    if (!v || *v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(source, key, "bad shape", "a list of non-negative integers", shown(*sh));
    e.shape.push_back(static_cast<int64_t>(*v));
  }
  uint64_t numel = 0, bytes = 0;
  if (!checked_byte_size(e.shape, e.dtype, numel, bytes))
    fail(source, key, "shape too large", "a number of elements whose byte size fits in 64 bits", shown(*sh));

  const auto off = value.find("data_offsets");
  const bool offsets_ok =
      off != value.end() && off->is_array() && off->size() == 2 && as_index((*off)[0]) && as_index((*off)[1]);
  if (!offsets_ok)
    fail(source, key, "bad \"data_offsets\"", "[begin, end]: two non-negative integers",
         off == value.end() ? "nothing" : shown(*off));
  e.begin = *as_index((*off)[0]);
  e.end = *as_index((*off)[1]);
  if (e.begin > e.end) fail(source, key, "data_offsets end before they begin", "begin <= end", shown(*off));
  if (e.end > data_size)
    fail(source, key, "data_offsets run past the end of the file", fmt::format("end <= {} (the data size)", data_size),
         shown(*off), "the file may be truncated");
  if (e.end - e.begin != bytes)
    fail(source, key, "data_offsets do not match dtype and shape",
         fmt::format("{} bytes ({} elements of {} bytes)", bytes, numel, dtype_size(e.dtype)),
         fmt::format("{} bytes ({})", e.end - e.begin, shown(*off)));
  return e;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SafetensorsFile

struct SafetensorsFile::Mapping : MappedFile {
  using MappedFile::MappedFile;
};

SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

SafetensorsFile::SafetensorsFile(const fs::path& file) : source_(file.string()) {
  mapping_ = std::make_unique<Mapping>(file, "safetensors file");
  parse(mapping_->bytes());
}

SafetensorsFile SafetensorsFile::from_buffer(std::span<const std::byte> bytes, std::string label) {
  SafetensorsFile f;
  f.source_ = std::move(label);
  f.parse(bytes);
  return f;
}

void SafetensorsFile::parse(std::span<const std::byte> bytes) {
  const size_t size = bytes.size();
  if (size < 8)
    fail(source_, {}, "file too small to be safetensors", "at least 8 bytes (the header length)",
         fmt::format("{} bytes", size));
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[static_cast<size_t>(i)]);
  if (n > kSafetensorsMaxHeader || n > size - 8)
    fail(source_, {}, "header length out of range",
         fmt::format("at most {} bytes (the file holds {} after the length; limit {})",
                     std::min<uint64_t>(size - 8, kSafetensorsMaxHeader), size - 8, kSafetensorsMaxHeader),
         fmt::format("{} bytes", n), "the file is truncated or not safetensors");
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()) + 8, n);
  const json header = parse_json(text, source_, "safetensors header");
  if (!header.is_object())
    fail(source_, {}, "safetensors header is not a JSON object", "a JSON object", std::string(header.type_name()));

  const std::byte* data = bytes.data() + 8 + n;
  const uint64_t data_size = size - 8 - n;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object())
        fail(source_, {}, "\"__metadata__\" is not a JSON object", "an object of string → string", shown(value));
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string())
          fail(source_, {}, fmt::format("metadata value for '{}' is not a string", mk), "a string", shown(mv));
        metadata_[mk] = mv.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(source_, key, value, data_size));
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  // Byte ranges must not overlap; gaps are allowed. Empty tensors cover no bytes.
  const Entry* furthest = nullptr;
  for (const Entry& e : entries) {
    if (e.begin == e.end) continue;
    if (furthest && e.begin < furthest->end)
      fail(source_, e.name, fmt::format("tensor overlaps tensor '{}'", furthest->name),
           fmt::format("begin >= {} (where '{}' ends)", furthest->end, furthest->name),
           fmt::format("[{}, {}]", e.begin, e.end));
    if (!furthest || e.end > furthest->end) furthest = &e;
  }

  records_.reserve(entries.size());
  names_.reserve(entries.size());
  for (Entry& e : entries) {
    index_.emplace(e.name, records_.size());
    names_.push_back(e.name);
    records_.push_back(TensorRecord{.name = std::move(e.name),
                                    .dtype = e.dtype,
                                    .shape = std::move(e.shape),
                                    .strides = {},
                                    .storage_offset = 0,
                                    .data = data + e.begin,
                                    .storage_bytes = static_cast<size_t>(e.end - e.begin)});
  }
}

namespace {

[[noreturn]] void not_found(const std::string& source, std::string_view name, const std::vector<std::string>& names) {
  std::vector<std::string> some(names.begin(),
                                names.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(names.size(), 5)));
  std::string known = names.empty() ? "(no tensors)" : join_names(some);
  if (names.size() > some.size()) known += fmt::format(", … ({} tensors)", names.size());
  const auto near = nearest_name(name, names);
  throw NotFoundError({.what = fmt::format("no tensor '{}' in '{}'", name, source),
                       .where = source,
                       .expected = "one of: " + known,
                       .got = std::string(name),
                       .hint = near ? fmt::format("did you mean '{}'?", *near) : std::string()});
}

}  // namespace

const TensorRecord& SafetensorsFile::tensor(std::string_view name) const {
  const auto it = index_.find(name);
  if (it == index_.end()) not_found(source_, name, names_);
  return records_[it->second];
}

// ---------------------------------------------------------------------------------------------
// SafetensorsModel

SafetensorsModel::SafetensorsModel(const fs::path& path) : source_(path) {
  std::error_code ec;
  fs::path file = path;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(path / "model.safetensors.index.json", ec)) {
      file = path / "model.safetensors.index.json";
    } else if (fs::exists(path / "model.safetensors", ec)) {
      file = path / "model.safetensors";
    } else {
      throw NotFoundError({.what = fmt::format("no safetensors checkpoint in '{}'", path.string()),
                           .where = path.string(),
                           .expected = "model.safetensors.index.json or model.safetensors"});
    }
  }
  source_ = file;
  const std::string src = file.string();

  if (file.extension() != ".json") {
    SafetensorsFile f(file);
    names_ = f.names();
    metadata_ = f.metadata();
    records_ = f.records();
    shards_.emplace(file.filename().string(), std::move(f));
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in)
      throw IoError(
          {.what = fmt::format("cannot open safetensors index '{}'", src), .where = src, .got = std::strerror(errno)});
    std::string text;
    text.resize(kMaxIndexBytes + 1);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxIndexBytes)
      fail(src, {}, "safetensors index too large", fmt::format("at most {} bytes", kMaxIndexBytes), "more");
    const json index = parse_json(text, src, "safetensors index");
    if (!index.is_object()) fail(src, {}, "safetensors index is not a JSON object", "a JSON object", index.type_name());
    if (const auto meta = index.find("metadata"); meta != index.end() && !meta->is_null()) {
      if (!meta->is_object()) fail(src, {}, "\"metadata\" is not a JSON object", "a JSON object", shown(*meta));
      for (const auto& [k, v] : meta->items()) metadata_[k] = v.is_string() ? v.get<std::string>() : json_text(v);
    }
    const auto wm = index.find("weight_map");
    if (wm == index.end() || !wm->is_object() || wm->empty())
      fail(src, {}, "safetensors index has no \"weight_map\"", "\"weight_map\": {tensor name: shard file, …}",
           wm == index.end() ? "nothing" : shown(*wm));
    std::map<std::string, std::vector<std::string>> by_shard;
    std::map<std::string, std::string> shard_of;
    for (const auto& [name, shard] : wm->items()) {
      if (!shard.is_string() || shard.get<std::string>().empty())
        fail(src, name, "weight_map entry is not a shard file name", "a file name", shown(shard));
      const fs::path rel(shard.get<std::string>());
      const bool escapes =
          rel.is_absolute() || std::any_of(rel.begin(), rel.end(), [](const fs::path& p) { return p == ".."; });
      if (escapes)
        fail(src, name, "weight_map names a shard outside the index's folder", "a file name relative to the folder",
             shown(shard));
      by_shard[rel.string()].push_back(name);
      shard_of[name] = rel.string();
    }
    const fs::path dir = file.parent_path();
    for (const auto& [shard, tensors] : by_shard) {
      const fs::path shard_path = dir / shard;
      if (!fs::exists(shard_path, ec))
        throw IoError({.what = fmt::format("shard '{}' listed in the index is missing", shard),
                       .where = fmt::format("{}, tensor '{}'", src, tensors.front()),
                       .expected = fmt::format("the file '{}'", shard_path.string()),
                       .got = "no such file",
                       .hint = "download every shard the index lists"});
      SafetensorsFile f(shard_path);
      for (const std::string& name : tensors) {
        if (!f.contains(name)) {
          const auto near = nearest_name(name, f.names());
          fail(f.source(), name, fmt::format("tensor '{}' listed in '{}' is missing from its shard", name, src),
               "the tensor in the shard", fmt::format("{} other tensors", f.names().size()),
               near ? fmt::format("did you mean '{}'?", *near) : std::string());
        }
      }
      for (const TensorRecord& r : f.records()) {
        const auto it = shard_of.find(r.name);
        if (it == shard_of.end() || it->second != shard) continue;  // the index puts it elsewhere
        names_.push_back(r.name);
        records_.push_back(r);
      }
      shards_.emplace(shard, std::move(f));
    }
  }
  for (size_t i = 0; i < records_.size(); ++i) index_.emplace(records_[i].name, i);
}

const TensorRecord& SafetensorsModel::tensor(std::string_view name) const {
  const auto it = index_.find(name);
  if (it == index_.end()) not_found(source_.string(), name, names_);
  return records_[it->second];
}

std::vector<fs::path> SafetensorsModel::shard_files() const {
  std::vector<fs::path> out;
  for (const auto& [name, f] : shards_) out.emplace_back(f.source());
  return out;
}

}  // namespace xib::io
