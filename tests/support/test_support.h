// Helpers shared by the tests: scratch folders and running the xib executable.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace xib::test {

/// A fresh folder under the build tree's test scratch area, removed when the object dies
/// (kept when $XIB_TEST_KEEP is set, to look at a failure).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  /// Write `text` to a file in the folder (parents created) and return its path.
  std::filesystem::path write(const std::string& name, const std::string& text) const;

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;  ///< stdout
  std::string err;  ///< stderr
};

/// Run a program with arguments (no shell; a bare name is looked up on $PATH), extra environment
/// "K=V" entries added.
CommandResult run_command(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});
/// Run the built `xib` executable.
CommandResult run_xib(const std::vector<std::string>& args, const std::vector<std::string>& env = {});

/// Paths of the build: the xib binary, the fixture plugin folder, the source tree.
std::filesystem::path xib_binary();
std::filesystem::path fixture_plugin_dir();
std::filesystem::path source_dir();

std::string read_file(const std::filesystem::path& file);

}  // namespace xib::test
