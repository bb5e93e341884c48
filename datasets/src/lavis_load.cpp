// Loading a LAVIS annotation file: the file and root, JSON parsing, per-entry field checks (every
// bad entry reported at once, capped) and the referenced files' existence. Registry-free (the
// options' checks against the loaded modalities are in lavis_dataset.cpp), so the annotation
// fuzz target (tests/fuzz/fuzz_annotations.cpp) builds it without the rest of the kernel.
#include "lavis_load.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "xib/datasets/lavis_reader.h"
#include "xib/error.h"
#include "xib/json_text.h"

namespace xib::datasets {

namespace fs = std::filesystem;

namespace {

constexpr size_t kShownProblems = 10;
constexpr size_t kShownMissingFiles = 5;

bool is_text(const nlohmann::json& j) { return j.is_string() && !j.get<std::string>().empty(); }

// A string, or a non-empty list of strings, into `out`; else a description of what is wrong.
std::string read_texts(const nlohmann::json& e, const std::string& key, std::vector<std::string>& out) {
  auto it = e.find(key);
  if (it == e.end()) return fmt::format("missing '{}'", key);
  if (it->is_string()) {
    out.push_back(it->get<std::string>());
    return {};
  }
  if (!it->is_array() || it->empty())
    return fmt::format("'{}' is {}, expected a string or a non-empty list of strings", key, it->dump().substr(0, 40));
  for (size_t i = 0; i < it->size(); ++i) {
    if (!(*it)[i].is_string())
      return fmt::format("'{}'[{}] is {}, expected a string", key, i, json_text((*it)[i]).substr(0, 40));
    out.push_back((*it)[i].get<std::string>());
  }
  return {};
}

// Optional id: a string or an integer, as text.
std::string read_id(const nlohmann::json& e, const std::string& key, std::string& out) {
  auto it = e.find(key);
  if (it == e.end() || it->is_null()) return {};
  if (it->is_string())
    out = it->get<std::string>();
  else if (it->is_number_integer())
    out = it->dump();
  else
    return fmt::format("'{}' is {}, expected a string or an integer", key, it->dump().substr(0, 40));
  return {};
}

}  // namespace

fs::path resolve_root(const LavisReaderOptions& o) {
  if (!fs::is_regular_file(o.path)) {
    throw IoError(ErrorInfo{.what = "dataset annotation file not found",
                            .where = o.path.string(),
                            .expected = "a LAVIS annotation JSON file",
                            .got = fs::exists(o.path) ? "not a regular file" : "no such file",
                            .hint = "relative paths resolve against the recipe's folder"});
  }
  const fs::path root = o.root ? *o.root : o.path.parent_path();
  if (!fs::is_directory(root)) {
    throw IoError(ErrorInfo{.what = "dataset root folder not found",
                            .where = root.string(),
                            .expected = "the folder the annotation's file paths are relative to",
                            .got = fs::exists(root) ? "not a folder" : "no such folder",
                            .hint = "set root: in the dataset section (default: the JSON's folder)"});
  }
  return root;
}

std::vector<LavisEntry> load_lavis_entries(const LavisReaderOptions& o, const fs::path& root) {
  std::ifstream in(o.path, std::ios::binary);
  if (!in) throw IoError(ErrorInfo{.what = "cannot read dataset annotation file", .where = o.path.string()});
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw FormatError(ErrorInfo{.what = "malformed JSON in dataset annotation file",
                                .where = fmt::format("{} (byte {})", o.path.string(), e.byte),
                                .expected = "a JSON list of annotation entries",
                                .got = e.what()});
  } catch (const nlohmann::json::exception& e) {
    // Not a parse_error: a number too large for a double (1E400) is an out_of_range.
    throw FormatError(ErrorInfo{.what = "malformed JSON in dataset annotation file",
                                .where = o.path.string(),
                                .expected = "a JSON list of annotation entries",
                                .got = e.what()});
  }
  if (!doc.is_array()) {
    throw FormatError(ErrorInfo{.what = "dataset annotation file is not a list of entries",
                                .where = o.path.string(),
                                .expected = "a JSON list: [{\"" + o.file_key + "\": …}, …]",
                                .got = std::string("a JSON ") + doc.type_name()});
  }
  const size_t n = o.limit ? std::min(doc.size(), static_cast<size_t>(*o.limit)) : doc.size();
  const bool qa = o.reader == "qa";
  std::vector<LavisEntry> entries;
  entries.reserve(n);
  std::vector<std::string> problems;
  size_t bad_entries = 0;
  size_t last_bad = n;  // the last entry with a problem (n: none yet)
  auto problem = [&](size_t i, const std::string& what) {
    problems.push_back(fmt::format("entry {}: {}", i, what));
    if (i != last_bad) ++bad_entries;
    last_bad = i;
  };
  for (size_t i = 0; i < n; ++i) {
    const nlohmann::json& e = doc[i];
    if (!e.is_object()) {
      problem(i, fmt::format("is {}, expected an object", e.type_name()));
      continue;
    }
    LavisEntry out;
    if (auto it = e.find(o.file_key); it == e.end())
      problem(i, fmt::format("missing '{}'", o.file_key));
    else if (!is_text(*it))
      problem(i, fmt::format("'{}' is {}, expected a file path", o.file_key, it->dump().substr(0, 40)));
    else
      out.file = it->get<std::string>();
    if (qa) {
      if (auto it = e.find("question"); it == e.end())
        problem(i, "missing 'question'");
      else if (!it->is_string())
        problem(i, fmt::format("'question' is {}, expected a string", it->dump().substr(0, 40)));
      else
        out.question = it->get<std::string>();
    }
    if (auto p = read_texts(e, qa ? "answer" : "caption", out.texts); !p.empty()) problem(i, p);
    if (auto p = read_id(e, qa ? "question_id" : "image_id", out.key); !p.empty()) problem(i, p);
    entries.push_back(std::move(out));
  }
  if (!problems.empty()) {
    ErrorInfo info{
        .what = fmt::format("{} of {} entries of a dataset annotation file are malformed", bad_entries, n),
        .where = o.path.string(),
        .expected =
            qa ? fmt::format("entries {{\"{}\": path, \"question\": text, \"answer\": text or [texts]}}", o.file_key)
               : fmt::format("entries {{\"{}\": path, \"caption\": text or [texts]}}", o.file_key)};
    for (size_t k = 0; k < std::min(problems.size(), kShownProblems); ++k)
      info.details.emplace_back("bad", problems[k]);
    if (problems.size() > kShownProblems)
      info.details.emplace_back("…", fmt::format("{} more problems", problems.size() - kShownProblems));
    throw FormatError(std::move(info));
  }
  if (o.check_files) {
    std::vector<std::string> missing;
    size_t count = 0;
    for (size_t i = 0; i < entries.size(); ++i) {
      // The error_code form: a path the system refuses (a name over 255 bytes, a loop of
      // links) is a missing file, not a std::filesystem::filesystem_error.
      std::error_code ec;
      if (fs::exists(root / entries[i].file, ec)) continue;
      ++count;
      if (missing.size() < kShownMissingFiles)
        missing.push_back(fmt::format("entry {}: {}", i, (root / entries[i].file).string()));
    }
    if (count) {
      ErrorInfo info{.what = fmt::format("{} of {} input files of a dataset are missing", count, entries.size()),
                     .where = o.path.string(),
                     .expected = "every referenced file under " + root.string(),
                     .got = fmt::format("{} missing", count),
                     .hint = "check root: (the folder the paths are relative to), or set check_files: false"};
      for (const std::string& m : missing) info.details.emplace_back("missing", m);
      if (count > missing.size()) info.details.emplace_back("…", fmt::format("{} more", count - missing.size()));
      throw IoError(std::move(info));
    }
  }
  return entries;
}

}  // namespace xib::datasets
