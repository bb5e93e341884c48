// Planning a weight map against a source (names, shapes, dtypes) and the parameters we expect:
// every problem is collected, then reported at once with a hint.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "transform_shape.h"
#include "xib/weights/weight_map.h"

namespace xib::weights {

namespace {

enum class Category { floating, integer, boolean };

Category category(io::DType t) {
  using D = io::DType;
  switch (t) {
    case D::f64:
    case D::f32:
    case D::f16:
    case D::bf16:
      return Category::floating;
    case D::boolean:
      return Category::boolean;
    default:
      return Category::integer;
  }
}

const Rule* first_match(const std::vector<Rule>& rules, std::string_view name) {
  for (const auto& r : rules) {
    if (glob_match(r.pattern, name)) return &r;
  }
  return nullptr;
}

/// Layer index after ".layer." / ".layers." / ".blocks." / ".h." in a name, if any.
std::optional<int64_t> layer_index(std::string_view stored) {
  const std::string name = "." + std::string(stored);
  for (std::string_view key : {".layer.", ".layers.", ".blocks.", ".h."}) {
    const size_t pos = name.find(key);
    if (pos == std::string::npos) continue;
    const size_t begin = pos + key.size();
    size_t end = begin;
    while (end < name.size() && std::isdigit(static_cast<unsigned char>(name[end]))) ++end;
    if (end > begin && end < name.size() && name[end] == '.') return std::stoll(name.substr(begin, end - begin));
  }
  return std::nullopt;
}

std::string first_component(std::string_view name) {
  const auto dot = name.find('.');
  return dot == std::string_view::npos ? std::string() : std::string(name.substr(0, dot + 1));
}

/// How many entries would find all their sources if `rename` were applied to the map's names.
template <class F>
size_t count_matches(const std::vector<const ExpandedEntry*>& active, const std::unordered_set<std::string>& names,
                     F rename) {
  size_t n = 0;
  for (const auto* e : active) {
    bool all = true;
    for (const auto& f : e->from) {
      if (f == kZeros) continue;
      auto r = rename(f);
      all = all && r && names.count(*r);
    }
    n += all ? 1 : 0;
  }
  return n;
}

std::string prefix_hint(const std::vector<const ExpandedEntry*>& active, const std::vector<SourceTensor>& source,
                        size_t matched) {
  std::unordered_set<std::string> names;
  std::map<std::string, size_t> source_firsts, map_firsts;
  for (const auto& s : source) names.insert(s.name), ++source_firsts[first_component(s.name)];
  for (const auto* e : active) {
    for (const auto& f : e->from) {
      if (f != kZeros) ++map_firsts[first_component(f)];
    }
  }
  std::set<std::string> strip = {"model.", "module.", "state_dict.", "_orig_mod."};
  for (const auto& [p, _] : source_firsts) {
    if (!p.empty()) strip.insert(p);
  }
  size_t best = matched;
  std::string hint;
  for (const auto& p : strip) {
    // The source has an extra prefix: the map's name `f` is stored as p + f.
    const size_t n = count_matches(active, names, [&](const std::string& f) { return std::optional(p + f); });
    if (n > best) {
      best = n;
      hint = fmt::format(
          "the source's names start with '{}' and the map's do not ({} of {} entries match without it): open the "
          "weights with prefix '{}' or plan with strip_prefix = '{}'",
          p, n, active.size(), p.substr(0, p.size() - 1), p.substr(0, p.size() - 1));
    }
  }
  for (const auto& [p, _] : map_firsts) {
    if (p.empty()) continue;
    // The map expects a prefix the source lacks.
    const size_t n = count_matches(active, names, [&](const std::string& f) -> std::optional<std::string> {
      if (f.rfind(p, 0) != 0) return std::nullopt;
      return f.substr(p.size());
    });
    if (n > best) {
      best = n;
      hint = fmt::format(
          "the map expects names under '{}' and the source's lack that prefix ({} of {} entries match without "
          "it): use the map's variant without that prefix",
          p, n, active.size());
    }
  }
  return best * 2 >= active.size() && best > matched ? hint : std::string();
}

std::string shape_hint(const WeightPlan& p) {
  for (const auto& m : p.misshaped) {
    const bool tokens = m.to.size() >= 12 && m.to.ends_with("query_tokens");
    if (tokens && m.expected.size() == 3 && m.got.size() == 3 && m.expected[1] != m.got[1] &&
        m.expected[2] == m.got[2]) {
      return fmt::format(
          "the checkpoint was trained with queries: {} (the model is configured for {}); set queries: {} to "
          "use it",
          m.got[1], m.expected[1], m.got[1]);
    }
  }
  for (const auto& m : p.misshaped) {
    if (m.to.find("word") != std::string::npos && m.expected.size() == 2 && m.got.size() == 2 &&
        m.expected[1] == m.got[1] && m.expected[0] != m.got[0]) {
      return fmt::format(
          "vocabulary sizes differ: the checkpoint has {} rows, the model {} (upstream adds [DEC] to BERT's "
          "30522 and resizes the embeddings); match the tokenizer to the checkpoint",
          m.got[0], m.expected[0]);
    }
  }
  // Every mismatch differs in the same way: a width set differently.
  std::set<std::pair<int64_t, int64_t>> diffs;
  for (const auto& m : p.misshaped) {
    if (m.got.size() != m.expected.size()) return {};
    for (size_t d = 0; d < m.got.size(); ++d) {
      if (m.got[d] != m.expected[d]) diffs.insert({m.expected[d], m.got[d]});
    }
  }
  if (diffs.size() == 1) {
    const auto [e, g] = *diffs.begin();
    return fmt::format("every mismatch is {} (model) vs {} (checkpoint): the checkpoint was built with a width of {}",
                       e, g, g);
  }
  return {};
}

std::string layer_hint(const ExpandedMap& map, const std::vector<SourceTensor>& source) {
  int64_t src_max = -1, map_max = -1;
  for (const auto& s : source) src_max = std::max(src_max, layer_index(s.name).value_or(-1));
  for (const auto& e : map.entries) {
    for (const auto& f : e.from) map_max = std::max(map_max, layer_index(f).value_or(-1));
  }
  if (src_max < 0 || map_max < 0 || src_max == map_max) return {};
  return fmt::format("the checkpoint has {} layers, the map was expanded for {}: set layers: {} (or skip the extra)",
                     src_max + 1, map_max + 1, src_max + 1);
}

template <class T, class F>
std::string examples(const std::vector<T>& items, size_t max, F line) {
  std::string out;
  for (size_t k = 0; k < items.size() && k < max; ++k) out += (k ? "\n" : "") + line(items[k]);
  if (items.size() > max) out += fmt::format("\n… and {} more", items.size() - max);
  return out;
}

}  // namespace

WeightPlan plan(const ExpandedMap& map, const std::vector<SourceTensor>& source_in,
                const std::vector<DestParam>& expected, const PlanOptions& options) {
  WeightPlan p{.map_name = map.name, .source_label = options.source_label, .strict = options.strict};

  // Source names as the map sees them (strip_prefix applied), remembering the stored name.
  std::vector<SourceTensor> source;
  std::unordered_map<std::string, std::string> stored;
  std::vector<std::string> outside_prefix;
  const std::string prefix = options.strip_prefix.empty() || options.strip_prefix.ends_with('.')
                                 ? options.strip_prefix
                                 : options.strip_prefix + ".";
  for (const auto& s : source_in) {
    if (!prefix.empty() && !s.name.starts_with(prefix)) {
      outside_prefix.push_back(s.name);
      continue;
    }
    auto t = s;
    t.name = s.name.substr(prefix.size());
    stored[t.name] = s.name;
    source.push_back(std::move(t));
  }
  std::unordered_map<std::string, const SourceTensor*> by_name;
  for (const auto& s : source) by_name[s.name] = &s;
  std::unordered_map<std::string, const DestParam*> dest;
  for (const auto& d : expected) dest[d.name] = &d;

  std::unordered_map<std::string, const Rule*> skipped;
  for (const auto& s : source) {
    if (const Rule* r = first_match(map.skips, s.name)) {
      skipped[s.name] = r;
      p.skipped.push_back({.name = stored[s.name], .reason = r->reason});
    }
  }

  std::unordered_set<std::string> consumed, handled;
  std::vector<const ExpandedEntry*> active;
  std::map<std::string, std::string> missing_why;  // dest → why, for entries whose sources are absent
  std::map<std::string, std::string> fresh_why;
  size_t matched = 0;
  for (const auto& e : map.entries) {
    auto d = dest.find(e.to);
    if (d == dest.end()) continue;  // the model has no such parameter: the entry is inactive
    active.push_back(&e);
    const DestParam& want = *d->second;
    std::vector<std::string> absent;
    const Rule* skip = nullptr;
    for (const auto& f : e.from) {
      if (f == kZeros) continue;
      if (!by_name.count(f)) absent.push_back(f);
      if (auto s = skipped.find(f); s != skipped.end()) skip = s->second;
    }
    if (!absent.empty()) {
      missing_why[e.to] = fmt::format("needs {}, absent from the source", join_names(absent));
      continue;
    }
    ++matched;
    if (skip) {
      fresh_why[e.to] = "its source is skipped: " + skip->reason;
      for (const auto& f : e.from) consumed.insert(f);
      continue;
    }
    handled.insert(e.to);
    std::vector<std::vector<int64_t>> shapes;
    const std::vector<int64_t>* first_real = nullptr;
    for (const auto& f : e.from) {
      if (f != kZeros && !first_real) first_real = &by_name[f]->shape;
    }
    std::vector<std::string> from;
    bool dtype_ok = true;
    for (const auto& f : e.from) {
      if (f == kZeros) {
        shapes.push_back(*first_real);
        from.push_back(f);
        continue;
      }
      consumed.insert(f);
      const SourceTensor& s = *by_name[f];
      shapes.push_back(s.shape);
      from.push_back(stored[f]);
      if (category(s.dtype) != category(want.dtype)) {
        p.dtype_problems.push_back({.to = e.to, .from = stored[f], .expected = want.dtype, .got = s.dtype});
        dtype_ok = false;
      } else if (category(s.dtype) == Category::floating && io::dtype_size(want.dtype) < io::dtype_size(s.dtype)) {
        p.warnings.push_back(fmt::format("{}: {} narrowed to {} (from {})", e.to, io::dtype_name(s.dtype),
                                         io::dtype_name(want.dtype), stored[f]));
      }
    }
    const auto r = detail::transformed_shape(e.transform, shapes);
    if (!r.error.empty() || r.shape != want.shape) {
      p.misshaped.push_back({.to = e.to,
                             .from = join_names(from),
                             .expected = want.shape,
                             .got = r.shape,
                             .note = r.error.empty() ? e.transform.describe() : r.error});
      continue;
    }
    if (e.transform.kind == Transform::Kind::grow &&
        shapes.front()[static_cast<size_t>(e.transform.dim)] < r.shape[static_cast<size_t>(e.transform.dim)]) {
      const auto have = shapes.front()[static_cast<size_t>(e.transform.dim)];
      p.warnings.push_back(fmt::format("{}: entries {}…{} along dim {} keep their initialisation ({} has {})", e.to,
                                       have, r.shape[static_cast<size_t>(e.transform.dim)] - 1, e.transform.dim,
                                       join_names(from), have));
    }
    if (dtype_ok) {
      p.assignments.push_back(
          {.to = e.to, .from = from, .transform = e.transform, .shape = r.shape, .dtype = want.dtype});
    }
  }

  for (const auto& d : expected) {
    if (handled.count(d.name)) continue;
    if (auto f = fresh_why.find(d.name); f != fresh_why.end()) {
      p.fresh.push_back({.name = d.name, .reason = f->second});
    } else if (const Rule* r = first_match(map.allow_missing, d.name)) {
      p.fresh.push_back({.name = d.name, .reason = r->reason});
    } else {
      auto w = missing_why.find(d.name);
      p.missing.push_back(
          {.name = d.name, .why = w != missing_why.end() ? w->second : "no entry of the map produces it"});
    }
  }

  p.unexpected = outside_prefix;
  for (const auto& s : source) {
    if (!consumed.count(s.name) && !skipped.count(s.name)) p.unexpected.push_back(stored[s.name]);
  }
  if (!options.strict) {
    for (const auto& u : p.unexpected) p.warnings.push_back("unexpected tensor ignored: " + u);
  }

  if (!p.ok()) {
    if (active.empty() && !expected.empty()) {
      p.hint =
          fmt::format("no entry of map '{}' writes any expected parameter: is this the map for this model?", map.name);
    }
    if (p.hint.empty()) p.hint = prefix_hint(active, source, matched);
    if (p.hint.empty()) p.hint = shape_hint(p);
    if (p.hint.empty() && (!p.missing.empty() || !p.unexpected.empty())) p.hint = layer_hint(map, source);
    if (p.hint.empty()) {
      if (!p.dtype_problems.empty()) {
        p.hint = "a float parameter needs a float tensor: the source holds something else under that name";
      } else if (!p.missing.empty()) {
        p.hint = "parameters meant to start fresh go into the map's allow_missing list";
      } else if (!p.unexpected.empty()) {
        p.hint = "tensors meant to be ignored go into the map's skip list; or plan with strict = false";
      }
    }
  }
  return p;
}

bool WeightPlan::ok() const {
  return missing.empty() && misshaped.empty() && dtype_problems.empty() && (!strict || unexpected.empty());
}

std::string WeightPlan::summary() const {
  return fmt::format("{} loaded, {} fresh, {} skipped, {} missing, {} unexpected{}, {} mis-shaped, {} dtype",
                     assignments.size(), fresh.size(), skipped.size(), missing.size(), unexpected.size(),
                     strict ? "" : " (ignored)", misshaped.size(), dtype_problems.size());
}

void WeightPlan::raise_if_failed(size_t max) const {
  if (ok()) return;
  ErrorInfo info{.what = fmt::format("weights from {} do not fit (map '{}'): {}", source_label, map_name, summary()),
                 .where = source_label};
  if (!missing.empty()) {
    info.details.emplace_back(fmt::format("missing ({})", missing.size()),
                              examples(missing, max, [](const Missing& m) { return m.name + " — " + m.why; }));
  }
  if (!unexpected.empty() && strict) {
    info.details.emplace_back(fmt::format("unexpected ({})", unexpected.size()),
                              examples(unexpected, max, [](const std::string& u) { return u; }));
  }
  if (!misshaped.empty()) {
    const auto& m = misshaped.front();
    info.expected = m.to + " " + shape_str(m.expected);
    info.got = m.got.empty() ? m.note : shape_str(m.got) + " from " + m.from;
    info.details.emplace_back(fmt::format("mis-shaped ({})", misshaped.size()),
                              examples(misshaped, max, [](const Misshaped& x) {
                                return fmt::format("{}: expected {}, got {} from {} ({})", x.to, shape_str(x.expected),
                                                   x.got.empty() ? "nothing" : shape_str(x.got), x.from, x.note);
                              }));
  }
  if (!dtype_problems.empty()) {
    info.details.emplace_back(fmt::format("dtype ({})", dtype_problems.size()),
                              examples(dtype_problems, max, [](const DTypeProblem& x) {
                                return fmt::format("{}: needs {}, got {} from {}", x.to, io::dtype_name(x.expected),
                                                   io::dtype_name(x.got), x.from);
                              }));
  }
  if (!skipped.empty()) {
    info.details.emplace_back(fmt::format("skipped ({}, deliberate)", skipped.size()),
                              examples(skipped, max, [](const Noted& n) { return n.name + " — " + n.reason; }));
  }
  if (!fresh.empty()) {
    info.details.emplace_back(fmt::format("fresh ({}, deliberate)", fresh.size()),
                              examples(fresh, max, [](const Noted& n) { return n.name + " — " + n.reason; }));
  }
  info.hint = hint;
  throw WeightMapError(std::move(info), std::make_shared<const WeightPlan>(*this));
}

}  // namespace xib::weights
