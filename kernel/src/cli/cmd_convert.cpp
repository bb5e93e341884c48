// `xib convert IN OUT.safetensors`: any weights file xib reads → one safetensors file.
#include <fmt/format.h>

#include <deque>
#include <filesystem>
#include <iostream>

#include "command.h"
#include "xib/build_info.h"
#include "xib/error.h"
#include "xib/io/safetensors.h"
#include "xib/io/strided_copy.h"
#include "xib/io/weight_source.h"

namespace xib::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kUsage = "xib convert IN OUT.safetensors [--strict] [--prefix P] [--metadata KEY=VALUE]…";

int convert(const po::variables_map& vm) {
  if (!vm.count("input") || !vm.count("output"))
    throw UsageError({.what = vm.count("input") ? "no output file given" : "no input or output file given",
                      .expected = kUsage,
                      .hint = "e.g. xib convert pytorch_model.bin model.safetensors"});
  const fs::path in = vm["input"].as<std::string>();
  const fs::path out = vm["output"].as<std::string>();
  if (out.extension() != ".safetensors")
    throw UsageError({.what = fmt::format("output '{}' is not a .safetensors file", out.string()),
                      .where = out.string(),
                      .expected = "a file name ending in .safetensors",
                      .got = out.extension().empty() ? "no extension" : out.extension().string(),
                      .hint = "xib convert writes safetensors only"});
  // User metadata, checked before any reading.
  std::vector<std::pair<std::string, std::string>> extra;
  if (vm.count("metadata")) {
    for (const auto& kv : vm["metadata"].as<std::vector<std::string>>()) {
      const size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        throw UsageError({.what = fmt::format("bad --metadata '{}'", kv),
                          .where = "--metadata",
                          .expected = "KEY=VALUE with a non-empty key",
                          .got = kv,
                          .hint = "e.g. --metadata license=mit"});
      extra.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
  }

  const auto src = io::open_weights(
      in, {.strict = vm.count("strict") > 0, .prefix = vm.count("prefix") ? vm["prefix"].as<std::string>() : ""});
  if (src->tensors().empty()) {
    throw FormatError({.what = fmt::format("'{}' holds no tensors", in.string()),
                       .where = in.string(),
                       .expected = "a weights file with at least one tensor",
                       .got = fmt::format("0 tensors ({})", src->format()),
                       .hint = vm.count("prefix") ? "--prefix may have removed every tensor: check it with xib inspect"
                                                  : "check the file with xib inspect; nothing was written"});
  }
  std::error_code ec;
  for (const fs::path& f : src->files()) {
    if (fs::equivalent(f, out, ec))
      throw UsageError({.what = fmt::format("refusing to overwrite the input '{}'", f.string()),
                        .where = out.string(),
                        .expected = "an output file other than the input",
                        .hint = "choose another output name"});
  }

  // Contiguous tensors are written straight from the source's mapping; views are gathered into
  // buffers of their own (a deque: records point into them, so they must not move).
  std::deque<std::vector<std::byte>> buffers;
  std::vector<io::TensorRecord> records;
  records.reserve(src->tensors().size());
  size_t copied = 0;
  uint64_t total = 0;
  for (const io::TensorRecord& t : src->tensors()) {
    io::check_view(t);
    total += t.nbytes();
    if (t.contiguous()) {
      records.push_back(t);
      continue;
    }
    buffers.push_back(io::contiguous_bytes(t));
    records.push_back(io::contiguous_record(t, buffers.back()));
    ++copied;
  }

  std::map<std::string, std::string> metadata =
      src->format().starts_with("safetensors") ? src->metadata() : std::map<std::string, std::string>{};
  metadata.emplace("format", "pt");  // what transformers' safetensors loader expects
  metadata["source"] = fs::path(in).lexically_normal().filename().string();
  if (metadata["source"].empty())  // a folder given as "dir/"
    metadata["source"] = fs::absolute(in).lexically_normal().parent_path().filename().string();
  metadata["source_format"] = src->format();
  metadata.erase("source_prefix");  // a safetensors source's own provenance is replaced
  if (!src->prefix().empty()) metadata["source_prefix"] = src->prefix();
  metadata["converted_by"] = std::string("xib ") + XIB_VERSION;
  for (const auto& [k, v] : extra) metadata[k] = v;

  io::write_safetensors(out, records, metadata);
  std::cout << fmt::format(
      "wrote {}: {} tensors, {} bytes from {} ({}){}\n", out.string(), records.size(), total, in.string(),
      src->format(), copied ? fmt::format("; {} strided view{} made contiguous", copied, copied == 1 ? "" : "s") : "");
  return 0;
}

}  // namespace

Command convert_command() {
  return {
      .name = "convert",
      .summary = "convert a weights file (PyTorch checkpoint, safetensors) to one safetensors file",
      .usage = kUsage,
      .details =
          "IN is anything `xib inspect` reads. Every tensor is written to OUT (which must end in\n"
          ".safetensors) atomically: a temporary file, then a rename. Strided views (transposes,\n"
          "slices) are copied into contiguous tensors; views sharing storage become separate\n"
          "tensors. The metadata records the source file, its format and the xib version, and\n"
          "keeps a safetensors source's metadata; --metadata KEY=VALUE adds or overrides entries.\n"
          "--prefix keeps the tensors under a dotted path (\"model\") and strips it; --strict\n"
          "refuses checkpoints holding arbitrary pickled objects. The input is never overwritten.",
      .options =
          [](po::options_description& o, po::positional_options_description& p) {
            o.add_options()("input", po::value<std::string>()->value_name("IN"), "the weights to convert")(
                "output", po::value<std::string>()->value_name("OUT.safetensors"), "the file to write")(
                "strict", "refuse checkpoints holding arbitrary pickled objects")(
                "prefix", po::value<std::string>()->value_name("P"), "keep tensors under this dotted path, stripped")(
                "metadata", po::value<std::vector<std::string>>()->value_name("KEY=VALUE")->composing(),
                "add a metadata entry (repeatable)");
            p.add("input", 1).add("output", 1);
          },
      .run = convert,
  };
}

}  // namespace xib::cli
