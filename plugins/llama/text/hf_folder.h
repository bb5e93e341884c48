// Small helpers for HF model folders shared by the tokenizer loaders and the version check.
#pragma once

#include <filesystem>
#include <string>

namespace xib::llama {

/// The folder's own name ("vicuna-7b-v1.1"), also for "dir/" and "dir/.".
inline std::string folder_name(const std::filesystem::path& dir) {
  std::filesystem::path p = std::filesystem::absolute(dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

}  // namespace xib::llama
