#include "xib/config.h"

#include <yaml-cpp/depthguard.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

namespace xib {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// ConfigSource

ConfigSource::ConfigSource(YAML::Node root, std::string name, fs::path base_dir)
    : root_(std::move(root)), name_(std::move(name)), base_dir_(std::move(base_dir)) {
  if (!root_.IsDefined() || root_.IsNull()) root_ = YAML::Node(YAML::NodeType::Map);
}

namespace {

YAML::Node parse_yaml(std::string_view text, const std::string& name) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own message here is a bare "bad file".
    throw ConfigError({.what = "the YAML nests too deeply",
                       .where = fmt::format("{}:{}:{}", name, e.mark.line + 1, e.mark.column + 1),
                       .expected = "a recipe of a few levels of sections",
                       .got = fmt::format("more than {} levels of nested lists or mappings", e.depth()),
                       .hint = "a recipe never needs this: check the file is the recipe you meant"});
  } catch (const YAML::Exception& e) {
    throw ConfigError({.what = "cannot parse YAML: " + e.msg,
                       .where = fmt::format("{}:{}:{}", name, e.mark.line + 1, e.mark.column + 1),
                       .hint = "check indentation and quoting near that line"});
  }
}

}  // namespace

std::shared_ptr<ConfigSource> ConfigSource::from_file(const fs::path& file) {
  std::error_code ec;
  if (fs::is_directory(file, ec)) {
    std::vector<std::string> yamls;
    for (const auto& e : fs::directory_iterator(file, ec)) {
      const std::string ext = e.path().extension().string();
      if (ext == ".yaml" || ext == ".yml") yamls.push_back(e.path().filename().string());
    }
    std::sort(yamls.begin(), yamls.end());
    if (yamls.size() > 8) yamls.resize(8);
    throw UsageError({.what = "the recipe is a folder, not a file",
                      .where = file.string(),
                      .expected = "a YAML recipe file",
                      .got = "a folder",
                      .hint = yamls.empty() ? "give the path of a YAML recipe, e.g. recipes/mini/check_models.yaml"
                                            : "recipes in it: " + join_names(yamls)});
  }
  errno = 0;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    const int err = errno;
    const bool exists = fs::exists(file, ec);
    if (exists) {
      throw IoError({.what = "cannot read recipe",
                     .where = file.string(),
                     .got = err ? std::strerror(err) : "it cannot be opened",
                     .hint = "check the file's permissions"});
    }
    throw UsageError({.what = "recipe not found",
                      .where = file.string(),
                      .hint = "give the path of a YAML recipe, e.g. recipes/mini/check_models.yaml"});
  }
  std::stringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    throw IoError({.what = "cannot read recipe", .where = file.string(), .got = std::strerror(errno)});
  }
  const std::string name = file.string();
  YAML::Node root = parse_yaml(buf.str(), name);
  if (root.IsDefined() && !root.IsNull() && !root.IsMap()) {
    throw ConfigError({.what = "a recipe must be a YAML mapping of sections",
                       .where = name,
                       .expected = "keys such as 'kind:' at the top level",
                       .got = root.IsSequence() ? "a list" : "a single value"});
  }
  fs::path base = fs::absolute(file).parent_path();
  return std::shared_ptr<ConfigSource>(new ConfigSource(root, name, base.lexically_normal()));
}

std::shared_ptr<ConfigSource> ConfigSource::from_string(std::string_view yaml, std::string name, fs::path base_dir) {
  YAML::Node root = parse_yaml(yaml, name);
  if (root.IsDefined() && !root.IsNull() && !root.IsMap()) {
    throw ConfigError({.what = "a recipe must be a YAML mapping of sections", .where = name});
  }
  return std::shared_ptr<ConfigSource>(new ConfigSource(root, std::move(name), std::move(base_dir)));
}

namespace {

std::vector<std::string> split_path(std::string_view dotted) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= dotted.size()) {
    size_t dot = dotted.find('.', start);
    if (dot == std::string_view::npos) dot = dotted.size();
    parts.emplace_back(dotted.substr(start, dot - start));
    start = dot + 1;
  }
  return parts;
}

bool is_index(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

/// The value of a list index ("12"); nullopt when it is not one or does not fit a size_t.
std::optional<size_t> parse_index(const std::string& s) {
  if (!is_index(s)) return std::nullopt;
  size_t i = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return i;
}

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t");
  return b == std::string_view::npos ? std::string() : std::string(s.substr(b, e - b + 1));
}

}  // namespace

void ConfigSource::set(std::string_view assignment) {
  const std::string origin = "--set " + std::string(assignment);
  const size_t eq = assignment.find('=');
  const std::string key = trim(assignment.substr(0, eq));
  if (eq == std::string_view::npos || key.empty()) {
    throw UsageError({.what = "malformed --set",
                      .where = origin,
                      .expected = "key.path=value, e.g. --set run.steps=200",
                      .got = std::string(assignment)});
  }
  const std::vector<std::string> parts = split_path(key);
  for (const auto& p : parts) {
    if (p.empty()) {
      throw UsageError({.what = "malformed --set key", .where = origin, .expected = "dot-separated names", .got = key});
    }
  }
  const std::string text = std::string(assignment.substr(eq + 1));
  YAML::Node value = text.empty() ? YAML::Node(std::string()) : parse_yaml(text, origin);

  // Walk down, creating mappings as needed. yaml-cpp's Node::operator= assigns *contents*;
  // rebinding a handle to another node needs reset().
  YAML::Node cur;
  cur.reset(root_);
  std::string walked;
  auto element = [&](const YAML::Node& seq, const std::string& part) {
    const std::optional<size_t> index = parse_index(part);
    if (!index || *index >= seq.size()) {
      throw UsageError(
          {.what = "--set addresses a list element that does not exist",
           .where = origin,
           .expected = fmt::format("an index below {}{}", seq.size(), walked.empty() ? "" : " at '" + walked + "'"),
           .got = part});
    }
    return *index;
  };
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node next;
    if (cur.IsSequence()) {
      next.reset(cur[element(cur, parts[i])]);
    } else {
      next.reset(cur[parts[i]]);
    }
    walked += (i ? "." : "") + parts[i];
    if (!next.IsDefined() || next.IsNull()) {
      cur[parts[i]] = YAML::Node(YAML::NodeType::Map);
      next.reset(cur[parts[i]]);
    } else if (!next.IsMap() && !next.IsSequence()) {
      throw UsageError({.what = "--set goes below a plain value",
                        .where = origin,
                        .expected = fmt::format("'{}' to be a section", walked),
                        .got = fmt::format("the value '{}'", next.Scalar())});
    }
    cur.reset(next);
  }
  const std::string& last = parts.back();
  if (cur.IsSequence()) {
    cur[element(cur, last)] = value;
  } else {
    cur[last] = value;
  }
  overrides_[key] = origin;
}

ConfigSection ConfigSource::section(std::string_view dotted_path) const {
  ConfigSection s{shared_from_this(), root_, ""};
  if (dotted_path.empty()) return s;
  for (const auto& part : split_path(dotted_path)) s = s.child(part);  // rebinding assignment
  return s;
}

std::string ConfigSource::locate(const std::string& key_path, const YAML::Node& node) const {
  // The longest overridden prefix of the key path wins: "--set model.llm={…}" explains
  // everything below model.llm.
  for (std::string p = key_path;;) {
    if (auto it = overrides_.find(p); it != overrides_.end()) return it->second;
    const size_t dot = p.rfind('.');
    if (dot == std::string::npos) break;
    p.resize(dot);
  }
  if (node.IsDefined() && node.Mark().line >= 0 && !node.Mark().is_null()) {
    return fmt::format("{}:{}:{}", name_, node.Mark().line + 1, node.Mark().column + 1);
  }
  return name_;
}

// ---------------------------------------------------------------------------------------------
// ConfigSection

std::string ConfigSection::key_path(std::string_view key) const {
  if (path.empty()) return std::string(key);
  return path + "." + std::string(key);
}

ConfigSection ConfigSection::child(std::string_view key) const {
  // An absent key gives a null node (never yaml-cpp's invalid "zombie" node, whose accessors
  // throw), and lookups go through the const operator[], which never inserts.
  YAML::Node n;
  const YAML::Node& self = node;
  if (self.IsDefined() && self.IsMap()) {
    for (const auto& kv : self) {
      if (kv.first.Scalar() == key) {
        n.reset(kv.second);
        break;
      }
    }
  } else if (self.IsDefined() && self.IsSequence() && is_index(std::string(key))) {
    const std::optional<size_t> i = parse_index(std::string(key));
    if (i && *i < self.size()) n.reset(self[*i]);
  }
  return ConfigSection{source, n, key_path(key)};
}

ConfigSection& ConfigSection::operator=(const ConfigSection& other) {
  source = other.source;
  node.reset(other.node);  // rebind the handle; Node::operator= would overwrite the tree
  path = other.path;
  return *this;
}

std::string ConfigSection::where(std::string_view key) const {
  const std::string kp = key.empty() ? path : key_path(key);
  YAML::Node n(node);
  if (!key.empty() && node.IsDefined() && node.IsMap()) {
    // Point at the key itself, which carries the line of the offending entry.
    for (const auto& kv : node) {
      if (kv.first.Scalar() == key) {
        n.reset(kv.first);
        break;
      }
    }
  }
  std::string loc = source ? source->locate(kp, n) : std::string("(no recipe)");
  // A --set already names its key.
  return kp.empty() || loc.rfind("--set ", 0) == 0 ? loc : loc + ", key " + kp;
}

// ---------------------------------------------------------------------------------------------
// Validator

void Validator::one_of(std::string_view key, const std::string& value, const std::vector<std::string>& choices) {
  if (std::find(choices.begin(), choices.end(), value) != choices.end()) return;
  std::string hint;
  if (auto near = nearest_name(value, choices)) hint = fmt::format("did you mean '{}'?", *near);
  add(key, "one of: " + join_names(choices), "'" + value + "'", hint);
}

void Validator::add(std::string_view key, std::string expected, std::string got, std::string hint) {
  problems_.push_back({std::string(key), std::move(expected), std::move(got), std::move(hint)});
}

void Validator::finish() const {
  if (problems_.empty()) return;
  const Problem& first = problems_.front();
  ErrorInfo info{.what = fmt::format("invalid value for '{}'", section_.key_path(first.key)),
                 .where = section_.where(first.key),
                 .expected = first.expected,
                 .got = first.got,
                 .hint = first.hint};
  for (size_t i = 1; i < problems_.size(); ++i) {
    const Problem& p = problems_[i];
    info.details.emplace_back("also", fmt::format("{} ({}): expected {}, got {}", section_.key_path(p.key),
                                                  section_.where(p.key), p.expected, p.got));
  }
  if (problems_.size() > 1) info.what += fmt::format(" (and {} more)", problems_.size() - 1);
  throw ConfigError(std::move(info));
}

// ---------------------------------------------------------------------------------------------
// Nearest names

namespace {

// Optimal string alignment distance (Levenshtein plus adjacent transpositions), case-insensitive.
size_t edit_distance(std::string_view a, std::string_view b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      const size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

}  // namespace

std::optional<std::string> nearest_name(std::string_view typo, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  size_t best_d = SIZE_MAX;
  for (const auto& c : candidates) {
    const size_t d = edit_distance(typo, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  // Near enough to be a typo: at most a third of the longer name, and never more than 3 edits.
  if (!best) return std::nullopt;
  const size_t longest = std::max(typo.size(), best->size());
  if (*best == typo || best_d > std::min<size_t>(3, std::max<size_t>(1, longest / 3))) return std::nullopt;
  return best;
}

// ---------------------------------------------------------------------------------------------
// Scalars

namespace config_detail {

namespace {
std::string describe(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing (null)";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a section (mapping)";
  return "'" + n.Scalar() + "'";
}
}  // namespace

void type_error(const ConfigSection& s, const std::string& expected, const YAML::Node& got) {
  throw ConfigError({.what = fmt::format("wrong type for '{}'", s.path),
                     .where = s.where(),
                     .expected = expected,
                     .got = describe(got)});
}

void expect_map(const ConfigSection& s) {
  if (!s.node.IsMap()) type_error(s, "a section (key: value mapping)", s.node);
}

void expect_sequence(const ConfigSection& s) {
  if (!s.node.IsSequence()) type_error(s, "a list ([a, b] or '- a' lines)", s.node);
}

void scalar_from_yaml(const ConfigSection& s, const YAML::Node& n, bool& out) {
  if (n.IsScalar()) {
    std::string v = n.Scalar();
    std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
    if (v == "true" || v == "yes" || v == "on") return void(out = true);
    if (v == "false" || v == "no" || v == "off") return void(out = false);
  }
  type_error(s, "true or false", n);
}

void scalar_from_yaml(const ConfigSection& s, const YAML::Node& n, int64_t& out) {
  if (n.IsScalar()) {
    const std::string& v = n.Scalar();
    try {
      size_t used = 0;
      const long long x = std::stoll(v, &used, 10);
      if (used == v.size()) return void(out = x);
      // Accept integral floats written like 1e3 or 2.0.
      const double d = std::stod(v, &used);
      if (used == v.size() && std::floor(d) == d && std::abs(d) < 9.0e18) return void(out = static_cast<int64_t>(d));
    } catch (const std::exception&) {
    }
  }
  type_error(s, "an integer", n);
}

void scalar_from_yaml(const ConfigSection& s, const YAML::Node& n, int& out) {
  int64_t v = 0;
  scalar_from_yaml(s, n, v);
  if (v < INT32_MIN || v > INT32_MAX) type_error(s, "an integer within ±2^31", n);
  out = static_cast<int>(v);
}

void scalar_from_yaml(const ConfigSection& s, const YAML::Node& n, double& out) {
  if (n.IsScalar()) {
    const std::string& v = n.Scalar();
    try {
      size_t used = 0;
      const double x = std::stod(v, &used);
      if (used == v.size()) return void(out = x);
    } catch (const std::exception&) {
    }
  }
  type_error(s, "a number", n);
}

void scalar_from_yaml(const ConfigSection& s, const YAML::Node& n, std::string& out) {
  if (!n.IsScalar()) type_error(s, "a text value", n);
  out = n.Scalar();
}

void scalar_from_yaml(const ConfigSection& s, const YAML::Node& n, fs::path& out) {
  if (!n.IsScalar() || n.Scalar().empty()) type_error(s, "a file or folder path", n);
  fs::path p(n.Scalar());
  if (!p.empty() && p.string().front() == '~') {
    if (const char* home = std::getenv("HOME")) p = fs::path(home) / p.string().substr(p.string().size() > 1 ? 2 : 1);
  }
  // Relative paths belong to the recipe, never to the current directory.
  out = p.is_absolute() ? p.lexically_normal() : (s.source->base_dir() / p).lexically_normal();
}

void resolve_default(const ConfigSection& s, fs::path& p) {
  if (s.source && !p.empty() && p.is_relative()) p = (s.source->base_dir() / p).lexically_normal();
}

void Reader::finish() const {
  if (!s_.node.IsMap()) return;
  std::vector<std::string> unknown;
  for (const auto& kv : s_.node) {
    const std::string key = kv.first.Scalar();
    if (std::find(known_.begin(), known_.end(), key) == known_.end()) unknown.push_back(key);
  }
  if (unknown.empty()) return;
  std::vector<std::string> known = known_;
  std::sort(known.begin(), known.end());
  const std::string section = s_.path.empty() ? std::string("the recipe's top level") : "section '" + s_.path + "'";
  ErrorInfo info{.what = fmt::format("unknown key '{}' in {}", unknown.front(), section),
                 .where = s_.where(unknown.front()),
                 .expected = "one of: " + join_names(known)};
  if (auto near = nearest_name(unknown.front(), known_)) {
    info.hint = fmt::format("did you mean '{}'? (e.g. --set {}=…)", *near, s_.key_path(*near));
  } else {
    info.hint = "remove it, or check the recipe reference in docs/recipes.md";
  }
  for (size_t i = 1; i < unknown.size(); ++i) {
    auto near = nearest_name(unknown[i], known_);
    info.details.emplace_back("also unknown", fmt::format("'{}' ({}){}", unknown[i], s_.where(unknown[i]),
                                                          near ? ", did you mean '" + *near + "'?" : ""));
  }
  throw ConfigError(std::move(info));
}

}  // namespace config_detail

std::string yaml_text(const YAML::Node& node) {
  YAML::Emitter out;
  out.SetIndent(2);
  out << node;
  return std::string(out.c_str()) + "\n";
}

}  // namespace xib
