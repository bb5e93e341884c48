#include "xib/model_cache.h"

#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <system_error>

#include <nlohmann/json.hpp>

#include "xib/config.h"  // nearest_name
#include "xib/error.h"
#include "xib/io/ctranslate2.h"
#include "xib/sha256.h"

namespace xib {

namespace fs = std::filesystem;

namespace {

constexpr const char* kStamp = "xib-model.json";
constexpr int kStampFormat = 1;
constexpr const char* kFetchHint =
    "run scripts/fetch-models.sh (or `make models`) to fetch the pinned models; XIB_MODEL_CACHE selects the cache";

/// A relative path that stays inside its folder: no empty, "." or ".." components.
bool is_contained(std::string_view path) {
  if (path.empty() || path.front() == '/') return false;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t end = std::min(path.find('/', start), path.size());
    const std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string string_field(const nlohmann::json& stamp, const char* key, bool required) {
  const auto it = stamp.find(key);
  if (it == stamp.end()) {
    if (required) throw std::runtime_error(fmt::format("no \"{}\"", key));
    return {};
  }
  if (!it->is_string()) throw std::runtime_error(fmt::format("\"{}\" is not a string", key));
  return it->get<std::string>();
}

/// Fills `entry` from the folder's stamp, or sets entry.problem saying what is wrong with it.
void read_stamp(ModelEntry& entry) {
  const fs::path stamp_path = entry.dir / kStamp;
  std::error_code ec;
  if (!fs::exists(stamp_path, ec)) {
    entry.problem = fmt::format("no {}: an interrupted fetch? run scripts/fetch-models.sh", kStamp);
    return;
  }
  std::ifstream in(stamp_path, std::ios::binary);
  if (!in) {
    entry.problem = fmt::format("cannot read {}: check its permissions", kStamp);
    return;
  }
  try {
    const nlohmann::json stamp = nlohmann::json::parse(in);
    if (!stamp.is_object()) throw std::runtime_error("not a JSON object");
    const auto format = stamp.find("format");
    if (format == stamp.end() || !format->is_number_integer()) throw std::runtime_error("no \"format\" number");
    if (format->get<int>() != kStampFormat) {
      entry.problem = fmt::format(
          "{} has format {}, this xib reads format {}: refetch with this tree's "
          "scripts/fetch-models.sh",
          kStamp, format->dump(), kStampFormat);
      return;
    }
    ModelEntry e{.name = entry.name, .dir = entry.dir};
    e.package = string_field(stamp, "package", true);
    e.version = string_field(stamp, "version", true);
    e.license = string_field(stamp, "license", false);
    e.description = string_field(stamp, "description", false);
    const auto files = stamp.find("files");
    if (files == stamp.end() || !files->is_array()) throw std::runtime_error("no \"files\" array");
    for (const auto& f : *files) {
      if (!f.is_object()) throw std::runtime_error("a \"files\" item is not an object");
      ModelFile file{.path = string_field(f, "path", true), .sha256 = string_field(f, "sha256", true)};
      // The path is joined to the model's folder: it must not lead out of it.
      if (!is_contained(file.path)) throw std::runtime_error(fmt::format("unsafe file path '{}'", file.path));
      if (!is_sha256_hex(file.sha256)) {
        throw std::runtime_error(fmt::format("sha256 of '{}' is not 64 lower-case hex digits", file.path));
      }
      const auto bytes = f.find("bytes");
      if (bytes == f.end() || !bytes->is_number_unsigned()) {
        throw std::runtime_error(fmt::format("\"bytes\" of '{}' is not a non-negative integer", file.path));
      }
      file.bytes = bytes->get<uint64_t>();
      e.files.push_back(std::move(file));
    }
    entry = std::move(e);
  } catch (const std::exception& ex) {  // nlohmann's parse and type errors, and ours above
    entry.problem = fmt::format("unreadable {} ({}): run scripts/fetch-models.sh {}", kStamp, ex.what(), entry.name);
  }
}

/// Names of the entries without problems, and of those with, for error messages.
std::pair<std::vector<std::string>, std::vector<std::string>> split_names(const std::vector<ModelEntry>& entries) {
  std::vector<std::string> ready, broken;
  for (const auto& e : entries) (e.problem.empty() ? ready : broken).push_back(e.name);
  return {ready, broken};
}

uint32_t le32(const unsigned char* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

uint64_t le64(const unsigned char* p) { return uint64_t(le32(p)) | uint64_t(le32(p + 4)) << 32; }

/// Printable ASCII, common whitespace and well-formed UTF-8; a sequence cut by the end of the
/// sample counts as well-formed.
bool looks_like_text(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f') return false;
      if (c == 0x7f) return false;
      ++i;
      continue;
    }
    const size_t len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0 || c == 0xc0 || c == 0xc1) return false;
    for (size_t k = 1; k < len; ++k) {
      if (i + k >= s.size()) return true;
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

}  // namespace

fs::path ModelCache::default_root() {
  if (const char* env = std::getenv("XIB_MODEL_CACHE"); env && *env) return env;
  const char* home = std::getenv("HOME");
  if (!home || !*home) {
    // Services and some containers run without HOME; the password database still knows it.
    const passwd* pw = ::getpwuid(::getuid());
    home = pw && pw->pw_dir ? pw->pw_dir : "/";
  }
  return fs::path(home) / ".cache" / "xib" / "models";
}

ModelCache::ModelCache(fs::path root) : root_(std::move(root)) {}

std::vector<ModelEntry> ModelCache::list() const {
  std::vector<ModelEntry> entries;
  std::error_code ec;
  if (!fs::is_directory(root_, ec)) return entries;  // no cache yet: nothing fetched
  fs::directory_iterator it(root_, ec);
  if (ec) {
    throw IoError({.what = "cannot list the model cache",
                   .where = root_.string(),
                   .got = ec.message(),
                   .hint = "check the folder's permissions, or set XIB_MODEL_CACHE to another folder"});
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    // Hidden entries are fetch-models.sh's own (download folders, its lock file), never models.
    if (name.empty() || name.front() == '.' || !it->is_directory(ec)) continue;
    ModelEntry entry{.name = name, .dir = it->path()};
    read_stamp(entry);
    entries.push_back(std::move(entry));
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return entries;
}

std::optional<ModelEntry> ModelCache::find(std::string_view name) const {
  if (!is_contained(name) || name.find('/') != std::string_view::npos || name.front() == '.') return std::nullopt;
  ModelEntry entry{.name = std::string(name), .dir = root_ / name};
  std::error_code ec;
  if (!fs::is_directory(entry.dir, ec)) return std::nullopt;
  read_stamp(entry);
  return entry;
}

ModelEntry ModelCache::require(std::string_view name) const {
  auto entry = find(name);
  if (entry && entry->problem.empty()) return *entry;
  if (entry) {
    throw NotFoundError({.what = fmt::format("model '{}' is incomplete in the model cache", name),
                         .where = entry->dir.string(),
                         .got = entry->problem,
                         .hint = fmt::format("run scripts/fetch-models.sh {} to fetch it again", name)});
  }
  const auto [ready, broken] = split_names(list());
  ErrorInfo info{.what = fmt::format("model '{}' is not in the model cache", name),
                 .where = root_.string(),
                 .expected = ready.empty() ? "a model fetched into the cache" : "one of: " + join_names(ready),
                 .got = std::string(name),
                 .hint = kFetchHint};
  std::error_code ec;
  if (!fs::is_directory(root_, ec)) {
    info.details.emplace_back("cache", "the folder does not exist: nothing fetched yet");
  }
  if (!broken.empty()) info.details.emplace_back("incomplete", join_names(broken) + " (run scripts/fetch-models.sh)");
  if (auto near = nearest_name(name, ready)) {
    info.hint = fmt::format("did you mean '{}'? otherwise {}", *near, kFetchHint);
  }
  throw NotFoundError(std::move(info));
}

std::optional<fs::path> ModelCache::locate(const fs::path& path) const {
  fs::path p = path.lexically_normal();
  if (p.filename().empty()) p = p.parent_path();  // "alpha/" names the model
  const std::string name = p.filename().string();
  const std::string parent = p.parent_path().filename().string();
  if (!parent.empty() && parent != ".." && find(parent)) return resolve(parent + "/" + name);
  if (!name.empty() && name != ".." && find(name)) return resolve(name);
  return std::nullopt;
}

fs::path ModelCache::resolve(std::string_view reference) const {
  std::string_view ref = reference;
  while (!ref.empty() && ref.back() == '/') ref.remove_suffix(1);  // "name/" means the folder
  if (!is_contained(ref)) {
    throw UsageError({.what = fmt::format("bad model reference '{}'", reference),
                      .expected = "a model name, or name/file inside that model's folder (no '..', '.' or empty parts)",
                      .got = std::string(reference),
                      .hint = "`xib models` lists the models and their files"});
  }
  const size_t slash = ref.find('/');
  const ModelEntry entry = require(ref.substr(0, slash));
  if (slash == std::string_view::npos) return entry.dir;

  const std::string file(ref.substr(slash + 1));
  const fs::path path = entry.dir / file;
  std::error_code ec;
  if (fs::exists(path, ec)) return path;
  std::vector<std::string> files;
  for (const auto& f : entry.files) files.push_back(f.path);
  const bool recorded =
      std::any_of(entry.files.begin(), entry.files.end(), [&](const auto& f) { return f.path == file; });
  throw NotFoundError({.what = fmt::format("no file '{}' in model '{}'", file, entry.name),
                       .where = entry.dir.string(),
                       .expected = "one of: " + join_names(files),
                       .got = file,
                       .hint = recorded ? fmt::format("the stamp records it but it is gone: run "
                                                      "scripts/fetch-models.sh --verify {}",
                                                      entry.name)
                                        : "refer to one of the model's files (`xib models` lists them)"});
}

std::vector<ModelIssue> ModelCache::verify(const ModelEntry& entry, bool hashes) const {
  std::vector<ModelIssue> issues;
  if (!entry.problem.empty()) {
    issues.push_back({.file = kStamp, .problem = entry.problem});
    return issues;
  }
  for (const auto& f : entry.files) {
    const fs::path path = entry.dir / f.path;
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (!fs::exists(status)) {
      issues.push_back({.file = f.path, .problem = "missing"});
      continue;
    }
    if (!fs::is_regular_file(status)) {
      issues.push_back({.file = f.path, .problem = "not a regular file"});
      continue;
    }
    const uint64_t size = fs::file_size(path, ec);
    if (ec) {
      issues.push_back({.file = f.path, .problem = "unreadable: " + ec.message()});
      continue;
    }
    if (size != f.bytes) {
      issues.push_back({.file = f.path, .problem = fmt::format("size {} != recorded {}", size, f.bytes)});
      continue;  // a hash of the wrong number of bytes cannot match: save the time
    }
    if (!hashes) continue;
    try {
      const std::string found = sha256_file(path);
      if (found != f.sha256) {
        issues.push_back({.file = f.path,
                          .problem = fmt::format("sha256 mismatch (recorded {}…, found {}…)", f.sha256.substr(0, 12),
                                                 found.substr(0, 12))});
      }
    } catch (const IoError& e) {
      issues.push_back({.file = f.path, .problem = "unreadable: " + e.info().got});
    }
  }
  return issues;
}

std::string sniff_format(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return "unreadable";
  const uint64_t size = fs::file_size(file, ec);
  std::ifstream in(file, std::ios::binary);
  if (ec || !in) return "unreadable";
  // 64 KiB covers the first entry names of a zip and any text sample worth judging.
  std::string head(static_cast<size_t>(std::min<uint64_t>(size, 64 * 1024)), '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  if (static_cast<size_t>(in.gcount()) != head.size()) return "unreadable";
  if (head.empty()) return "empty";
  const auto* b = reinterpret_cast<const unsigned char*>(head.data());
  const std::string_view s(head);

  if (s.starts_with("GGUF")) return head.size() >= 8 ? fmt::format("gguf v{}", le32(b + 4)) : "gguf";
  if (s.starts_with(std::string_view("PK\x03\x04", 4))) {
    // torch.save (1.6+) writes a zip whose records live under "<archive>/data.pkl".
    return s.find("/data.pkl") != std::string_view::npos ? "pytorch zip" : "zip";
  }
  if (head.size() >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5) {
    // Legacy torch.save starts with its magic number 0x1950a86a20f9469cfc6c pickled as a LONG1.
    static constexpr std::array<unsigned char, 12> kTorchMagic = {0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                                                  0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    const bool torch = head.size() >= 14 && std::equal(kTorchMagic.begin(), kTorchMagic.end(), b + 2);
    return torch ? "pytorch legacy" : fmt::format("pickle v{}", b[1]);
  }
  if (io::looks_like_ctranslate2(s)) return fmt::format("ctranslate2 v{}", le32(b));
  if (head.size() >= 9) {
    // safetensors: a little-endian uint64 header length, then that many bytes of JSON.
    const uint64_t n = le64(b);
    if (n >= 2 && n < 100'000'000 && n <= size - 8 && b[8] == '{') return "safetensors";
  }
  if (!looks_like_text(s)) return "unknown";
  // JSON opens with '{' or '['; what follows tells it from text that merely starts with a bracket
  // (a BERT vocab.txt starts with "[PAD]").
  constexpr std::string_view kSpace = " \t\r\n";
  const size_t open = s.find_first_not_of(kSpace);
  if (open != std::string_view::npos && (s[open] == '{' || s[open] == '[')) {
    const size_t next = s.find_first_not_of(kSpace, open + 1);
    const std::string_view may_follow = s[open] == '{' ? "\"}" : "\"{[]-0123456789tfn";
    if (next == std::string_view::npos || may_follow.find(s[next]) != std::string_view::npos) return "json";
  }
  return "text";
}

}  // namespace xib
