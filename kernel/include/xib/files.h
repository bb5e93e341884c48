// Reading and writing whole files, one copy for every part: text and JSON in, text out
// atomically, and fsync of files and folders. Torch-free.
//
//   const auto doc = xib::read_json_file(dir / "metrics.json", "evaluation metrics");
//   xib::write_text_file(run / "report.md", md);   // temporary file + fsync + rename
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace xib {

/// The bytes of `file`. IoError when it does not exist or cannot be read (a folder, no
/// permission); `what` names its role in messages ("run config").
std::string read_text_file(const std::filesystem::path& file, std::string_view what = "file");

/// The JSON document in `file`. Errors as read_text_file(); FormatError naming the file and the
/// parser's position when it is not JSON. `hint` (optional) goes into the FormatError.
nlohmann::json read_json_file(const std::filesystem::path& file, std::string_view what = "JSON file",
                              std::string_view hint = {});

/// Write `text` to `file` atomically: a temporary file beside it, fsync, rename. Creates parent
/// folders. IoError naming the file on failure; the old file is kept then.
void write_text_file(const std::filesystem::path& file, std::string_view text);

/// Why `file` cannot be read as a regular file — "no such file", "a folder", "a FIFO (named
/// pipe)", "a socket", "a block device", "a character device", or errno's text when this process
/// may not read it — or nullopt when it can be. Inputs are checked with it before any decoder
/// sees them, so such a file is never reported as undecodable content.
std::optional<std::string> unreadable_reason(const std::filesystem::path& file);

/// fsync a file or (directory = true) a folder, which makes renames and creations inside it
/// durable. IoError naming it on failure (a filesystem that cannot sync folders is not one).
void fsync_path(const std::filesystem::path& path, bool directory);

}  // namespace xib
