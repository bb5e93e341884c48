// Shared by the fuzz targets: files for the readers that take a path (annotation JSON, vocab.txt,
// tokenizer.json, the JSON files of a tokenizer folder, the feature cache) — the input's bytes
// written to a folder of this process's own, and the repository's fixtures (XIB_SOURCE_DIR, set
// by scripts/fuzz.sh) — and the contract and token ids of the tokenizer targets.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "xib/error.h"

namespace xib::fuzz {

/// A fresh folder under the system temp folder, removed when the process exits normally.
inline const std::filesystem::path& scratch_dir() {
  struct Dir {
    std::filesystem::path path;
    Dir() {
      std::string templ = (std::filesystem::temp_directory_path() / "xib-fuzz-XXXXXX").string();
      if (!mkdtemp(templ.data())) std::abort();
      path = templ;
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Dir dir;
  return dir.path;
}

/// `bytes` as the file `name` in scratch_dir() (replacing it); its path.
inline std::filesystem::path write_scratch(const std::string& name, std::string_view bytes) {
  const auto file = scratch_dir() / name;
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) std::abort();
  return file;
}

/// A fixture of the repository (path relative to its root); aborts when it cannot be read.
inline std::filesystem::path fixture(std::string_view relative) {
  const auto file = std::filesystem::path(XIB_SOURCE_DIR) / relative;
  if (!std::filesystem::is_regular_file(file)) std::abort();
  return file;
}

/// The bytes of fixture(relative).
inline std::string fixture_bytes(std::string_view relative) {
  std::ifstream in(fixture(relative), std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Runs `f`: a value or an xib::Error is the contract; anything else escapes (a finding).
template <class F>
void expect_ok_or_error(F&& f) {
  try {
    f();
  } catch (const xib::Error&) {
  }
}

/// Ids from pairs of bytes, spread over [-2, vocab + 2): a few outside the vocabulary.
inline std::vector<int64_t> ids_from(std::string_view bytes, int64_t vocab) {
  std::vector<int64_t> ids;
  for (size_t i = 0; i + 1 < bytes.size() && ids.size() < 256; i += 2) {
    const auto v = static_cast<int64_t>(static_cast<uint8_t>(bytes[i]) | static_cast<uint8_t>(bytes[i + 1]) << 8);
    ids.push_back(v % (vocab + 4) - 2);
  }
  return ids;
}

}  // namespace xib::fuzz
