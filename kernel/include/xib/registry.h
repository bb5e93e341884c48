// The registry: named factories for every extensible kind (modality, encoder, aligner,
// language_model, tokenizer, prompts, recipe kinds). The kernel registers its built-ins; plugins
// add theirs from their init function. Objects made by a plugin's factory keep that plugin's
// library loaded for as long as they live.
//
// Most kinds are made from their recipe section alone (Factory<T>, FactoryArgs). A kind whose
// objects also need typed facts from whoever builds them declares `using Context = …;` (Modality:
// ModalityContext, Aligner: AlignerContext); its factories take (const T::Context&, section), and
// create<T>() takes the context, so such facts never travel as edited recipe keys.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "xib/config.h"

namespace xib {

/// What a factory receives: the recipe section that configures the object.
struct FactoryArgs {
  ConfigSection options;  ///< the object's own section (may hold a null node: all defaults)
};

/// A kind whose factories take a construction context besides the section.
template <class T>
concept HasContext = requires {
  typename T::Context;
};

template <class T>
using Factory = std::function<std::unique_ptr<T>(const FactoryArgs&)>;
/// The factory of a kind with a context: (the builder's typed facts, the recipe section).
template <HasContext T>
using ContextFactory = std::function<std::unique_ptr<T>(const typename T::Context&, const ConfigSection&)>;

/// One registered factory, type-erased. `kind` is T::kKind of the product.
struct RegistryEntry {
  // Declared first so it is destroyed last: `make` may hold code and data of the library.
  std::shared_ptr<const void> keep_alive;  ///< holds the providing library loaded
  std::string kind;
  std::string name;
  std::string help;
  std::string provider = "kernel";  ///< plugin name, or "kernel" for built-ins
  std::string provider_path;        ///< plugin file, empty for built-ins
  /// The recipe keys the product reads, for kinds whose types share one section (aligner types:
  /// a key of another type is accepted there and reported as unused). Empty otherwise.
  std::vector<std::string> keys;
  /// Returns a T* of the entry's kind. `context` points at a T::Context for kinds with one
  /// (create<T>() passes it), and is null otherwise.
  std::function<void*(const FactoryArgs&, const void* context)> make;
  void (*destroy)(void*) = nullptr;  ///< deletes what make() returned
};

/// Collects registrations before they are committed, so a plugin whose init throws or clashes
/// adds nothing at all.
class Registrations {
 public:
  /// Register a factory of T (T declares `static constexpr const char* kKind`).
  template <class T>
  requires(!HasContext<T>) void add(std::string name, Factory<T> factory, std::string help = {}) {
    RegistryEntry e = entry<T>(std::move(name), std::move(help));
    e.make = [f = std::move(factory)](const FactoryArgs& a, const void*) -> void* { return f(a).release(); };
    entries_.push_back(std::move(e));
  }
  /// Register a factory of a kind with a construction context; `keys` lists the recipe keys
  /// the product reads (see RegistryEntry::keys).
  template <HasContext T>
  void add(std::string name, ContextFactory<T> factory, std::string help = {}, std::vector<std::string> keys = {}) {
    RegistryEntry e = entry<T>(std::move(name), std::move(help));
    e.keys = std::move(keys);
    e.make = [f = std::move(factory)](const FactoryArgs& a, const void* context) -> void* {
      return f(*static_cast<const typename T::Context*>(context), a.options).release();
    };
    entries_.push_back(std::move(e));
  }
  std::vector<RegistryEntry>& entries() { return entries_; }

 private:
  template <class T>
  static RegistryEntry entry(std::string name, std::string help) {
    RegistryEntry e;
    e.kind = T::kKind;
    e.name = std::move(name);
    e.help = std::move(help);
    e.destroy = [](void* p) { delete static_cast<T*>(p); };
    return e;
  }
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
  requires(!HasContext<T>) std::shared_ptr<T> create(std::string_view name, const FactoryArgs& args)
  const { return make_from<T>(get(T::kKind, name), args, nullptr); }
  /// Make a T of a kind with a construction context.
  template <HasContext T>
  std::shared_ptr<T> create(std::string_view name, const typename T::Context& context,
                            const ConfigSection& section) const {
    return make_from<T>(get(T::kKind, name), FactoryArgs{section}, &context);
  }

  const RegistryEntry* find(std::string_view kind, std::string_view name) const;
  const RegistryEntry& get(std::string_view kind, std::string_view name) const;
  std::vector<std::string> names_of(std::string_view kind) const;
  /// Every entry, sorted by kind then name.
  std::vector<RegistryEntry> entries() const;
  /// Text appended to "unknown name" errors (the loader sets it to list refused plugins).
  void set_unknown_hint(std::string hint);

 private:
  template <class T>
  static std::shared_ptr<T> make_from(const RegistryEntry& e, const FactoryArgs& args, const void* context) {
    T* raw = static_cast<T*>(e.make(args, context));
    // The deleter runs the plugin's destructor; the library it holds is released after that,
    // when the deleter itself is destroyed.
    return std::shared_ptr<T>(raw, LibraryDeleter<T>{e.keep_alive, e.destroy});
  }

  mutable std::mutex mu_;
  std::deque<RegistryEntry> entries_;  // a deque: find() hands out stable references
  std::string unknown_hint_;
};

}  // namespace xib
