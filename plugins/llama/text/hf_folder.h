// Small helpers for HF model folders shared by the tokenizer loaders and the version check.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "xib/error.h"
#include "xib/files.h"

namespace xib::llama {

/// The folder's own name ("vicuna-7b-v1.1"), also for "dir/" and "dir/.".
inline std::string folder_name(const std::filesystem::path& dir) {
  std::filesystem::path p = std::filesystem::absolute(dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

/// The JSON object in an optional file of the folder (tokenizer_config.json, added_tokens.json,
/// …): null when the file does not exist; FormatError when it is not a JSON object.
inline nlohmann::json read_optional_json_object(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return nullptr;
  nlohmann::json j = read_json_file(file, file.filename().string());
  if (!j.is_object())
    throw FormatError({.what = "not a JSON object", .where = file.string(), .expected = "a JSON object"});
  return j;
}

}  // namespace xib::llama
