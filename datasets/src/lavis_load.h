// Internal: loading and checking a LAVIS annotation file (lavis_load.cpp).
#pragma once

#include <filesystem>
#include <vector>

#include "xib/datasets/lavis_reader.h"

namespace xib::datasets {

/// The folder input paths are relative to; IoError when it or the annotation file is missing.
std::filesystem::path resolve_root(const LavisReaderOptions& options);
/// Every entry (up to limit), checked; FormatError / IoError listing all problems at once.
std::vector<LavisEntry> load_lavis_entries(const LavisReaderOptions& options, const std::filesystem::path& root);

}  // namespace xib::datasets
