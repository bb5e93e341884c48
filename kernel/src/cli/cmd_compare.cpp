// `xib compare EVAL_DIR…`: evaluations written by `kind: eval` side by side — caption scores,
// QA accuracy, trainable values, training and evaluation time — and a few test images with
// each evaluation's caption beside a reference. Reads metrics.json and the prediction files of
// each folder, and the metrics.jsonl of the run each one evaluated. Torch-free.
#include <fmt/format.h>

#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "command.h"
#include "xib/error.h"
#include "xib/files.h"
#include "xib/json_text.h"
#include "xib/plot.h"

namespace xib::cli {

namespace {

constexpr size_t kLossWindow = 10;  // training loss: the mean of the run's last steps

namespace fs = std::filesystem;
using json = nlohmann::json;

json read_json(const fs::path& file, const std::string& what) {
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    throw NotFoundError({.what = fmt::format("no {} at {}", what, file.string()),
                         .where = file.parent_path().string(),
                         .expected = "a folder written by `xib run` with kind: eval (metrics.json, *_predictions.json)",
                         .hint = "run the evaluation first, e.g. xib run recipes/mini/eval_qformer.yaml"});
  }
  return read_json_file(file, what, "the file was cut short or edited: run the evaluation again");
}

/// One evaluation folder, with what the table needs.
struct Column {
  std::string label = {};
  fs::path dir = {};
  json metrics = {};
  std::optional<double> train_seconds = {}, final_loss = {};
  int64_t steps = 0;
  std::map<std::string, std::string> captions = {};  ///< image id → caption (the caption dataset)
  std::map<std::string, std::string> reference = {};
};

std::string aligner_of(const json& m) {
  std::string out;
  if (m.contains("model") && m["model"].contains("modalities")) {
    for (const auto& [name, mod] : m["model"]["modalities"].items()) {
      if (!out.empty()) out += "+";
      out += mod.value("aligner", std::string("?"));
    }
  }
  return out.empty() ? "?" : out;
}

Column read_column(const fs::path& dir) {
  Column c{.dir = dir, .metrics = read_json(dir / "metrics.json", "metrics.json")};
  if (c.metrics.value("kind", std::string()) != "xib.eval") {
    throw FormatError({.what = "not the metrics of an evaluation",
                       .where = (dir / "metrics.json").string(),
                       .expected = "\"kind\": \"xib.eval\"",
                       .got = c.metrics.value("kind", std::string("no kind")),
                       .hint = "give the out: folder of a kind: eval recipe"});
  }
  const std::string control = c.metrics.value("control", std::string("none"));
  c.label = aligner_of(c.metrics) + (control == "none" ? "" : " (" + control + ")");
  if (c.metrics.contains("run") && c.metrics["run"].is_string()) {
    const fs::path run = c.metrics["run"].get<std::string>();
    std::ifstream in(run / "metrics.jsonl");
    double total = 0;
    bool any = false;
    std::deque<double> last;  // the losses of the last kLossWindow steps
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      const json j = json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("step_s")) continue;
      total += j["step_s"].get<double>();
      c.steps = j.value("step", c.steps);
      if (j.contains("loss")) {
        last.push_back(j["loss"].get<double>());
        if (last.size() > kLossWindow) last.pop_front();
      }
      any = true;
    }
    if (any) c.train_seconds = total;
    if (!last.empty()) c.final_loss = std::accumulate(last.begin(), last.end(), 0.0) / static_cast<double>(last.size());
  }
  for (const auto& [name, d] : c.metrics["datasets"].items()) {
    if (d.value("task", std::string()) != "caption" || !d.contains("predictions")) continue;
    const json preds = read_json(dir / d["predictions"].get<std::string>(), "caption predictions");
    for (const auto& p : preds) {
      const std::string id = p.value("image_id", std::string());
      c.captions[id] = p.value("caption", std::string());
      if (p.contains("references") && p["references"].is_array() && !p["references"].empty()) {
        c.reference[id] = p["references"][0].get<std::string>();
      }
    }
  }
  return c;
}

/// The first dataset of `task`'s metric `key`, or nothing.
std::optional<double> metric(const json& m, const std::string& task, const std::string& key) {
  for (const auto& [name, d] : m["datasets"].items()) {
    if (d.value("task", std::string()) == task && d.contains(key)) return d[key].get<double>();
  }
  return std::nullopt;
}

std::string cell(std::optional<double> v, const char* format, double scale = 1.0) {
  return v ? fmt::format(fmt::runtime(format), *v * scale) : std::string("–");
}

/// A caption as one Markdown table cell: line breaks shown as ⏎, pipes escaped.
std::string table_cell(const std::string& text) {
  std::string out;
  for (char ch : text) {
    if (ch == '\n') {
      out += " ⏎ ";
    } else if (ch == '|') {
      out += "\\|";
    } else if (ch != '\r') {
      out += ch;
    }
  }
  return out;
}

std::string compare_markdown(const std::vector<Column>& cols, size_t samples) {
  std::ostringstream md;
  md << "| | ";
  for (const auto& c : cols) md << c.label << " | ";
  md << "\n|---|";
  for (size_t i = 0; i < cols.size(); ++i) md << "---:|";
  md << "\n";
  auto row = [&](const std::string& name, auto&& f) {
    md << "| " << name << " | ";
    for (const auto& c : cols) md << f(c) << " | ";
    md << "\n";
  };
  row("CIDEr-D", [](const Column& c) { return cell(metric(c.metrics, "caption", "CIDEr"), "{:.1f}", 100.0); });
  row("BLEU-4", [](const Column& c) { return cell(metric(c.metrics, "caption", "Bleu_4"), "{:.1f}", 100.0); });
  row("ROUGE-L", [](const Column& c) { return cell(metric(c.metrics, "caption", "ROUGE_L"), "{:.1f}", 100.0); });
  row("QA accuracy (%)", [](const Column& c) { return cell(metric(c.metrics, "qa", "accuracy"), "{:.1f}"); });
  row("trainable values",
      [](const Column& c) { return fmt::format("{:.2f}M", c.metrics.value("trainable_values", int64_t{0}) / 1e6); });
  row("training steps", [](const Column& c) { return c.steps ? std::to_string(c.steps) : std::string("–"); });
  row(fmt::format("training loss (last {} steps)", kLossWindow),
      [](const Column& c) { return cell(c.final_loss, "{:.3f}"); });
  row("training time (s, steps only)", [](const Column& c) { return cell(c.train_seconds, "{:.0f}"); });
  row("evaluation time (s)", [](const Column& c) { return cell(c.metrics.value("seconds", 0.0), "{:.0f}"); });
  md << "\nCaption scores × 100 (pycocoevalcap's definitions); QA: "
     << (cols.empty() ? std::string()
         : json_text(cols[0].metrics["datasets"]).find("\"vqa\"") != std::string::npos
             ? "VQA accuracy"
             : "exact match after VQA normalisation")
     << ". Folders: ";
  for (size_t i = 0; i < cols.size(); ++i) md << (i ? ", " : "") << "`" << cols[i].dir.string() << "`";
  md << "\n";

  // Test images: each column's caption beside the first reference.
  if (samples > 0 && !cols.empty() && !cols[0].captions.empty()) {
    md << "\n| image | reference |";
    for (const auto& c : cols) md << " " << c.label << " |";
    md << "\n|---|---|";
    for (size_t i = 0; i < cols.size(); ++i) md << "---|";
    md << "\n";
    size_t n = 0;
    for (const auto& [id, caption] : cols[0].captions) {
      if (n++ >= samples) break;
      const auto ref = cols[0].reference.find(id);
      md << "| " << id << " | " << (ref == cols[0].reference.end() ? "" : table_cell(ref->second)) << " |";
      for (const auto& c : cols) {
        const auto it = c.captions.find(id);
        md << " " << (it == c.captions.end() ? "–" : table_cell(it->second)) << " |";
      }
      md << "\n";
    }
  }
  return md.str();
}

int compare(const po::variables_map& vm) {
  if (!vm.count("eval")) {
    throw UsageError({.what = "no evaluation folders given",
                      .expected = "xib compare EVAL_DIR [EVAL_DIR…]",
                      .hint = "the out: folders of kind: eval recipes"});
  }
  std::vector<Column> cols;
  for (const auto& d : vm["eval"].as<std::vector<std::string>>()) cols.push_back(read_column(d));
  const std::string md = compare_markdown(cols, vm["samples"].as<size_t>());
  std::cout << md;
  if (vm.count("out")) {
    const fs::path out = vm["out"].as<std::string>();
    write_text_file(out, "# Comparison\n\n" + md);
    std::cout << "\nwritten to " << out.string() << "\n";
  }
  return 0;
}

}  // namespace

Command compare_command() {
  return {
      .name = "compare",
      .summary = "evaluations side by side: caption scores, QA accuracy, size, time, sample captions",
      .usage = "xib compare EVAL_DIR [EVAL_DIR…] [--samples N] [--out FILE.md]",
      .details =
          "Each EVAL_DIR is the out: folder of a kind: eval recipe (metrics.json, predictions). The\n"
          "table shows CIDEr-D, BLEU-4, ROUGE-L (× 100), QA accuracy, the trainable values, the\n"
          "training steps, loss (mean of the last 10 steps) and time (from the evaluated run's\n"
          "metrics.jsonl) and the evaluation time; then --samples test images with each folder's caption beside the "
          "first reference.\n"
          "make demo ends with it.",
      .options =
          [](po::options_description& o, po::positional_options_description& p) {
            o.add_options()("eval", po::value<std::vector<std::string>>(), "evaluation folders")(
                "samples", po::value<size_t>()->default_value(5), "test images shown with their captions")(
                "out", po::value<std::string>(), "also write the table (markdown) to this file");
            p.add("eval", -1);
          },
      .run = compare,
  };
}

}  // namespace xib::cli
