// Crash-safe checkpoints of a run folder: a temporary folder filled and fsynced, renamed into
// place, `latest` replaced, old checkpoints pruned; finding and reading them back.
#include "xib/train/checkpoint.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>

#include "../weights/torch_dtype.h"
#include "xib/error.h"
#include "xib/files.h"
#include "xib/io/safetensors.h"
#include "xib/json_text.h"
#include "xib/log.h"
#include "xib/sha256.h"
#include "xib/weights/weight_loader.h"

namespace xib::train {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kFormat = "xib-checkpoint";
constexpr const char* kStateFile = "state.safetensors";
constexpr const char* kMetaFile = "checkpoint.json";

[[noreturn]] void io_failed(const std::string& what, const fs::path& where, int err) {
  throw IoError({.what = what,
                 .where = where.string(),
                 .got = std::strerror(err),
                 .hint = err == ENOSPC ? "free some disk space" : "check the run folder's permissions"});
}

/// Writes `text` to a new file and fsyncs it (no rename: callers write into temporary names).
void write_synced(const fs::path& file, std::string_view text) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) io_failed(fmt::format("cannot create '{}'", file.string()), file, errno);
  const char* p = text.data();
  size_t n = text.size();
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int err = w < 0 ? errno : EIO;
      ::close(fd);
      io_failed(fmt::format("cannot write '{}'", file.string()), file, err);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    io_failed(fmt::format("cannot flush '{}' to disk", file.string()), file, err);
  }
  if (::close(fd) != 0) io_failed(fmt::format("cannot write '{}'", file.string()), file, errno);
}

void rename_or_throw(const fs::path& from, const fs::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    io_failed(fmt::format("cannot rename '{}' to '{}'", from.string(), to.string()), to, errno);
}

/// A name no other writer uses: ".<kind>-<what>-<pid>-<n>".
std::string unique_name(std::string_view kind, std::string_view what) {
  static std::atomic<unsigned> counter{0};
  return fmt::format(".{}-{}-{}-{}", kind, what, ::getpid(), counter++);
}

/// The step of a "step-<digits>" folder name.
std::optional<int64_t> parse_step_name(std::string_view name) {
  constexpr std::string_view prefix = "step-";
  if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix) return std::nullopt;
  const std::string_view digits = name.substr(prefix.size());
  int64_t step = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), step);
  if (ec != std::errc() || end != digits.data() + digits.size() || step < 0) return std::nullopt;
  return step;
}

io::DType record_dtype(const at::Tensor& t, const std::string& name) {
  if (auto d = weights::dtype_of(t.scalar_type())) return *d;
  throw UsageError({.what = "checkpoint: tensor dtype cannot be stored",
                    .where = name,
                    .expected = "f64, f32, f16, bf16, i64, i32, i16, i8, u8 or bool",
                    .got = std::string(c10::toString(t.scalar_type()))});
}

struct Problem {
  bool io = false;  ///< a file could not be read (rather than being malformed)
  ErrorInfo info;
};

/// Checks a checkpoint folder short of loading tensors; fills `doc` with checkpoint.json.
std::optional<Problem> inspect(const fs::path& dir, json& doc) {
  const fs::path meta_file = dir / kMetaFile;
  const fs::path state_file = dir / kStateFile;
  const std::string hint_corrupt =
      "the checkpoint is incomplete or damaged: resume from an earlier one (find_latest_checkpoint skips it) or delete "
      "it";
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Problem{.io = true,
                   .info = {.what = "no such checkpoint folder",
                            .where = dir.string(),
                            .expected = "a folder run_dir/checkpoints/step-<8 digits>",
                            .got = ec ? ec.message() : "missing or not a folder",
                            .hint = "find_latest_checkpoint(run_dir) finds the newest complete one"}};
  if (!fs::is_regular_file(meta_file, ec))
    return Problem{.info = {.what = "checkpoint has no checkpoint.json",
                            .where = meta_file.string(),
                            .expected = "a checkpoint folder written by write_checkpoint()",
                            .got = "no such file",
                            .hint = hint_corrupt}};
  std::ifstream in(meta_file, std::ios::binary);
  if (!in)
    return Problem{
        .io = true,
        .info = {.what = "cannot read checkpoint.json", .where = meta_file.string(), .got = std::strerror(errno)}};
  try {
    doc = json::parse(in);
  } catch (const json::exception& e) {
    return Problem{.info = {.what = "checkpoint.json is not valid JSON",
                            .where = meta_file.string(),
                            .expected = "a JSON object",
                            .got = e.what(),
                            .hint = hint_corrupt}};
  }
  auto malformed = [&](std::string what, std::string expected, std::string got) {
    return Problem{.info = {.what = std::move(what),
                            .where = meta_file.string(),
                            .expected = std::move(expected),
                            .got = std::move(got),
                            .hint = hint_corrupt}};
  };
  if (!doc.is_object() || doc.value("format", std::string()) != kFormat)
    return malformed("not an xib checkpoint", fmt::format("an object with \"format\": \"{}\"", kFormat),
                     doc.is_object() && doc.contains("format") ? json_text(doc["format"]) : "no \"format\"");
  if (!doc.contains("format_version") || !doc["format_version"].is_number_integer() ||
      doc["format_version"].get<int64_t>() != kCheckpointFormatVersion) {
    const std::string got = doc.contains("format_version") ? json_text(doc["format_version"]) : "none";
    return Problem{.info = {.what = "unsupported checkpoint format version",
                            .where = meta_file.string(),
                            .expected = fmt::format("format_version {}", kCheckpointFormatVersion),
                            .got = "format_version " + got,
                            .hint = "it was written by another version of xib: resume it with that version, "
                                    "or start a new run"}};
  }
  if (!doc.contains("step") || !doc["step"].is_number_integer() || doc["step"].get<int64_t>() < 0)
    return malformed("checkpoint.json has no valid step", "\"step\": an integer >= 0",
                     doc.contains("step") ? json_text(doc["step"]) : "none");
  const auto dir_step = parse_step_name(dir.filename().string());
  if (dir_step && *dir_step != doc["step"].get<int64_t>())
    return malformed("checkpoint folder and checkpoint.json disagree on the step", fmt::format("step {}", *dir_step),
                     fmt::format("step {}", doc["step"].get<int64_t>()));
  const json& state = doc.contains("state") ? doc["state"] : json();
  if (!state.is_object() || !state.contains("sha256") || !state["sha256"].is_string() || !state.contains("bytes") ||
      !state["bytes"].is_number_unsigned())
    return malformed("checkpoint.json does not describe its state file", "\"state\": {\"file\", \"bytes\", \"sha256\"}",
                     json_text(state));
  const auto want_bytes = state["bytes"].get<uint64_t>();
  const auto want_hash = state["sha256"].get<std::string>();
  const auto got_bytes = fs::file_size(state_file, ec);
  if (ec)
    return Problem{.info = {.what = "checkpoint state file is missing",
                            .where = state_file.string(),
                            .expected = fmt::format("{} bytes", want_bytes),
                            .got = ec.message(),
                            .hint = hint_corrupt}};
  if (got_bytes != want_bytes)
    return Problem{.info = {.what = "checkpoint state file has the wrong size (truncated?)",
                            .where = state_file.string(),
                            .expected = fmt::format("{} bytes", want_bytes),
                            .got = fmt::format("{} bytes", got_bytes),
                            .hint = hint_corrupt}};
  std::string got_hash;
  try {
    got_hash = sha256_file(state_file);
  } catch (const IoError& e) {
    return Problem{.io = true, .info = e.info()};
  }
  if (got_hash != want_hash)
    return Problem{.info = {.what = "checkpoint state file does not match its recorded SHA-256",
                            .where = state_file.string(),
                            .expected = "sha256 " + want_hash,
                            .got = "sha256 " + got_hash,
                            .hint = hint_corrupt}};
  return std::nullopt;
}

/// Moves a folder out of the way (so it never looks like a checkpoint) and deletes it.
void discard_folder(const fs::path& dir, std::string_view what) {
  const fs::path trash = dir.parent_path() / unique_name("trash", what);
  rename_or_throw(dir, trash);
  fsync_path(dir.parent_path(), true);
  std::error_code ec;
  fs::remove_all(trash, ec);
  if (ec) log::warn("could not remove '{}': {}", trash.string(), ec.message());
}

/// Removes .tmp-… and .trash-… folders whose writing process is gone (or is this one).
void clean_temporaries(const fs::path& ckpt_dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(ckpt_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(".tmp-", 0) != 0 && name.rfind(".trash-", 0) != 0 && name.rfind(".latest-", 0) != 0) continue;
    // ".<kind>-<what>-<pid>-<n>"
    const size_t last = name.rfind('-');
    const size_t before = last == std::string::npos || last == 0 ? std::string::npos : name.rfind('-', last - 1);
    if (before == std::string::npos) continue;
    int pid = 0;
    const auto [end, perr] = std::from_chars(name.data() + before + 1, name.data() + last, pid);
    if (perr != std::errc() || pid <= 0) continue;
    const bool gone = pid == ::getpid() || (::kill(pid, 0) != 0 && errno == ESRCH);
    if (!gone) continue;
    std::error_code rec;
    fs::remove_all(e.path(), rec);
    if (rec) log::warn("could not remove the leftover '{}': {}", e.path().string(), rec.message());
  }
}

}  // namespace

void CheckpointOptions::validate(Validator& v) const {
  v.require(keep_last >= 0, "keep_last", "0 (keep all) or a positive number", keep_last);
}

std::string checkpoint_dir_name(int64_t step) { return fmt::format("step-{:08d}", step); }

fs::path write_checkpoint(const fs::path& run_dir, int64_t step, const NamedTensors& tensors, const json& meta,
                          const CheckpointOptions& options) {
  Validator v(ConfigSection{});
  options.validate(v);
  v.finish();
  if (step < 0)
    throw UsageError({.what = "checkpoint: negative step", .expected = "a step >= 0", .got = std::to_string(step)});
  const fs::path ckpt_dir = run_dir / "checkpoints";
  std::error_code ec;
  fs::create_directories(ckpt_dir, ec);
  if (ec) io_failed(fmt::format("cannot create '{}'", ckpt_dir.string()), ckpt_dir, ec.value());
  fsync_path(run_dir, true);

  // CPU, contiguous copies where needed; the records point into them.
  std::vector<at::Tensor> keep;
  std::vector<io::TensorRecord> records;
  keep.reserve(tensors.size());
  records.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    if (!t.defined())
      throw UsageError(
          {.what = "checkpoint: undefined tensor", .where = name, .expected = "a tensor", .got = "undefined"});
    const io::DType dtype = record_dtype(t, name);
    keep.push_back(t.detach().to(at::kCPU).contiguous());
    const at::Tensor& c = keep.back();
    records.push_back({.name = name,
                       .dtype = dtype,
                       .shape = c.sizes().vec(),
                       .strides = {},
                       .storage_offset = 0,
                       .data = static_cast<const std::byte*>(c.data_ptr()),
                       .storage_bytes = c.nbytes()});
  }

  const std::string name = checkpoint_dir_name(step);
  const fs::path tmp = ckpt_dir / unique_name("tmp", name);
  if (::mkdir(tmp.c_str(), 0755) != 0) io_failed(fmt::format("cannot create '{}'", tmp.string()), tmp, errno);
  const fs::path target = ckpt_dir / name;
  try {
    const fs::path state_file = tmp / kStateFile;
    io::write_safetensors(state_file, records, {{"format", "pt"}, {"producer", "xib"}});
    keep.clear();
    records.clear();
    const json doc = {{"format", kFormat},
                      {"format_version", kCheckpointFormatVersion},
                      {"step", step},
                      {"state",
                       {{"file", kStateFile},
                        {"bytes", static_cast<uint64_t>(fs::file_size(state_file))},
                        {"sha256", sha256_file(state_file)},
                        {"tensors", tensors.size()}}},
                      {"meta", meta}};
    write_synced(tmp / kMetaFile, json_text(doc, 2) + "\n");
    fsync_path(tmp, true);
    // An older checkpoint of the same step is moved aside first (rename cannot replace a folder).
    if (fs::exists(target, ec)) discard_folder(target, name);
    rename_or_throw(tmp, target);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  fsync_path(ckpt_dir, true);

  const fs::path latest_tmp = ckpt_dir / unique_name("latest", "tmp");
  try {
    write_synced(latest_tmp, name + "\n");
    rename_or_throw(latest_tmp, ckpt_dir / "latest");
  } catch (...) {
    fs::remove(latest_tmp, ec);
    throw;
  }
  fsync_path(ckpt_dir, true);

  if (options.keep_last > 0) {
    auto all = list_checkpoints(run_dir);
    const auto excess = static_cast<int64_t>(all.size()) - options.keep_last;
    for (int64_t i = 0; i < excess; ++i)
      if (all[static_cast<size_t>(i)].second != target) discard_folder(all[static_cast<size_t>(i)].second, "old");
  }
  return target;
}

const Tensor& Checkpoint::tensor(std::string_view name) const {
  std::vector<std::string> names;
  for (const auto& [n, t] : tensors) {
    if (n == name) return t;
    names.push_back(n);
  }
  const auto near = nearest_name(name, names);
  throw NotFoundError({.what = fmt::format("checkpoint has no tensor '{}'", name),
                       .where = (dir / kStateFile).string(),
                       .expected = fmt::format("one of {} stored tensors", names.size()),
                       .got = std::string(name),
                       .hint = near ? fmt::format("did you mean '{}'?", *near) : ""});
}

Checkpoint read_checkpoint(const fs::path& dir, std::string_view only_prefix) {
  json doc;
  if (auto p = inspect(dir, doc)) {
    if (p->io) throw IoError(std::move(p->info));
    throw FormatError(std::move(p->info));
  }
  Checkpoint c{.dir = dir, .step = doc["step"].get<int64_t>(), .tensors = {}, .meta = doc.value("meta", json())};
  const io::SafetensorsFile file(dir / kStateFile);
  c.tensors.reserve(file.records().size());
  for (const auto& r : file.records()) {
    if (std::string_view(r.name).substr(0, only_prefix.size()) != only_prefix) continue;
    c.tensors.emplace_back(r.name, weights::record_to_tensor(r));
  }
  return c;
}

std::vector<std::string> verify_checkpoint(const fs::path& dir) {
  json doc;
  if (auto p = inspect(dir, doc)) return {Error(p->info).report()};
  return {};
}

std::vector<std::pair<int64_t, fs::path>> list_checkpoints(const fs::path& run_dir) {
  std::vector<std::pair<int64_t, fs::path>> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run_dir / "checkpoints", ec)) {
    const auto step = parse_step_name(e.path().filename().string());
    if (step && e.is_directory(ec) && fs::exists(e.path() / kMetaFile, ec)) out.emplace_back(*step, e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<int64_t> latest_checkpoint_step(const fs::path& run_dir) {
  std::ifstream in(run_dir / "checkpoints" / "latest", std::ios::binary);
  if (!in) return std::nullopt;
  std::string name;
  std::getline(in, name);
  return parse_step_name(name);
}

RunCheckpoints run_checkpoints(const fs::path& run_dir) {
  RunCheckpoints out;
  const fs::path ckpt_dir = run_dir / "checkpoints";
  std::error_code ec;
  if (!fs::is_directory(ckpt_dir, ec)) return out;
  out.latest = latest_checkpoint_step(run_dir);
  for (const auto& e : fs::directory_iterator(ckpt_dir, ec)) {
    const auto step = parse_step_name(e.path().filename().string());
    if (!step || !e.is_directory(ec)) continue;
    (out.latest && *step > *out.latest ? out.after_latest : out.own).emplace_back(*step, e.path());
  }
  std::sort(out.own.rbegin(), out.own.rend());
  std::sort(out.after_latest.rbegin(), out.after_latest.rend());
  return out;
}

std::optional<fs::path> find_latest_checkpoint(const fs::path& run_dir, std::vector<SkippedCheckpoint>* skipped) {
  const fs::path ckpt_dir = run_dir / "checkpoints";
  std::error_code ec;
  if (!fs::is_directory(ckpt_dir, ec)) return std::nullopt;
  clean_temporaries(ckpt_dir);
  // `latest` says which checkpoint is the run's (xib/train/checkpoint.h).
  const RunCheckpoints all = run_checkpoints(run_dir);
  if (skipped) {
    for (const auto& [step, dir] : all.after_latest) {
      skipped->push_back({.dir = dir,
                          .after_latest = true,
                          .why = fmt::format("newer than the checkpoint that checkpoints/latest names ({})",
                                             checkpoint_dir_name(*all.latest))});
    }
  }
  for (const auto& [step, dir] : all.own) {
    json doc;
    const auto p = inspect(dir, doc);
    if (!p) return dir;
    const std::string why = Error(p->info).report();
    log::warn("skipping checkpoint '{}': {}", dir.string(), why);
    if (skipped) skipped->push_back({.dir = dir, .why = why});
  }
  return std::nullopt;
}

int64_t drop_checkpoints_after(const fs::path& run_dir, int64_t step) {
  int64_t dropped = 0;
  const fs::path ckpt_dir = run_dir / "checkpoints";
  std::error_code ec;
  std::vector<fs::path> newer;
  for (const auto& e : fs::directory_iterator(ckpt_dir, ec)) {
    const auto s = parse_step_name(e.path().filename().string());
    if (s && *s > step) newer.push_back(e.path());
  }
  for (const auto& dir : newer) {
    discard_folder(dir, "abandoned");
    ++dropped;
  }
  if (dropped > 0 || latest_checkpoint_step(run_dir) != step) {
    const fs::path latest_tmp = ckpt_dir / unique_name("latest", "tmp");
    try {
      write_synced(latest_tmp, checkpoint_dir_name(step) + "\n");
      rename_or_throw(latest_tmp, ckpt_dir / "latest");
    } catch (...) {
      fs::remove(latest_tmp, ec);
      throw;
    }
    fsync_path(ckpt_dir, true);
  }
  return dropped;
}

}  // namespace xib::train
