// The model cache: weight files of the pinned model packages, extracted by
// scripts/fetch-models.sh into $XIB_MODEL_CACHE (default ~/.cache/xib/models), one folder per
// model with a stamp `xib-model.json` describing where each file came from and its hash.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xib {

struct ModelFile {
  std::string path = {};    ///< relative to the model's folder
  uint64_t bytes = 0;       ///< size recorded when fetched
  std::string sha256 = {};  ///< hash recorded when fetched
};

struct ModelEntry {
  std::string name = {};  ///< folder name, how recipes refer to it ("smollm2-135m-instruct")
  std::filesystem::path dir = {};
  std::string package = {}, version = {};  ///< PyPI package it came from
  std::string license = {};
  std::string description = {};
  std::vector<ModelFile> files = {};
  std::string problem = {};  ///< non-empty when the stamp is missing or unreadable
};

/// One finding of ModelCache::verify().
struct ModelIssue {
  std::string file = {};
  std::string problem = {};  ///< "missing", "size 12 != recorded 34", "sha256 mismatch"
};

class ModelCache {
 public:
  /// $XIB_MODEL_CACHE, else $HOME/.cache/xib/models.
  static std::filesystem::path default_root();
  explicit ModelCache(std::filesystem::path root = default_root());

  const std::filesystem::path& root() const { return root_; }
  /// Every folder of the cache, sorted by name; folders without a valid stamp carry `problem`.
  /// Hidden entries (".download-…", fetch-models.sh's working folders) are not models and are skipped.
  std::vector<ModelEntry> list() const;
  std::optional<ModelEntry> find(std::string_view name) const;
  /// Like find(), but a missing model is a NotFoundError listing what the cache holds and how
  /// to fetch it.
  ModelEntry require(std::string_view name) const;
  /// "name" → the model's folder; "name/file" → that file. NotFoundError when absent.
  std::filesystem::path resolve(std::string_view reference) const;
  /// The cached model a path that is not there names. Recipes resolve relative paths against
  /// their own folder, so a cache name arrives as ".../<model>" or ".../<model>/<file>": the
  /// model's folder, or that file of it (resolve()'s NotFoundError when the model is cached and
  /// the file is not). nullopt when the cache holds neither <model>.
  std::optional<std::filesystem::path> locate(const std::filesystem::path& path) const;
  /// Missing files and size mismatches; with `hashes`, also recomputes every sha256.
  std::vector<ModelIssue> verify(const ModelEntry& entry, bool hashes) const;

 private:
  std::filesystem::path root_;
};

/// What a file is, from its first bytes: "gguf v3", "safetensors", "ctranslate2 v6", "pytorch zip" (a zip with a
/// "…/data.pkl" entry), "zip", "pytorch legacy" (pre-1.6 torch.save), "pickle v2", "json", "text",
/// "empty", "unknown", or "unreadable" (missing, not a regular file, or cannot be read).
std::string sniff_format(const std::filesystem::path& file);

}  // namespace xib
