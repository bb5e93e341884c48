// Finds, checks and loads plugins (Boost.DLL). Before a file is loaded its info record is read
// from the file and checked (plugin ABI, LibTorch version, C++ ABI, init symbol present); a
// plugin that fails any check, fails to load, throws from init or claims a taken name is
// refused with a reason, and xib carries on without it.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <string>
#include <vector>

#include "xib/plugin.h"

namespace xib {

/// What the loader knows about one plugin file.
struct PluginStatus {
  std::filesystem::path path;
  bool loaded = false;
  std::string reason;  ///< why it was refused; empty when loaded
  // From the info record, when it could be read:
  std::string name, version, description, torch_version, build_id;
  uint32_t abi_version = 0;
  uint32_t cxx11_abi = 0;
  std::vector<std::string> provides;  ///< "kind:name" of every factory it registered
};

/// Plugin files are named xib-plugin-<name>.so.
bool looks_like_plugin_file(const std::filesystem::path& file);

/// Folders searched, in order: `extra` (from --plugin-dir), $XIB_PLUGIN_PATH (':'-separated),
/// the build tree's plugin folder, and <prefix>/lib/xib/plugins next to the xib binary.
/// Only folders that exist are returned, each once.
std::vector<std::filesystem::path> plugin_search_path(const std::vector<std::filesystem::path>& extra = {});

/// Read a file's info record without loading it (the file must be an ELF shared library with a
/// well-formed record). Throws PluginError saying why the file is not a plugin.
PluginInfoRecord read_plugin_info(const std::filesystem::path& file);
/// Throws PluginError when the record's plugin ABI, LibTorch version or C++ ABI is not this xib's.
void check_plugin_compatible(const PluginInfoRecord& record, const std::filesystem::path& file);

class PluginLoader {
 public:
  /// The process-wide loader, feeding Registry::global().
  static PluginLoader& global();
  explicit PluginLoader(Registry& registry);

  /// Load every plugin file in `dirs` (not recursive). Refusals are recorded, never thrown.
  void load_dirs(const std::vector<std::filesystem::path>& dirs);
  /// Load one file. Returns its status; with `throw_if_refused`, a refusal throws PluginError.
  const PluginStatus& load_file(const std::filesystem::path& file, bool throw_if_refused = false);
  /// Every file seen so far, loaded or refused, in the order seen.
  const std::deque<PluginStatus>& statuses() const { return statuses_; }

 private:
  void refuse(PluginStatus& s, const std::string& reason);
  Registry& registry_;
  std::deque<PluginStatus> statuses_;  // stable references for load_file()'s result
};

}  // namespace xib
