// Weight maps: placeholder substitution, expansion over layers, glob matching, transforms'
// shape rules. Planning is in weight_plan.cpp.
#include "xib/weights/weight_map.h"

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (moved here in fmt 11)

#include <algorithm>
#include <set>

#include "transform_shape.h"

namespace xib::weights {

std::string shape_str(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

std::string Transform::describe() const {
  switch (kind) {
    case Kind::identity:
      return "identity";
    case Kind::transpose:
      return "transpose";
    case Kind::reshape:
      return "reshape " + shape_str(shape);
    case Kind::split:
      return fmt::format("split part {} of {} along dim {}", part, parts, dim);
    case Kind::concat:
      return fmt::format("concat along dim {}", dim);
    case Kind::grow:
      return fmt::format("grow dim {} to {}", dim, size);
  }
  return "?";
}

std::string substitute(std::string_view pattern, const std::map<std::string, std::string>& vars) {
  std::string out;
  size_t pos = 0;
  while (pos < pattern.size()) {
    const size_t open = pattern.find('{', pos);
    if (open == std::string_view::npos) break;
    const size_t close = pattern.find('}', open);
    if (close == std::string_view::npos) {
      throw ConfigError({.what = "unclosed '{' in weight-map pattern",
                         .where = std::string(pattern),
                         .hint = "placeholders look like {i}, {j}, {m}"});
    }
    const std::string key(pattern.substr(open + 1, close - open - 1));
    auto it = vars.find(key);
    if (it == vars.end()) {
      std::vector<std::string> known;
      for (const auto& [k, _] : vars) known.push_back("{" + k + "}");
      throw ConfigError({.what = "unknown placeholder {" + key + "} in weight-map pattern",
                         .where = std::string(pattern),
                         .expected = "one of: " + join_names(known),
                         .hint = "pass it in ExpandOptions::vars (the modality prefix is {m})"});
    }
    out.append(pattern.substr(pos, open - pos));
    out += it->second;
    pos = close + 1;
  }
  out.append(pattern.substr(std::min(pos, pattern.size())));
  return out;
}

bool glob_match(std::string_view p, std::string_view s) {
  size_t pi = 0, si = 0, star = std::string_view::npos, mark = 0;
  while (si < s.size()) {
    if (pi < p.size() && (p[pi] == '?' || p[pi] == s[si])) {
      ++pi, ++si;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++, mark = si;
    } else if (star != std::string_view::npos) {
      pi = star + 1, si = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

namespace {

bool uses(const Entry& e, std::string_view placeholder) {
  if (e.to.find(placeholder) != std::string::npos) return true;
  return std::any_of(e.from.begin(), e.from.end(),
                     [&](const std::string& f) { return f.find(placeholder) != std::string::npos; });
}

void validate_entry(const WeightMap& map, const ExpandedEntry& e) {
  const auto real = std::count_if(e.from.begin(), e.from.end(), [](const std::string& f) { return f != kZeros; });
  const auto where = fmt::format("weight map '{}', entry for '{}'", map.name, e.to);
  if (e.transform.kind == Transform::Kind::concat) {
    if (real == 0) {
      throw ConfigError(
          {.what = "a concat entry needs at least one real source", .where = where, .got = join_names(e.from)});
    }
  } else if (e.from.size() != 1 || real != 1) {
    throw ConfigError({.what = "only concat entries take several sources (or zeros)",
                       .where = where,
                       .expected = "one upstream name for " + e.transform.describe(),
                       .got = join_names(e.from)});
  }
  if (e.transform.kind == Transform::Kind::split &&
      (e.transform.parts < 1 || e.transform.part < 0 || e.transform.part >= e.transform.parts)) {
    throw ConfigError({.what = "split part out of range", .where = where, .got = e.transform.describe()});
  }
}

}  // namespace

ExpandedMap expand(const WeightMap& map, const ExpandOptions& options) {
  if (options.layers < 0) {
    throw ConfigError({.what = "negative layer count",
                       .where = "weight map '" + map.name + "'",
                       .got = std::to_string(options.layers)});
  }
  ExpandedMap out{.name = map.name};
  auto vars = options.vars;
  vars["layers"] = std::to_string(options.layers);
  std::set<std::string> targets;

  for (const Entry& entry : map.entries) {
    const bool has_i = uses(entry, "{i}");
    const bool has_j = uses(entry, "{j}");
    if (has_j && entry.inner <= 0) {
      throw ConfigError({.what = "pattern uses {j} but the entry's inner count is not set",
                         .where = "weight map '" + map.name + "', entry for '" + entry.to + "'"});
    }
    if (entry.layer_step < 1) {
      throw ConfigError({.what = "layer_step must be at least 1",
                         .where = "weight map '" + map.name + "', entry for '" + entry.to + "'"});
    }
    const int64_t i_end = has_i ? options.layers : 1;
    const int64_t j_end = has_j ? entry.inner : 1;
    for (int64_t i = 0; i < i_end; i += has_i ? entry.layer_step : 1) {
      for (int64_t j = 0; j < j_end; ++j) {
        if (has_i) vars["i"] = std::to_string(i);
        if (has_j) vars["j"] = std::to_string(j);
        ExpandedEntry e{.to = substitute(entry.to, vars), .transform = entry.transform};
        for (const auto& f : entry.from) e.from.push_back(f == kZeros ? f : substitute(f, vars));
        validate_entry(map, e);
        if (!targets.insert(e.to).second) {
          throw ConfigError({.what = "two entries write the same parameter '" + e.to + "'",
                             .where = "weight map '" + map.name + "'",
                             .hint = "each parameter comes from exactly one entry"});
        }
        out.entries.push_back(std::move(e));
      }
    }
    vars.erase("i");
    vars.erase("j");
  }
  // Rules may use {i}: expanded over every layer.
  auto expand_rules = [&](const std::vector<Rule>& rules, std::vector<Rule>& into) {
    for (const Rule& r : rules) {
      const bool has_i = r.pattern.find("{i}") != std::string::npos;
      for (int64_t i = 0; i < (has_i ? options.layers : 1); ++i) {
        if (has_i) vars["i"] = std::to_string(i);
        into.push_back({.pattern = substitute(r.pattern, vars), .reason = substitute(r.reason, vars)});
      }
      vars.erase("i");
    }
  };
  expand_rules(map.skips, out.skips);
  expand_rules(map.allow_missing, out.allow_missing);
  return out;
}

std::vector<SourceTensor> source_tensors(const std::vector<io::TensorRecord>& records) {
  std::vector<SourceTensor> out;
  out.reserve(records.size());
  for (const auto& r : records) out.push_back({.name = r.name, .shape = r.shape, .dtype = r.dtype});
  return out;
}

namespace detail {

ShapeResult transformed_shape(const Transform& t, const std::vector<std::vector<int64_t>>& inputs) {
  using K = Transform::Kind;
  if (inputs.empty()) return {.error = "no inputs"};
  const auto& a = inputs.front();
  const auto rank = static_cast<int64_t>(a.size());
  auto bad_dim = [&](int64_t d) { return d < 0 || d >= rank; };
  switch (t.kind) {
    case K::identity:
      return {.shape = a};
    case K::transpose:
      if (rank != 2) return {.error = "transpose needs a 2-D tensor, got " + shape_str(a)};
      return {.shape = {a[1], a[0]}};
    case K::reshape: {
      int64_t numel = 1, known = 1, free = -1;
      for (auto s : a) numel *= s;
      auto shape = t.shape;
      for (size_t k = 0; k < shape.size(); ++k) {
        if (shape[k] == -1 && free < 0) {
          free = static_cast<int64_t>(k);
        } else {
          known *= shape[k];
        }
      }
      if (free >= 0 && known > 0 && numel % known == 0) shape[static_cast<size_t>(free)] = numel / known;
      int64_t got = 1;
      for (auto s : shape) got *= s;
      if (got != numel) return {.error = fmt::format("cannot reshape {} into {}", shape_str(a), shape_str(t.shape))};
      return {.shape = shape};
    }
    case K::split: {
      if (bad_dim(t.dim)) return {.error = fmt::format("split dim {} out of range for {}", t.dim, shape_str(a))};
      const auto n = a[static_cast<size_t>(t.dim)];
      if (n % t.parts != 0) {
        return {.error = fmt::format("dim {} of {} is not divisible into {} parts", t.dim, shape_str(a), t.parts)};
      }
      auto shape = a;
      shape[static_cast<size_t>(t.dim)] = n / t.parts;
      return {.shape = shape};
    }
    case K::concat: {
      if (bad_dim(t.dim)) return {.error = fmt::format("concat dim {} out of range for {}", t.dim, shape_str(a))};
      auto shape = a;
      for (size_t k = 1; k < inputs.size(); ++k) {
        const auto& b = inputs[k];
        bool fits = b.size() == a.size();
        for (size_t d = 0; fits && d < a.size(); ++d) fits = d == static_cast<size_t>(t.dim) || a[d] == b[d];
        if (!fits) {
          return {.error = fmt::format("cannot concat {} and {} along dim {}", shape_str(a), shape_str(b), t.dim)};
        }
        shape[static_cast<size_t>(t.dim)] += b[static_cast<size_t>(t.dim)];
      }
      return {.shape = shape};
    }
    case K::grow: {
      if (bad_dim(t.dim)) return {.error = fmt::format("grow dim {} out of range for {}", t.dim, shape_str(a))};
      if (a[static_cast<size_t>(t.dim)] > t.size) {
        return {.error =
                    fmt::format("cannot grow dim {} of {} to {}: the source is larger", t.dim, shape_str(a), t.size)};
      }
      auto shape = a;
      shape[static_cast<size_t>(t.dim)] = t.size;
      return {.shape = shape};
    }
  }
  return {.error = "unknown transform"};
}

}  // namespace detail

}  // namespace xib::weights
