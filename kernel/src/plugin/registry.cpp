#include "xib/registry.h"

#include <algorithm>

#include "builtins.h"
#include "xib/error.h"

namespace xib {

Registry& Registry::global() {
  static Registry* registry = [] {
    auto* r = new Registry();  // never destroyed: plugin objects may outlive static destruction
    r->commit(builtin_registrations());
    return r;
  }();
  return *registry;
}

void Registry::commit(std::vector<RegistryEntry> entries) {
  std::lock_guard lock(mu_);
  // Check everything first, so a clash leaves the registry as it was.
  for (size_t i = 0; i < entries.size(); ++i) {
    const RegistryEntry& e = entries[i];
    auto clash = std::find_if(entries_.begin(), entries_.end(),
                              [&](const RegistryEntry& o) { return o.kind == e.kind && o.name == e.name; });
    const RegistryEntry* other = clash != entries_.end() ? &*clash : nullptr;
    for (size_t j = 0; j < i && !other; ++j) {
      if (entries[j].kind == e.kind && entries[j].name == e.name) other = &entries[j];
    }
    if (other) {
      auto who = [](const RegistryEntry& r) {
        return r.provider_path.empty() ? r.provider : r.provider + " (" + r.provider_path + ")";
      };
      throw PluginError({.what = "two providers claim " + e.kind + " '" + e.name + "'",
                         .where = who(e),
                         .expected = "each name registered once per kind",
                         .got = "already registered by " + who(*other),
                         .hint = "remove one of the two plugins from the plugin path, or rename one"});
    }
  }
  for (auto& e : entries) entries_.push_back(std::move(e));
}

const RegistryEntry* Registry::find(std::string_view kind, std::string_view name) const {
  std::lock_guard lock(mu_);
  for (const auto& e : entries_) {
    if (e.kind == kind && e.name == name) return &e;
  }
  return nullptr;
}

const RegistryEntry& Registry::get(std::string_view kind, std::string_view name) const {
  if (const RegistryEntry* e = find(kind, name)) return *e;
  std::vector<std::string> known = names_of(kind);
  ErrorInfo info{.what = "unknown " + std::string(kind) + " '" + std::string(name) + "'",
                 .expected = "one of: " + join_names(known)};
  if (auto near = nearest_name(name, known)) info.hint = "did you mean '" + *near + "'?";
  std::lock_guard lock(mu_);
  if (!unknown_hint_.empty()) info.details.emplace_back("note", unknown_hint_);
  throw NotFoundError(std::move(info));
}

std::vector<std::string> Registry::names_of(std::string_view kind) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& e : entries_) {
    if (e.kind == kind) out.push_back(e.name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<RegistryEntry> Registry::entries() const {
  std::lock_guard lock(mu_);
  std::vector<RegistryEntry> out(entries_.begin(), entries_.end());
  std::sort(out.begin(), out.end(), [](const RegistryEntry& a, const RegistryEntry& b) {
    return std::tie(a.kind, a.name) < std::tie(b.kind, b.name);
  });
  return out;
}

void Registry::set_unknown_hint(std::string hint) {
  std::lock_guard lock(mu_);
  unknown_hint_ = std::move(hint);
}

}  // namespace xib
