#include "xib/metrics.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "xib/error.h"
#include "xib/json_text.h"
#include "xib/log.h"

namespace xib {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

[[noreturn]] void throw_io(const std::string& what, const fs::path& file, const std::string& why) {
  throw IoError(ErrorInfo{.what = fmt::format("{} '{}'", what, file.string()), .where = file.string(), .got = why});
}

// What follows the last newline of `file` and where it starts: the last line when it was left
// without its newline, normally by a crash mid-write. Reads backwards in blocks so a long metrics
// file is not read whole just to open it.
std::pair<uintmax_t, std::string> unterminated_tail(const fs::path& file, uintmax_t size) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw_io("cannot read metrics file", file, std::strerror(errno));
  std::string tail;
  constexpr uintmax_t kBlock = 64 * 1024;
  uintmax_t end = size;
  while (end > 0) {
    const uintmax_t begin = end > kBlock ? end - kBlock : 0;
    std::string block(static_cast<size_t>(end - begin), '\0');
    in.seekg(static_cast<std::streamoff>(begin));
    if (!in.read(block.data(), static_cast<std::streamsize>(block.size())))
      throw_io("cannot read metrics file", file, "short read");
    const size_t nl = block.rfind('\n');
    if (nl != std::string::npos) return {begin + nl + 1, block.substr(nl + 1) + tail};
    tail = block + tail;
    end = begin;
  }
  return {0, tail};
}

}  // namespace

MetricsWriter::MetricsWriter(const fs::path& file, bool append) : path_(file) {
  std::error_code ec;
  if (path_.has_parent_path()) {
    fs::create_directories(path_.parent_path(), ec);
    if (ec) throw_io("cannot create the folder for metrics file", path_, ec.message());
  }

  // A resumed run appends to the file of the run that crashed. A torn last line would glue onto
  // the first new record and turn into a corrupt middle line that read_jsonl() rejects, so cut it
  // off now; a complete record that merely lacks its newline gets one instead.
  bool needs_newline = false;
  if (append) {
    const uintmax_t size = fs::is_regular_file(path_, ec) ? fs::file_size(path_, ec) : 0;
    if (!ec && size > 0) {
      auto [offset, tail] = unterminated_tail(path_, size);
      if (!tail.empty()) {
        if (json::accept(tail)) {
          needs_newline = true;
        } else {
          fs::resize_file(path_, offset, ec);
          if (ec) throw_io("cannot drop the torn last line of metrics file", path_, ec.message());
          log::warn("{}: dropped a torn last line ({} bytes) left by an interrupted run", path_.string(), tail.size());
        }
      }
    }
  }

  file_ = std::fopen(path_.c_str(), append ? "ab" : "wb");
  if (!file_) throw_io("cannot open metrics file", path_, std::strerror(errno));
  if (needs_newline && (std::fputc('\n', file_) == EOF || std::fflush(file_) != 0)) {
    const int err = errno;
    std::fclose(file_);
    file_ = nullptr;
    throw_io("cannot write metrics file", path_, std::strerror(err));
  }
}

MetricsWriter::~MetricsWriter() {
  if (file_) std::fclose(file_);
}

void MetricsWriter::write(const json& record) {
  if (!record.is_object())
    throw Error(ErrorInfo{.what = "a metrics record must be a JSON object",
                          .where = path_.string(),
                          .expected = "object",
                          .got = record.type_name()});
  // Invalid UTF-8 in a string (a file name, a decoded sample) must not cost the record.
  std::string line = json_text(record);
  line += '\n';
  // One fwrite per record: stdio locks the stream per call, so records from several threads
  // never interleave. The flush makes each record survive a crash of the process.
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
    throw_io("cannot write metrics file", path_, std::strerror(errno));
}

std::vector<json> read_jsonl(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw_io("cannot open JSONL file", file, std::strerror(errno));
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw_io("cannot read JSONL file", file, std::strerror(errno));
  const std::string text = buffer.str();

  std::vector<json> records;
  size_t pos = 0;
  for (size_t line_no = 1; pos < text.size(); ++line_no) {
    const size_t nl = text.find('\n', pos);
    const bool terminated = nl != std::string::npos;
    std::string_view line(text.data() + pos, (terminated ? nl : text.size()) - pos);
    pos = terminated ? nl + 1 : text.size();
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;

    try {
      records.push_back(json::parse(line));
    } catch (const json::parse_error& e) {
      if (!terminated) {
        log::debug("{}:{}: dropped a torn last line", file.string(), line_no);
        break;
      }
      constexpr size_t kShow = 80;
      const std::string shown = line.size() > kShow ? std::string(line.substr(0, kShow)) + "…" : std::string(line);
      throw FormatError(ErrorInfo{.what = fmt::format("bad JSON on line {} of '{}'", line_no, file.string()),
                                  .where = fmt::format("{}:{}", file.string(), line_no),
                                  .expected = "one JSON value per line",
                                  .got = shown,
                                  .details = {{"parser", e.what()}}});
    }
  }
  return records;
}

}  // namespace xib
