// Named-tensor lists (xib/train/named_tensors.h): prefixes, and copying a checkpoint's tensors
// into live parameters with every missing, unexpected and mis-shaped name reported at once.
#include "xib/train/named_tensors.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join

#include <map>
#include <set>

#include "xib/error.h"

namespace xib::train {

NamedTensors with_prefix(const NamedTensors& tensors, std::string_view prefix) {
  NamedTensors out;
  out.reserve(tensors.size());
  for (const auto& [n, t] : tensors) out.emplace_back(std::string(prefix) + n, t);
  return out;
}

NamedTensors take_prefix(const NamedTensors& tensors, std::string_view prefix) {
  NamedTensors out;
  for (const auto& [n, t] : tensors)
    if (n.size() >= prefix.size() && std::string_view(n).substr(0, prefix.size()) == prefix)
      out.emplace_back(n.substr(prefix.size()), t);
  return out;
}

void append(NamedTensors& into, const NamedTensors& more) { into.insert(into.end(), more.begin(), more.end()); }

void copy_named_tensors(const NamedTensors& source, const NamedTensors& dest, std::string_view label) {
  std::map<std::string, const at::Tensor*, std::less<>> by_name;
  for (const auto& [n, t] : source) by_name.emplace(n, &t);
  std::vector<std::pair<std::string, std::string>> problems;
  std::set<std::string_view> wanted;
  for (const auto& [n, t] : dest) {
    wanted.insert(n);
    const auto it = by_name.find(n);
    if (it == by_name.end()) {
      problems.emplace_back("missing", fmt::format("{} [{}]", n, fmt::join(t.sizes(), ", ")));
    } else if (!it->second->defined() || it->second->sizes() != t.sizes()) {
      problems.emplace_back(
          "wrong shape",
          fmt::format("{}: expected [{}], got {}", n, fmt::join(t.sizes(), ", "),
                      it->second->defined() ? fmt::format("[{}]", fmt::join(it->second->sizes(), ", ")) : "undefined"));
    }
  }
  for (const auto& [n, t] : source)
    if (!wanted.count(n)) problems.emplace_back("unexpected", n);
  if (!problems.empty())
    throw ShapeError({.what = fmt::format("{}: stored tensors do not fit ({} problems)", label, problems.size()),
                      .where = std::string(label),
                      .expected = fmt::format("the {} tensors of {}", dest.size(), label),
                      .got = fmt::format("{} tensors", source.size()),
                      .hint = "resume with the same model and trainable parameters as the run that saved it",
                      .details = std::move(problems)});
  at::NoGradGuard no_grad;
  for (const auto& [n, t] : dest) t.copy_(*by_name.at(n));
}

}  // namespace xib::train
