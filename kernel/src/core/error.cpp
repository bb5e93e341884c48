#include "xib/error.h"

#include <algorithm>

namespace xib {

namespace {
std::string first_line(const ErrorInfo& info) { return info.what.empty() ? std::string("unknown error") : info.what; }
}  // namespace

Error::Error(ErrorInfo info) : std::runtime_error(first_line(info)), info_(std::move(info)) {}

std::string Error::report() const {
  std::vector<std::pair<std::string, std::string>> rows;
  if (!info_.where.empty()) rows.emplace_back("where", info_.where);
  if (!info_.expected.empty()) rows.emplace_back("expected", info_.expected);
  if (!info_.got.empty()) rows.emplace_back("got", info_.got);
  for (const auto& d : info_.details) rows.push_back(d);
  if (!info_.hint.empty()) rows.emplace_back("hint", info_.hint);

  size_t width = 0;
  for (const auto& [label, _] : rows) width = std::max(width, label.size());
  std::string out = first_line(info_);
  for (const auto& [label, text] : rows) {
    out += "\n  " + label + ":" + std::string(width - label.size() + 2, ' ');
    // Continuation lines of a multi-line value line up under its first line.
    for (char c : text) {
      out += c;
      if (c == '\n') out += std::string(width + 5, ' ');
    }
  }
  return out;
}

std::string join_names(const std::vector<std::string>& names, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i ? sep : "") + names[i];
  return out.empty() ? std::string("(none)") : out;
}

}  // namespace xib
