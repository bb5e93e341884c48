// The registry: named factories for every extensible kind (modality, encoder, aligner,
// language_model, tokenizer, recipe kinds). The kernel registers its built-ins; plugins add
// theirs from their init function. Objects made by a plugin's factory keep that plugin's
// library loaded for as long as they live.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "xib/config.h"

namespace xib {

/// What a factory receives: the recipe section that configures the object.
struct FactoryArgs {
  ConfigSection options;  ///< the object's own section (may hold a null node: all defaults)
};

template <class T>
using Factory = std::function<std::unique_ptr<T>(const FactoryArgs&)>;

/// One registered factory, type-erased. `kind` is T::kKind of the product.
struct RegistryEntry {
  // Declared first so it is destroyed last: `make` may hold code and data of the library.
  std::shared_ptr<const void> keep_alive;  ///< holds the providing library loaded
  std::string kind;
  std::string name;
  std::string help;
  std::string provider = "kernel";                ///< plugin name, or "kernel" for built-ins
  std::string provider_path;                      ///< plugin file, empty for built-ins
  std::function<void*(const FactoryArgs&)> make;  ///< returns a T* of the entry's kind
  void (*destroy)(void*) = nullptr;               ///< deletes what make() returned
};

/// Collects registrations before they are committed, so a plugin whose init throws or clashes
/// adds nothing at all.
class Registrations {
 public:
  /// Register a factory of T (T declares `static constexpr const char* kKind`).
  template <class T>
  void add(std::string name, Factory<T> factory, std::string help = {}) {
    RegistryEntry e;
    e.kind = T::kKind;
    e.name = std::move(name);
    e.help = std::move(help);
    e.make = [f = std::move(factory)](const FactoryArgs& a) -> void* { return f(a).release(); };
    e.destroy = [](void* p) { delete static_cast<T*>(p); };
    entries_.push_back(std::move(e));
  }
  std::vector<RegistryEntry>& entries() { return entries_; }

 private:
  std::vector<RegistryEntry> entries_;
};

/// Deletes an object made by a plugin and keeps the plugin's library loaded until then.
template <class T>
struct LibraryDeleter {
  std::shared_ptr<const void> library;
  void (*destroy)(void*);
  void operator()(T* p) const { destroy(p); }
};

class Registry {
 public:
  /// The process-wide registry (built-ins registered on first use).
  static Registry& global();

  /// Add all entries or none: a name already taken for the same kind throws PluginError
  /// naming both providers.
  void commit(std::vector<RegistryEntry> entries);

  template <class T>
  bool contains(std::string_view name) const {
    return find(T::kKind, name) != nullptr;
  }
  /// Names registered for T's kind, sorted.
  template <class T>
  std::vector<std::string> names() const {
    return names_of(T::kKind);
  }
  /// Make a T by name. Unknown names throw NotFoundError listing the known ones (and any
  /// refused plugin that might have provided it, via `unknown_hint`).
  template <class T>
  std::shared_ptr<T> create(std::string_view name, const FactoryArgs& args) const {
    const RegistryEntry& e = get(T::kKind, name);
    T* raw = static_cast<T*>(e.make(args));
    // The deleter runs the plugin's destructor; the library it holds is released after that,
    // when the deleter itself is destroyed.
    return std::shared_ptr<T>(raw, LibraryDeleter<T>{e.keep_alive, e.destroy});
  }

  const RegistryEntry* find(std::string_view kind, std::string_view name) const;
  const RegistryEntry& get(std::string_view kind, std::string_view name) const;
  std::vector<std::string> names_of(std::string_view kind) const;
  /// Every entry, sorted by kind then name.
  std::vector<RegistryEntry> entries() const;
  /// Text appended to "unknown name" errors (the loader sets it to list refused plugins).
  void set_unknown_hint(std::string hint);

 private:
  mutable std::mutex mu_;
  std::deque<RegistryEntry> entries_;  // a deque: find() hands out stable references
  std::string unknown_hint_;
};

}  // namespace xib
