// Recipes and options. A recipe is YAML; each section maps into a typed option struct that
// declares its keys once:
//
//   struct RunOptions {
//     int64_t steps = 100;
//     std::filesystem::path out = "runs/x";     // relative paths resolve against the recipe
//     template <class V> void fields(V& v) {
//       v("steps", steps, "optimizer steps");
//       v("out", out, "run folder");
//     }
//     void validate(xib::Validator& v) const { v.require(steps > 0, "steps", "a positive number", steps); }
//   };
//   auto opts = xib::bind<RunOptions>(source->section("run"));
//
// Precedence: the struct's defaults < the recipe file < `--set key.path=value`. An unknown key
// is a ConfigError naming the nearest known key; a wrong type names expected and got; every
// error points at file:line:column or at the --set that caused it. to_yaml() gives back the
// effective configuration (what `--dump-config` prints).
#pragma once

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "xib/error.h"

namespace xib {

/// A recipe tree: the YAML of one file (or string) plus the `--set` overrides applied to it.
class ConfigSource : public std::enable_shared_from_this<ConfigSource> {
 public:
  /// Parse a YAML file. Syntax errors are ConfigErrors with file:line:column.
  static std::shared_ptr<ConfigSource> from_file(const std::filesystem::path& file);
  /// Parse YAML text; `name` appears in messages, relative paths resolve against `base_dir`.
  static std::shared_ptr<ConfigSource> from_string(std::string_view yaml, std::string name,
                                                   std::filesystem::path base_dir);

  /// Apply "key.path=value" (value is YAML: 3, true, [a, b], {k: v}, text). Intermediate
  /// mappings are created; list elements are addressed by index ("data.train.0.path").
  void set(std::string_view assignment);

  const YAML::Node& root() const { return root_; }
  const std::string& name() const { return name_; }
  const std::filesystem::path& base_dir() const { return base_dir_; }

  /// The section at a dotted path ("" is the whole recipe); missing sections are null nodes.
  struct ConfigSection section(std::string_view dotted_path = {}) const;

  /// "recipe.yaml:12:3" for a node from the file, "--set a.b=c" for an overridden key.
  std::string locate(const std::string& key_path, const YAML::Node& node) const;

 private:
  ConfigSource(YAML::Node root, std::string name, std::filesystem::path base_dir);
  YAML::Node root_;
  std::string name_;
  std::filesystem::path base_dir_;
  std::map<std::string, std::string> overrides_;  // dotted key path → the --set text
};

/// A view of one section of a recipe: its node, its dotted path and the recipe it came from.
struct ConfigSection {
  std::shared_ptr<const ConfigSource> source;
  YAML::Node node;   ///< null or undefined when the recipe leaves the section out
  std::string path;  ///< dotted key path ("model.modalities.image"), "" for the root

  ConfigSection() = default;
  ConfigSection(std::shared_ptr<const ConfigSource> src, YAML::Node n, std::string p)
      : source(std::move(src)), node(n), path(std::move(p)) {}
  ConfigSection(const ConfigSection&) = default;  // copies the handle, shares the node
  /// Rebinds (yaml-cpp's Node::operator= would overwrite the node's contents instead).
  ConfigSection& operator=(const ConfigSection& other);

  /// Dotted path of a key inside this section.
  std::string key_path(std::string_view key) const;
  /// The sub-section under `key` (a null node when absent).
  ConfigSection child(std::string_view key) const;
  /// Where this section (or one of its keys) was written, for messages.
  std::string where(std::string_view key = {}) const;
  bool present() const { return node.IsDefined() && !node.IsNull(); }
};

/// Collects validate() problems; bind() throws one ConfigError listing all of them.
class Validator {
 public:
  explicit Validator(ConfigSection section) : section_(std::move(section)) {}

  /// Record a problem with `key` unless `ok`. `got` is printed with fmt.
  template <class G>
  void require(bool ok, std::string_view key, std::string expected, const G& got, std::string hint = {}) {
    if (!ok) add(key, std::move(expected), fmt::format("{}", got), std::move(hint));
  }
  /// `value` must be one of `choices`; suggests the nearest one otherwise.
  void one_of(std::string_view key, const std::string& value, const std::vector<std::string>& choices);
  void add(std::string_view key, std::string expected, std::string got, std::string hint = {});
  /// Throws ConfigError if any problem was recorded.
  void finish() const;

 private:
  struct Problem {
    std::string key, expected, got, hint;
  };
  ConfigSection section_;
  std::vector<Problem> problems_;
};

/// Nearest candidate by edit distance (case-insensitive), if near enough to be a likely typo.
std::optional<std::string> nearest_name(std::string_view typo, const std::vector<std::string>& candidates);

namespace config_detail {

template <class T>
concept HasFields = requires(T& t, int& v) {
  t.fields(v);
};
template <class T>
concept Validatable = requires(const T& t, Validator& v) {
  t.validate(v);
};
template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {};
template <class T>
struct IsMap : std::false_type {};
template <class T>
struct IsMap<std::map<std::string, T>> : std::true_type {};
template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};

[[noreturn]] void type_error(const ConfigSection& s, const std::string& expected, const YAML::Node& got);
void scalar_from_yaml(const ConfigSection& s, const YAML::Node& n, bool& out);
void scalar_from_yaml(const ConfigSection& s, const YAML::Node& n, int64_t& out);
void scalar_from_yaml(const ConfigSection& s, const YAML::Node& n, int& out);
void scalar_from_yaml(const ConfigSection& s, const YAML::Node& n, double& out);
void scalar_from_yaml(const ConfigSection& s, const YAML::Node& n, std::string& out);
void scalar_from_yaml(const ConfigSection& s, const YAML::Node& n, std::filesystem::path& out);
void expect_map(const ConfigSection& s);
void expect_sequence(const ConfigSection& s);

template <class T>
void from_yaml(const ConfigSection& s, T& out);
template <class T>
void bind_absent(const ConfigSection& s, T& out);
/// A relative default path belongs to the recipe too: resolve it against the recipe's folder.
void resolve_default(const ConfigSection& s, std::filesystem::path& p);

/// Visitor that reads fields from a section and remembers which keys it knows.
class Reader {
 public:
  explicit Reader(const ConfigSection& s) : s_(s) {}
  template <class T>
  void operator()(std::string_view key, T& value, std::string_view /*help*/ = {}) {
    known_.emplace_back(key);
    ConfigSection c = s_.child(key);
    if (c.present()) {
      from_yaml(c, value);
    } else if constexpr (std::is_same_v<T, std::filesystem::path>) {
      resolve_default(c, value);
    } else if constexpr (std::is_same_v<T, std::optional<std::filesystem::path>>) {
      if (value) resolve_default(c, *value);
    } else if constexpr (HasFields<T>) {
      bind_absent(c, value);  // an absent section still resolves its paths and must validate
    }
  }
  /// Throws ConfigError for keys of the section that no field claimed.
  void finish() const;

 private:
  const ConfigSection& s_;
  std::vector<std::string> known_;
};

/// Visitor that writes fields back into YAML (the effective configuration).
class Writer {
 public:
  template <class T>
  void operator()(std::string_view key, const T& value, std::string_view /*help*/ = {}) {
    YAML::Node v = to_node(value);
    if (v.IsDefined()) out_[std::string(key)] = v;
  }
  YAML::Node result() const { return out_; }

  template <class T>
  static YAML::Node to_node(const T& value) {
    if constexpr (std::is_same_v<T, std::filesystem::path>) {
      return YAML::Node(value.string());
    } else if constexpr (std::is_same_v<T, ConfigSection>) {
      return value.present() ? YAML::Clone(value.node) : YAML::Node();
    } else if constexpr (IsOptional<T>::value) {
      return value ? to_node(*value) : YAML::Node(YAML::NodeType::Null);
    } else if constexpr (IsVector<T>::value) {
      YAML::Node seq(YAML::NodeType::Sequence);
      bool scalars = true;
      for (const auto& e : value) {
        seq.push_back(to_node(e));
        scalars = scalars && seq[seq.size() - 1].IsScalar();
      }
      if (scalars) seq.SetStyle(YAML::EmitterStyle::Flow);  // [a, b] reads better than a block
      return seq;
    } else if constexpr (IsMap<T>::value) {
      YAML::Node map(YAML::NodeType::Map);
      for (const auto& [k, e] : value) map[k] = to_node(e);
      return map;
    } else if constexpr (HasFields<T>) {
      Writer w;
      const_cast<T&>(value).fields(w);
      YAML::Node n = w.result();
      return n.IsDefined() && n.size() ? n : YAML::Node(YAML::NodeType::Map);
    } else {
      return YAML::Node(value);
    }
  }

 private:
  YAML::Node out_{YAML::NodeType::Map};
};

template <class T>
void from_yaml(const ConfigSection& s, T& out) {
  if constexpr (std::is_same_v<T, ConfigSection>) {
    out = s;  // handed on unparsed: a plugin binds it to its own options
  } else if constexpr (IsOptional<T>::value) {
    typename T::value_type v{};
    if (out) v = *out;
    from_yaml(s, v);
    out = std::move(v);
  } else if constexpr (IsVector<T>::value) {
    expect_sequence(s);
    out.clear();
    for (size_t i = 0; i < s.node.size(); ++i) {
      typename T::value_type v{};
      from_yaml(ConfigSection{s.source, s.node[i], s.key_path(std::to_string(i))}, v);
      out.push_back(std::move(v));
    }
  } else if constexpr (IsMap<T>::value) {
    expect_map(s);
    for (const auto& kv : s.node) {
      const auto key = kv.first.as<std::string>();
      typename T::mapped_type v{};
      if (auto it = out.find(key); it != out.end()) v = it->second;
      from_yaml(s.child(key), v);
      out[key] = std::move(v);
    }
  } else if constexpr (HasFields<T>) {
    expect_map(s);
    Reader r(s);
    out.fields(r);
    r.finish();
    if constexpr (Validatable<T>) {
      Validator v(s);
      out.validate(v);
      v.finish();
    }
  } else {
    scalar_from_yaml(s, s.node, out);
  }
}

}  // namespace config_detail

namespace config_detail {
template <class T>
void bind_absent(const ConfigSection& s, T& out) {
  Reader r(s);  // every key absent: defaults stay, relative default paths resolve
  out.fields(r);
  if constexpr (Validatable<T>) {
    Validator v(s);
    out.validate(v);
    v.finish();
  }
}
}  // namespace config_detail

/// Bind a section to a typed option struct: defaults, then the section's values, then validate().
template <class T>
T bind(const ConfigSection& section) {
  T out{};
  if (section.present()) {
    config_detail::from_yaml(section, out);
  } else if constexpr (config_detail::HasFields<T>) {
    config_detail::bind_absent(section, out);
  }
  return out;
}

namespace config_detail {
/// Visitor that collects the keys fields() declares.
struct KeyLister {
  std::vector<std::string> keys;
  template <class V>
  void operator()(std::string_view key, V&, std::string_view = {}) {
    keys.emplace_back(key);
  }
};
}  // namespace config_detail

/// The recipe keys an option struct declares (its fields(), in order).
template <class T>
std::vector<std::string> option_keys() {
  config_detail::KeyLister lister;
  T options{};
  options.fields(lister);
  return std::move(lister.keys);
}

/// The effective configuration of an option struct as YAML.
template <class T>
YAML::Node to_yaml(const T& options) {
  return config_detail::Writer::to_node(options);
}

/// YAML text of a node, block style.
std::string yaml_text(const YAML::Node& node);

}  // namespace xib
