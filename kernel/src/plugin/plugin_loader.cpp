#include "xib/plugin_loader.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <set>

#include <boost/dll/shared_library.hpp>

#include "elf_file.h"
#include "xib/build_info.h"
#include "xib/error.h"
#include "xib/log.h"

namespace xib {

namespace fs = std::filesystem;

namespace {

std::string field(const char* s, size_t n) { return std::string(s, strnlen(s, n)); }
#define XIB_FIELD(rec, member) field((rec).member, sizeof((rec).member))

[[noreturn]] void refuse_file(const fs::path& file, std::string what, std::string hint = {}) {
  throw PluginError({.what = "plugin refused: " + what, .where = file.string(), .hint = std::move(hint)});
}

std::string major_minor(const std::string& version) {
  const size_t first = version.find('.');
  if (first == std::string::npos) return version;
  const size_t second = version.find('.', first + 1);
  return version.substr(0, second);
}

}  // namespace

bool looks_like_plugin_file(const fs::path& file) {
  const std::string name = file.filename().string();
  return name.rfind("xib-plugin-", 0) == 0 && file.extension() == ".so";
}

std::vector<fs::path> plugin_search_path(const std::vector<fs::path>& extra) {
  std::vector<fs::path> candidates = extra;
  if (const char* env = std::getenv("XIB_PLUGIN_PATH")) {
    std::string s = env;
    size_t start = 0;
    while (start <= s.size()) {
      size_t colon = s.find(':', start);
      if (colon == std::string::npos) colon = s.size();
      if (colon > start) candidates.emplace_back(s.substr(start, colon - start));
      start = colon + 1;
    }
  }
  // The plugins that belong to this kernel: the build tree's folder when this is the build
  // tree's libxib_kernel.so, else <libdir>/xib/plugins beside the installed one. (An installed
  // xib must not pick up the plugins of the tree it was installed from.)
  std::error_code ec;
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&plugin_search_path), &info) != 0 && info.dli_fname) {
    const fs::path lib = fs::weakly_canonical(fs::path(info.dli_fname).parent_path(), ec);
    if (!ec && lib == fs::weakly_canonical(XIB_BUILD_LIB_DIR, ec)) {
      candidates.emplace_back(XIB_BUILD_PLUGIN_DIR);
    } else {
      candidates.push_back(lib / "xib" / "plugins");
    }
  } else {
    candidates.emplace_back(XIB_BUILD_PLUGIN_DIR);
  }

  std::vector<fs::path> out;
  std::set<fs::path> seen;
  for (const auto& dir : candidates) {
    if (!fs::is_directory(dir, ec)) continue;
    const fs::path canon = fs::weakly_canonical(dir, ec);
    if (seen.insert(canon).second) out.push_back(canon);
  }
  return out;
}

PluginInfoRecord read_plugin_info(const fs::path& file) {
  std::vector<char> bytes;
  try {
    elf::File elf(file);
    const elf::Section* section = elf.find(kPluginInfoSection);
    if (!section) {
      refuse_file(file, "no xib plugin info record (ELF section .xib_plugin_info)",
                  "build plugins with xib_add_plugin() in CMake and XIB_PLUGIN_INFO(…) in one source file");
    }
    bytes = elf.read(*section, 4096);
  } catch (const elf::ElfError& e) {
    refuse_file(file, e.reason, "plugin folders should hold only xib-plugin-<name>.so files built for this xib");
  }
  PluginInfoRecord rec{};
  if (bytes.size() < offsetof(PluginInfoRecord, name) || std::memcmp(bytes.data(), kPluginInfoMagic, 8) != 0) {
    refuse_file(file, "malformed plugin info record (bad magic or too short)");
  }
  std::memcpy(&rec, bytes.data(), std::min(bytes.size(), sizeof rec));
  if (rec.record_size < offsetof(PluginInfoRecord, name) || rec.record_size > bytes.size()) {
    refuse_file(file, "malformed plugin info record (its size field does not match the section)");
  }
  return rec;
}

void check_plugin_compatible(const PluginInfoRecord& rec, const fs::path& file) {
  if (rec.abi_version != kPluginAbiVersion) {
    throw PluginError({.what = "plugin refused: built for another plugin ABI",
                       .where = file.string(),
                       .expected = "plugin ABI " + std::to_string(kPluginAbiVersion) + " (this xib " XIB_VERSION ")",
                       .got = "plugin ABI " + std::to_string(rec.abi_version),
                       .hint = "rebuild the plugin against this xib"});
  }
  // Anything beyond the fields this xib knows is ignored (record_size may grow within an ABI).
  const std::string torch = XIB_FIELD(rec, torch_version);
  if (major_minor(torch) != major_minor(XIB_TORCH_VERSION)) {
    throw PluginError({.what = "plugin refused: built against another LibTorch",
                       .where = file.string(),
                       .expected = "LibTorch " XIB_TORCH_VERSION,
                       .got = "LibTorch " + torch,
                       .hint = "rebuild the plugin with the same LibTorch (Torch_DIR) as xib"});
  }
  if (rec.cxx11_abi != _GLIBCXX_USE_CXX11_ABI) {
    throw PluginError({.what = "plugin refused: built with another C++ standard-library ABI",
                       .where = file.string(),
                       .expected = "_GLIBCXX_USE_CXX11_ABI=" + std::to_string(_GLIBCXX_USE_CXX11_ABI),
                       .got = "_GLIBCXX_USE_CXX11_ABI=" + std::to_string(rec.cxx11_abi),
                       .hint = "rebuild the plugin with LibTorch's TORCH_CXX_FLAGS"});
  }
}

PluginLoader& PluginLoader::global() {
  static PluginLoader* loader = new PluginLoader(Registry::global());  // lives as long as the process
  return *loader;
}

PluginLoader::PluginLoader(Registry& registry) : registry_(registry) {}

void PluginLoader::refuse(PluginStatus& s, const std::string& reason) {
  s.loaded = false;
  s.reason = reason;
  log::debug("plugin {} refused: {}", s.path.string(), reason);
  // Unknown-name errors mention refused plugins: the name asked for may be in one of them.
  std::string hint;
  for (const auto& st : statuses_) {
    if (!st.loaded && !st.reason.empty()) hint += (hint.empty() ? "" : "; ") + st.path.filename().string();
  }
  registry_.set_unknown_hint("refused plugins (see `xib plugins`): " + hint);
}

const PluginStatus& PluginLoader::load_file(const fs::path& file, bool throw_if_refused) {
  std::error_code ec;
  const fs::path canon = fs::weakly_canonical(file, ec);
  for (const auto& s : statuses_) {
    if (s.path == canon) {
      if (throw_if_refused && !s.loaded)
        throw PluginError({.what = "plugin refused: " + s.reason, .where = s.path.string()});
      return s;
    }
  }
  PluginStatus& s = statuses_.emplace_back();
  s.path = canon;
  try {
    if (!fs::is_regular_file(canon, ec)) refuse_file(canon, "no such file");
    const PluginInfoRecord rec = read_plugin_info(canon);  // the file is a well-formed ELF from here on
    s.name = XIB_FIELD(rec, name);
    s.version = XIB_FIELD(rec, version);
    s.description = XIB_FIELD(rec, description);
    s.torch_version = XIB_FIELD(rec, torch_version);
    s.build_id = XIB_FIELD(rec, build_id);
    s.abi_version = rec.abi_version;
    s.cxx11_abi = rec.cxx11_abi;
    check_plugin_compatible(rec, canon);
    for (const auto& other : statuses_) {
      if (&other != &s && other.loaded && other.name == s.name) {
        refuse_file(canon, "a plugin named '" + s.name + "' is already loaded",
                    "it was loaded from " + other.path.string() + "; keep one of the two on the plugin path");
      }
    }

    // The init symbol must be exported before we let the dynamic loader run anything.
    // (Boost 1.74's library_info reads .symtab, which stripped libraries lack, so we read the
    // dynamic symbol table ourselves.)
    std::vector<std::string> symbols;
    try {
      symbols = elf::File(canon).exported_symbols();
    } catch (const elf::ElfError& e) {
      refuse_file(canon, "cannot read its symbol table: " + e.reason);
    }
    if (std::find(symbols.begin(), symbols.end(), kPluginInitSymbol) == symbols.end()) {
      refuse_file(canon, std::string("missing symbol ") + kPluginInitSymbol,
                  "define it with XIB_PLUGIN_INIT(registrations) { … }");
    }

    // Load with RTLD_NOW so unresolved symbols are reported here, not as a crash later.
    auto library = std::make_shared<boost::dll::shared_library>();
    try {
      library->load(canon, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    } catch (const std::exception& e) {
      // Boost wraps dlerror()'s text ("…: undefined symbol: foo") in its own; keep dlerror's.
      std::string msg = e.what();
      const std::string tag = "dlerror system message: ";
      if (const size_t at = msg.find(tag); at != std::string::npos) {
        msg = msg.substr(at + tag.size());
        if (const size_t end = msg.rfind("): "); end != std::string::npos) msg.resize(end);
      }
      refuse_file(canon, "the dynamic loader failed: " + msg,
                  "a missing library or symbol: rebuild the plugin against this xib and its dependencies");
    }
    auto* init = &library->get<PluginInitFn>(kPluginInitSymbol);
    Registrations regs;
    try {
      init(regs);
    } catch (const Error& e) {
      refuse_file(canon, "its init function threw: " + std::string(e.what()));
    } catch (const std::exception& e) {
      refuse_file(canon, "its init function threw: " + std::string(e.what()));
    } catch (...) {
      refuse_file(canon, "its init function threw a non-standard exception");
    }
    for (auto& e : regs.entries()) {
      e.provider = s.name;
      e.provider_path = canon.string();
      e.keep_alive = library;
      s.provides.push_back(e.kind + ":" + e.name);
    }
    try {
      registry_.commit(std::move(regs.entries()));
    } catch (const PluginError& e) {
      s.provides.clear();
      refuse_file(canon, std::string(e.what()) + ", " + e.info().got);
    }
    s.loaded = true;
    log::debug("plugin {} {} loaded from {}", s.name, s.version, canon.string());
  } catch (const PluginError& e) {
    std::string reason = e.info().what;
    if (reason.rfind("plugin refused: ", 0) == 0) reason = reason.substr(16);
    if (!e.info().expected.empty()) reason += " (expected " + e.info().expected + ", got " + e.info().got + ")";
    refuse(s, reason);
    if (throw_if_refused) throw;
  }
  return s;
}

void PluginLoader::load_dirs(const std::vector<fs::path>& dirs) {
  for (const auto& dir : dirs) {
    std::error_code ec;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (looks_like_plugin_file(entry.path())) files.push_back(entry.path());
    }
    if (ec) log::warn("cannot list plugin folder {}: {}", dir.string(), ec.message());
    std::sort(files.begin(), files.end());  // a stable order makes "who was first" predictable
    for (const auto& f : files) load_file(f);
  }
}

}  // namespace xib
