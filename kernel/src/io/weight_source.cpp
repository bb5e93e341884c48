// open_weights(): one entry point for every weights format xib reads. The format is decided by
// content (xib::sniff_format), never by extension; the readers themselves validate everything.
#include "xib/io/weight_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>

#include "mapped_file.h"
#include "xib/config.h"
#include "xib/error.h"
#include "xib/io/ctranslate2.h"
#include "xib/io/gguf.h"
#include "xib/io/safetensors.h"
#include "xib/io/torch_checkpoint.h"
#include "xib/model_cache.h"

namespace xib::io {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSupported =
    "supported: safetensors (a .safetensors file, a model.safetensors.index.json, or a folder holding "
    "either), PyTorch checkpoints (torch.save zip or legacy .pt/.pth/.bin), GGUF (.gguf, v2/v3) and CTranslate2 "
    "(model.bin, or its folder)";

/// Shared part of every source: the (prefix-filtered, renamed) records and a name index.
class SourceBase : public WeightSource {
 public:
  const fs::path& path() const override { return path_; }
  const std::vector<TensorRecord>& tensors() const override { return tensors_; }
  const std::string& prefix() const override { return prefix_; }
  const TensorRecord* find(std::string_view name) const override {
    const auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
  }

 protected:
  /// Keeps the records under `prefix` (all when empty), renamed relative to it. `available`
  /// lists what a prefix could have been, for the error message.
  void set_tensors(std::vector<TensorRecord> all, const std::string& prefix,
                   const std::vector<std::pair<std::string, std::vector<std::string>>>& available) {
    prefix_ = prefix;
    while (!prefix_.empty() && prefix_.back() == '.') prefix_.pop_back();
    if (prefix_.empty()) {
      tensors_ = std::move(all);
    } else {
      const std::string head = prefix_ + ".";
      for (TensorRecord& r : all) {
        if (!r.name.starts_with(head)) continue;
        r.name.erase(0, head.size());
        tensors_.push_back(std::move(r));
      }
      if (tensors_.empty()) {
        ErrorInfo info{.what = fmt::format("no tensors under prefix '{}' in '{}'", prefix_, path_.string()),
                       .where = path_.string(),
                       .got = prefix_};
        std::vector<std::string> candidates;
        for (const auto& [label, names] : available) {
          if (names.empty()) continue;
          info.details.emplace_back(label, join_names(names));
          candidates.insert(candidates.end(), names.begin(), names.end());
        }
        info.expected =
            candidates.empty() ? "no prefix: every tensor is at the top level" : "a dotted path that holds tensors";
        if (auto near = nearest_name(prefix_, candidates))
          info.hint = fmt::format("did you mean '{}'?", *near);
        else
          info.hint = "`xib inspect` lists the tensor names";
        throw NotFoundError(std::move(info));
      }
    }
    for (size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].name, i);
  }

  fs::path path_;

 private:
  std::string prefix_;
  std::vector<TensorRecord> tensors_;
  std::map<std::string, size_t, std::less<>> index_;
};

/// The first dotted component of each name, in order of first appearance.
std::vector<std::string> top_level_names(const std::vector<TensorRecord>& records) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& r : records) {
    std::string top = r.name.substr(0, r.name.find('.'));
    if (seen.insert(top).second) out.push_back(std::move(top));
  }
  return out;
}

class SafetensorsSource final : public SourceBase {
 public:
  /// `path` as given (a file or folder); `file` the .safetensors or index file it resolved to.
  SafetensorsSource(const fs::path& path, const fs::path& file, const WeightOpenOptions& options)
      : model_(file), sharded_(file.extension() == ".json") {
    path_ = path;
    set_tensors(model_.records(), options.prefix, {{"top-level names", top_level_names(model_.records())}});
  }
  std::string format() const override {
    if (!sharded_) return "safetensors";
    const size_t n = model_.shard_files().size();
    return fmt::format("safetensors ({} shard{})", n, n == 1 ? "" : "s");
  }
  std::map<std::string, std::string> metadata() const override { return model_.metadata(); }
  std::vector<fs::path> files() const override { return model_.shard_files(); }

 private:
  SafetensorsModel model_;
  bool sharded_ = false;
};

class CheckpointSource final : public SourceBase {
 public:
  CheckpointSource(const fs::path& path, const WeightOpenOptions& options)
      : ck_(Checkpoint::open(path, CheckpointOptions{.strict = options.strict})) {
    path_ = path;
    std::vector<TensorRecord> all = ck_.tensors();
    std::vector<std::string> paths;
    for (auto& p : ck_.state_dict_paths())
      if (!p.empty()) paths.push_back(std::move(p));
    set_tensors(std::move(all), options.prefix,
                {{"state-dict paths", paths}, {"top-level names", top_level_names(ck_.tensors())}});
  }
  std::string format() const override {
    return ck_.format() == Checkpoint::Format::zip ? "pytorch zip" : "pytorch legacy";
  }
  std::map<std::string, std::string> metadata() const override {
    std::map<std::string, std::string> out;
    for (const auto& e : ck_.other_entries()) out[e.name] = e.description;
    return out;
  }
  std::vector<fs::path> files() const override { return {path_}; }

 private:
  Checkpoint ck_;
};

/// A GGUF file: every tensor dequantised to f32 when opened (aligned F32 tensors point into the
/// mapping, the others are owned here), named as stored, row-major shapes. attn_q / attn_k stay in
/// llama.cpp's permuted row order: the model's loader undoes it (plugins/llama, llama_maps.h).
class GgufSource final : public SourceBase {
 public:
  GgufSource(const fs::path& path, const WeightOpenOptions& options) : file_(path) {
    path_ = path;
    std::vector<TensorRecord> all;
    all.reserve(file_.tensors().size());
    for (const GgufTensorInfo& t : file_.tensors()) {
      TensorRecord r{.name = t.name, .dtype = DType::f32, .shape = t.shape()};
      if (t.type == GgmlType::f32 && reinterpret_cast<uintptr_t>(t.data) % alignof(float) == 0) {
        r.data = t.data;
        r.storage_bytes = static_cast<size_t>(t.nbytes);
      } else {
        auto& values = owned_.emplace_back(file_.dequantize(t).data);
        r.data = reinterpret_cast<const std::byte*>(values.data());
        r.storage_bytes = values.size() * sizeof(float);
      }
      all.push_back(std::move(r));
    }
    const auto tops = top_level_names(all);
    set_tensors(std::move(all), options.prefix, {{"top-level names", tops}});
  }
  std::string format() const override { return fmt::format("gguf v{}", file_.version()); }
  /// Each key with a short rendering ("u32 30", "array[49152] of string").
  std::map<std::string, std::string> metadata() const override {
    std::map<std::string, std::string> out;
    for (const auto& k : file_.keys()) out[k] = file_.get(k).render();
    return out;
  }
  std::vector<fs::path> files() const override { return {path_}; }

 private:
  GgufFile file_;
  std::vector<std::vector<float>> owned_;
};

/// A CTranslate2 model.bin: its variables as stored (int8 weights with their *_scale variables),
/// aliases found by name too. metadata(): the spec, its revision, the binary version, each alias.
class Ct2Source final : public SourceBase {
 public:
  Ct2Source(const fs::path& path, const fs::path& file, const WeightOpenOptions& options) : file_(file) {
    path_ = path;
    std::vector<TensorRecord> all = file_.variables();
    for (const auto& [alias, target] : file_.aliases()) {
      TensorRecord r = *file_.find(target);
      r.name = alias;
      all.push_back(std::move(r));
    }
    const auto tops = top_level_names(all);
    set_tensors(std::move(all), options.prefix, {{"top-level names", tops}});
  }
  std::string format() const override { return fmt::format("ctranslate2 v{}", file_.binary_version()); }
  std::map<std::string, std::string> metadata() const override {
    std::map<std::string, std::string> out{{"spec", file_.spec()},
                                           {"spec_revision", std::to_string(file_.revision())},
                                           {"binary_version", std::to_string(file_.binary_version())}};
    for (const auto& [alias, target] : file_.aliases()) out["alias " + alias] = target;
    return out;
  }
  std::vector<fs::path> files() const override { return {file_.path()}; }

 private:
  Ct2File file_;
};

/// The first bytes as hex ("47 47 55 46 03 00 00 00") and, when printable, as text.
std::string first_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::string head(16, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(std::max<std::streamsize>(in.gcount(), 0)));
  return first_bytes_text(std::as_bytes(std::span(head)));
}

[[noreturn]] void unsupported(const fs::path& file, const std::string& kind, const std::string& got) {
  throw FormatError({.what = fmt::format("'{}' is {}: not a weights format open_weights reads", file.string(), kind),
                     .where = file.string(),
                     .expected = "safetensors, a PyTorch checkpoint, GGUF or a CTranslate2 model.bin",
                     .got = got,
                     .hint = kSupported});
}

/// The file to open inside a folder: its index, its model.safetensors, or its only *.safetensors.
fs::path file_in_folder(const fs::path& dir) {
  std::error_code ec;
  for (const char* name : {"model.safetensors.index.json", "model.safetensors"})
    if (fs::is_regular_file(dir / name, ec)) return dir / name;
  std::vector<std::string> found, others;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() == ".safetensors" && e.is_regular_file(ec))
      found.push_back(name);
    else
      others.push_back(name);
  }
  std::sort(found.begin(), found.end());
  std::sort(others.begin(), others.end());
  if (found.size() == 1) return dir / found[0];
  ErrorInfo info{.what = fmt::format("no weights file to open in folder '{}'", dir.string()),
                 .where = dir.string(),
                 .expected = "model.safetensors.index.json, model.safetensors, or exactly one *.safetensors"};
  if (found.size() > 1) {
    info.got = fmt::format("{} .safetensors files: {}", found.size(), join_names(found));
    info.hint = "pass one file, or write a model.safetensors.index.json for the shards";
  } else {
    info.got = others.empty() ? "an empty folder" : "files: " + join_names(others);
    info.hint = "for a PyTorch checkpoint, pass the file itself (e.g. " + (dir / "pytorch_model.bin").string() + ")";
  }
  throw NotFoundError(std::move(info));
}

}  // namespace

std::unique_ptr<WeightSource> open_weights(const fs::path& path, const WeightOpenOptions& options) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (!fs::exists(status))
    throw IoError({.what = fmt::format("cannot open weights '{}'", path.string()),
                   .where = path.string(),
                   .got = "no such file or folder",
                   .hint = kSupported});
  if (fs::is_directory(status)) {
    // A CTranslate2 model folder (model.bin + config.json) has no safetensors.
    if (fs::is_regular_file(path / "model.bin", ec) && sniff_format(path / "model.bin").starts_with("ctranslate2"))
      return std::make_unique<Ct2Source>(path, path / "model.bin", options);
    return std::make_unique<SafetensorsSource>(path, file_in_folder(path), options);
  }
  if (path.filename().string().ends_with(".index.json"))
    return std::make_unique<SafetensorsSource>(path, path, options);

  const std::string kind = sniff_format(path);
  if (kind == "safetensors") return std::make_unique<SafetensorsSource>(path, path, options);
  if (kind == "pytorch zip" || kind == "pytorch legacy" || kind == "zip")
    return std::make_unique<CheckpointSource>(path, options);
  if (kind == "unreadable")
    throw IoError({.what = fmt::format("cannot read weights '{}'", path.string()),
                   .where = path.string(),
                   .got = "not a regular file, or not readable",
                   .hint = "check the path and its permissions"});
  if (kind.starts_with("gguf")) return std::make_unique<GgufSource>(path, options);
  if (kind.starts_with("ctranslate2")) return std::make_unique<Ct2Source>(path, path, options);
  if (kind.starts_with("pickle"))
    unsupported(path, "a plain pickle (" + kind + ") without torch.save's magic number",
                first_bytes(path) + "; a pickle not written by torch.save");
  if (kind == "empty") unsupported(path, "empty", "0 bytes");
  if (kind == "json") unsupported(path, "JSON but not a *.index.json safetensors index", first_bytes(path));
  if (kind == "text") unsupported(path, "text", first_bytes(path));
  unsupported(path, "of an unknown format", first_bytes(path));
}

}  // namespace xib::io
