// Metrics as JSON Lines: one JSON object per line, flushed as written, so a crashed run keeps
// everything up to its last step and tools (jq, pandas) read it directly.
#pragma once

#include <cstdio>
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

namespace xib {

class MetricsWriter {
 public:
  /// Opens (creating parent folders) in append mode, so a resumed run continues its file.
  explicit MetricsWriter(const std::filesystem::path& file, bool append = true);
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;

  /// Writes `record` (must be an object) as one line and flushes it.
  void write(const nlohmann::json& record);
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

/// Reads a JSONL file. A torn last line (a crash mid-write) is dropped; any other bad line is a
/// FormatError naming the file and line.
std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& file);

}  // namespace xib
