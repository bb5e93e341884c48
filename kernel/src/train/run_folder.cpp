// How a training run takes over its run folder (xib/train/run_folder.h): resume, fresh start or
// replacement of a previous run, decided before anything is built and carried out on the run's
// first write.
#include "xib/train/run_folder.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

#include <nlohmann/json.hpp>

#include "xib/error.h"
#include "xib/files.h"
#include "xib/log.h"
#include "xib/train/checkpoint_folder.h"

namespace xib::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// The names a run writes into its folder; nothing else there is ever touched.
constexpr const char* kRunFiles[] = {"checkpoints", "metrics.jsonl", "config.yaml", "report.md", "loss.svg", "lr.svg"};

/// "2 checkpoint(s), latest step-00000006, metrics.jsonl, config.yaml", … for messages.
std::string describe_previous(const fs::path& run_dir, const std::vector<std::string>& files) {
  std::vector<std::string> parts;
  for (const auto& f : files) {
    if (f == "checkpoints") {
      const auto all = list_checkpoints(run_dir);
      const auto latest = latest_checkpoint_step(run_dir);
      if (all.empty()) {
        parts.push_back("checkpoints/ (no complete checkpoint)");
      } else {
        parts.push_back(fmt::format("{} checkpoint(s), latest {}", all.size(),
                                    latest ? checkpoint_dir_name(*latest) : all.back().second.filename().string()));
      }
    } else {
      parts.push_back(f);
    }
  }
  return join_names(parts);
}

[[noreturn]] void io_failed(const std::string& what, const fs::path& where, const std::string& why) {
  throw IoError({.what = what, .where = where.string(), .got = why, .hint = "check the run folder's permissions"});
}

/// Moves the previous run's files into one hidden folder (each rename is atomic), then removes
/// it: a crash part-way leaves some old files, never a mix inside one of them.
void remove_previous_run(const fs::path& run_dir, const std::vector<std::string>& files) {
  static std::atomic<unsigned> counter{0};
  const fs::path trash = run_dir / fmt::format(".replaced-{}-{}", ::getpid(), counter++);
  std::error_code ec;
  fs::create_directories(trash, ec);
  if (ec) io_failed("cannot make room for the new run", trash, ec.message());
  // The checkpoints first: they are what a later run would resume from.
  for (const auto& f : files) {
    fs::rename(run_dir / f, trash / f, ec);
    if (ec) io_failed(fmt::format("cannot move the previous run's '{}' aside", f), run_dir / f, ec.message());
  }
  fsync_path(run_dir, true);
  fs::remove_all(trash, ec);
  if (ec) log::warn("could not remove '{}': {}", trash.string(), ec.message());
}

}  // namespace

std::vector<std::string> run_files_in(const fs::path& run_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const char* name : kRunFiles) {
    if (fs::exists(run_dir / name, ec)) out.emplace_back(name);
  }
  return out;
}

RunFolderPlan plan_run_folder(const fs::path& run_dir, bool resume, bool overwrite) {
  RunFolderPlan plan;
  std::error_code ec;
  if (fs::exists(run_dir, ec) && !fs::is_directory(run_dir, ec)) {
    throw ConfigError({.what = "run.out is not a folder",
                       .where = run_dir.string(),
                       .expected = "a folder (created when missing)",
                       .got = "a file",
                       .hint = "set run.out to a folder"});
  }
  plan.previous = run_files_in(run_dir);
  if (plan.previous.empty()) return plan;  // fresh

  if (!resume) {
    if (!overwrite) {
      throw ConfigError(
          {.what = "run.resume=false, but the run folder holds a previous run",
           .where = run_dir.string(),
           .expected = "an empty run folder, or run.overwrite=true",
           .got = describe_previous(run_dir, plan.previous),
           .hint = "resume it (run.resume=true, the default), replace it with run.overwrite=true (its checkpoints, "
                   "metrics and report are removed when the new run's first step is done), or set run.out to "
                   "another folder"});
    }
    plan.start = RunStart::replace;
    return plan;
  }

  if (auto dir = find_latest_checkpoint(run_dir, &plan.skipped)) {
    plan.start = RunStart::resume;
    plan.checkpoint = *dir;
    const std::string name = dir->filename().string();  // "step-<digits>", as find_latest_checkpoint() checked
    plan.step = std::stoll(name.substr(name.find('-') + 1));
    const auto latest = latest_checkpoint_step(run_dir);
    if (latest && *latest != plan.step) {
      log::warn("the checkpoint that checkpoints/latest names ({}) is damaged or missing; resuming from {} instead",
                checkpoint_dir_name(*latest), name);
    }
    return plan;
  }
  // Nothing to resume. Checkpoints that are all damaged are not silently thrown away.
  const bool damaged =
      std::any_of(plan.skipped.begin(), plan.skipped.end(), [](const auto& s) { return !s.after_latest; });
  if (damaged && !overwrite) {
    std::vector<std::pair<std::string, std::string>> details;
    for (const auto& s : plan.skipped) details.emplace_back("skipped", s.text());
    throw FormatError({.what = "cannot resume: every checkpoint of the run folder is damaged",
                       .where = (run_dir / "checkpoints").string(),
                       .expected = "a complete checkpoint (checkpoint.json and a state file of the recorded SHA-256)",
                       .got = fmt::format("{} damaged", plan.skipped.size()),
                       .hint = "start the run over with run.overwrite=true (the damaged checkpoints, the metrics and "
                               "the report are removed), restore a checkpoint from a backup, or set run.out to "
                               "another folder",
                       .details = std::move(details)});
  }
  // A run that never reached a checkpoint (or one the user asked to replace): start over.
  log::info("{}: {}; the run starts over", run_dir.string(),
            damaged ? "every checkpoint is damaged and run.overwrite=true" : "no checkpoint to resume from");
  plan.start = RunStart::replace;
  return plan;
}

int64_t cut_metrics(const fs::path& file, int64_t step) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return 0;
  const std::string text = read_text_file(file, "metrics file");
  std::string kept;
  int64_t removed = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) {  // a torn last line (a crash mid-write)
      ++removed;
      break;
    }
    const std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) continue;
    const json record = json::parse(line, nullptr, /*allow_exceptions=*/false);
    const bool after = record.is_object() && record.contains("step") && record["step"].is_number_integer() &&
                       record["step"].get<int64_t>() > step;
    if (after) {
      ++removed;
      continue;
    }
    kept.append(line);
    kept += '\n';
  }
  if (removed > 0) write_text_file(file, kept);
  return removed;
}

void begin_run_folder(const fs::path& run_dir, const RunFolderPlan& plan, std::string_view config_yaml) {
  switch (plan.start) {
    case RunStart::fresh:
      break;
    case RunStart::replace: {
      remove_previous_run(run_dir, run_files_in(run_dir));
      break;
    }
    case RunStart::resume: {
      const int64_t dropped = drop_checkpoints_after(run_dir, plan.step);
      const int64_t cut = cut_metrics(run_dir / "metrics.jsonl", plan.step);
      if (dropped > 0 || cut > 0) {
        log::info("resumed at step {}: dropped {} metrics record(s) and {} checkpoint(s) of later steps", plan.step,
                  cut, dropped);
      }
      break;
    }
  }
  write_text_file(run_dir / "config.yaml", config_yaml);
}

}  // namespace xib::train
