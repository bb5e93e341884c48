// `xib new-modality NAME [--dir D]`: writes a complete, working modality folder (the "features"
// modality of modality_scaffold.cpp) with example data, ready to build and train.
#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <regex>

#include <nlohmann/json.hpp>

#include "command.h"
#include "modality_scaffold.h"
#include "xib/error.h"
#include "xib/io/npy.h"
#include "xib/json_text.h"
#include "xib/runtime.h"
#include "xib/text/strings.h"

namespace xib::cli {

namespace fs = std::filesystem;
using text::replace_all;

namespace {

/// "thermal_ir" → "ThermalIr".
std::string camel(const std::string& name) {
  std::string out;
  bool up = true;
  for (char c : name) {
    if (c == '_') {
      up = true;
      continue;
    }
    out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    up = false;
  }
  return out;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

/// Eight inputs of [4, 16] features: "bright" ones around +1, "dark" ones around -1, so that
/// the captions can be learned from the features.
void write_example_data(const fs::path& dir) {
  fs::create_directories(dir / "features");
  nlohmann::json captions = nlohmann::json::array();
  Rng rng(7);
  for (int i = 0; i < 8; ++i) {
    const bool bright = i % 2 == 0;
    std::vector<float> values(4 * 16);
    for (float& v : values) v = static_cast<float>((bright ? 1.0 : -1.0) + 0.3 * (rng.uniform() - 0.5));
    io::TensorRecord r{.dtype = io::DType::f32,
                       .shape = {4, 16},
                       .data = reinterpret_cast<const std::byte*>(values.data()),
                       .storage_bytes = values.size() * sizeof(float)};
    const std::string rel = fmt::format("features/{}.npy", i);
    io::write_npy(dir / rel, r);
    captions.push_back({{"features", rel},
                        {"caption", bright ? "a bright reading" : "a dark reading"},
                        {"image_id", std::to_string(i)}});
  }
  std::ofstream(dir / "captions.json") << json_text(captions, 1) << "\n";
}

int new_modality(const po::variables_map& vm) {
  if (!vm.count("name")) {
    throw UsageError({.what = "no modality name given", .expected = "xib new-modality NAME [--dir D]"});
  }
  const std::string name = vm["name"].as<std::string>();
  static const std::regex valid("[a-z][a-z0-9_]{0,31}");
  if (!std::regex_match(name, valid) || name.back() == '_') {
    throw UsageError({.what = fmt::format("'{}' cannot name a modality", name),
                      .where = "xib new-modality",
                      .expected = "lower-case letters, digits and '_', starting with a letter (at most 32)",
                      .got = name,
                      .hint = "it becomes a C++ namespace, a registry name and a recipe key, e.g. thermal"});
  }
  const fs::path dir = vm.count("dir")
                           ? fs::path(vm["dir"].as<std::string>())
                           : (fs::is_directory("modalities") ? fs::path("modalities") / name : fs::path(name));
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    throw UsageError({.what = "the folder exists and is not empty",
                      .where = dir.string(),
                      .expected = "a new or empty folder",
                      .hint = "choose another --dir, or remove the folder first; nothing was written"});
  }
  // Write into a temporary sibling, then rename: a failure leaves nothing half-written.
  const fs::path tmp = dir.parent_path() / fmt::format(".{}.tmp-{}", dir.filename().string(), ::getpid());
  fs::remove_all(tmp, ec);
  try {
    for (const auto& f : modality_scaffold()) {
      const fs::path file = tmp / replace_all(f.path, "@NAME@", name);
      fs::create_directories(file.parent_path());
      std::string text = replace_all(f.text, "@NAME@", name);
      text = replace_all(text, "@CLASS@", camel(name));
      text = replace_all(text, "@UPPER@", upper(name));
      std::ofstream out(file, std::ios::binary);
      out << text;
      if (!out) throw IoError({.what = "cannot write a file of the new modality", .where = file.string()});
    }
    write_example_data(tmp / "data");
    if (fs::exists(dir, ec)) fs::remove(dir, ec);  // the empty folder
    if (!dir.parent_path().empty()) fs::create_directories(dir.parent_path());
    fs::rename(tmp, dir);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  std::cout << fmt::format(
      "wrote the modality '{0}' to {1}\n"
      "  inside the xib tree it builds with everything else (make build); elsewhere, against an installed xib:\n"
      "    cmake -S {1} -B {1}/build -G Ninja -DCMAKE_PREFIX_PATH=<xib prefix> && cmake --build {1}/build\n"
      "  then: xib run {1}/recipes/train.yaml [--plugin-dir {1}/build]   (see {1}/README.md)\n",
      name, dir.string());
  return 0;
}

}  // namespace

Command new_modality_command() {
  return {
      .name = "new-modality",
      .summary = "write a new, working modality plugin folder (features from .npy/.safetensors files)",
      .usage = "xib new-modality NAME [--dir D]",
      .details =
          "Writes a complete modality plugin: CMakeLists.txt (builds in the xib tree or against an\n"
          "installed xib), README.md, the recipe section's options, a processor that reads precomputed\n"
          "encoder features ([T, D] per file, .npy or .safetensors), a pass-through encoder, the cue and\n"
          "instruction templates, the plugin registration, a test, a training recipe and example data.\n"
          "Default folder: modalities/NAME when ./modalities exists (the top of the xib tree), else ./NAME.\n"
          "See docs/writing-a-modality.md.",
      .options =
          [](po::options_description& o, po::positional_options_description& p) {
            o.add_options()("name", po::value<std::string>()->value_name("NAME"),
                            "the modality's name (also the first positional argument)")(
                "dir", po::value<std::string>()->value_name("D"), "the folder to write (new or empty)");
            p.add("name", 1);
          },
      .run = new_modality,
  };
}

}  // namespace xib::cli
