// `xib inspect FILE`: what a weights file holds — format, metadata, every tensor, totals.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "command.h"
#include "xib/error.h"
#include "xib/io/weight_source.h"
#include "xib/json_text.h"

namespace xib::cli {

namespace {

std::string shape_text(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

/// "strides [1, 5]" (and the storage offset when not 0) for non-contiguous views, else "".
std::string view_text(const io::TensorRecord& t) {
  if (t.contiguous()) return "";
  std::string s = "strides " + shape_text(t.strides);
  if (t.storage_offset != 0) s += fmt::format(", offset {}", t.storage_offset);
  return s;
}

int inspect(const po::variables_map& vm) {
  if (!vm.count("file"))
    throw UsageError({.what = "no weights file given",
                      .expected = "xib inspect FILE [--json] [--strict] [--prefix P]",
                      .hint = "FILE may be a .safetensors file, a *.index.json, a model folder or a .pt/.pth/.bin"});
  const std::string file = vm["file"].as<std::string>();
  const auto src = io::open_weights(
      file, {.strict = vm.count("strict") > 0, .prefix = vm.count("prefix") ? vm["prefix"].as<std::string>() : ""});
  const auto& tensors = src->tensors();
  uint64_t total = 0;
  std::map<std::string, std::pair<size_t, uint64_t>> by_dtype;  // dtype → (count, bytes)
  for (const auto& t : tensors) {
    total += t.nbytes();
    auto& [n, b] = by_dtype[std::string(io::dtype_name(t.dtype))];
    ++n;
    b += t.nbytes();
  }

  if (vm.count("json")) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const auto& t : tensors) {
      nlohmann::ordered_json j = {
          {"name", t.name}, {"dtype", io::dtype_name(t.dtype)}, {"shape", t.shape}, {"bytes", t.nbytes()}};
      if (!t.contiguous()) {
        j["strides"] = t.strides;
        j["storage_offset"] = t.storage_offset;
      }
      list.push_back(std::move(j));
    }
    nlohmann::ordered_json dtypes = nlohmann::ordered_json::object();
    for (const auto& [d, nb] : by_dtype) dtypes[d] = {{"count", nb.first}, {"bytes", nb.second}};
    nlohmann::ordered_json out = {{"format", src->format()},
                                  {"path", src->path().string()},
                                  {"metadata", src->metadata()},
                                  {"tensors", std::move(list)},
                                  {"count", tensors.size()},
                                  {"total_bytes", total},
                                  {"bytes_by_dtype", std::move(dtypes)}};
    if (!src->prefix().empty()) out["prefix"] = src->prefix();
    std::cout << json_text(out, 2) << "\n";
    return 0;
  }

  std::cout << fmt::format("format    {}\npath      {}\n", src->format(), src->path().string());
  if (!src->prefix().empty()) std::cout << fmt::format("prefix    {} (stripped from the names)\n", src->prefix());
  const auto metadata = src->metadata();
  if (metadata.empty()) {
    std::cout << "metadata  (none)\n";
  } else {
    size_t width = 0;
    for (const auto& [k, v] : metadata) width = std::max(width, k.size());
    std::cout << "metadata\n";
    for (const auto& [k, v] : metadata) std::cout << fmt::format("  {:<{}}  {}\n", k, width, v);
  }
  std::cout << "\n";
  size_t wn = 4, wd = 5, ws = 5, wb = 5;
  bool any_view = false;
  for (const auto& t : tensors) {
    wn = std::max(wn, t.name.size());
    wd = std::max(wd, io::dtype_name(t.dtype).size());
    ws = std::max(ws, shape_text(t.shape).size());
    wb = std::max(wb, fmt::format("{}", t.nbytes()).size());
    any_view = any_view || !t.contiguous();
  }
  std::cout << fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>{}}{}\n", "NAME", wn, "DTYPE", wd, "SHAPE", ws, "BYTES", wb,
                           any_view ? "  VIEW" : "");
  for (const auto& t : tensors) {
    const std::string view = view_text(t);
    std::cout << fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>{}}{}\n", t.name, wn, io::dtype_name(t.dtype), wd,
                             shape_text(t.shape), ws, t.nbytes(), wb, view.empty() ? "" : "  " + view);
  }
  std::cout << fmt::format("\ntotal     {} tensor{}, {} bytes ({})\n", tensors.size(), tensors.size() == 1 ? "" : "s",
                           total, human_bytes(total));
  std::vector<std::string> parts;
  for (const auto& [d, nb] : by_dtype) parts.push_back(fmt::format("{} {} ({})", d, human_bytes(nb.second), nb.first));
  if (!parts.empty()) std::cout << "by dtype  " << fmt::format("{}", fmt::join(parts, ", ")) << "\n";
  return 0;
}

}  // namespace

Command inspect_command() {
  return {
      .name = "inspect",
      .summary = "show what a weights file holds: format, metadata, tensors, totals",
      .usage = "xib inspect FILE [--json] [--strict] [--prefix P]",
      .details =
          "FILE is read by content: a .safetensors file, a model.safetensors.index.json (sharded),\n"
          "a folder holding either, or a PyTorch checkpoint (torch.save zip or legacy). Nothing in a\n"
          "checkpoint is executed; --strict refuses any pickled object that is not a tensor or a\n"
          "plain container. --prefix keeps the tensors under a dotted path (\"model\" in a training\n"
          "checkpoint) and strips it. Non-contiguous views are listed with their strides; BYTES is\n"
          "the size of the view's elements. --json prints one JSON object.",
      .options =
          [](po::options_description& o, po::positional_options_description& p) {
            o.add_options()("file", po::value<std::string>()->value_name("FILE"), "the weights to inspect")(
                "json", "print one JSON object")("strict", "refuse checkpoints holding arbitrary pickled objects")(
                "prefix", po::value<std::string>()->value_name("P"), "keep tensors under this dotted path, stripped");
            p.add("file", 1);
          },
      .run = inspect,
  };
}

}  // namespace xib::cli
