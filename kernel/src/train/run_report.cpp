// Plots and the Markdown report of a training run (run_report.h).
#include "xib/train/run_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "xib/files.h"
#include "xib/json_text.h"
#include "xib/metrics.h"
#include "xib/plot.h"
#include "xib/progress.h"

namespace xib::train {
namespace {

std::string human_count(int64_t n) {
  if (n >= 1'000'000) return fmt::format("{:.2f}M", n / 1e6);
  if (n >= 1'000) return fmt::format("{:.1f}K", n / 1e3);
  return std::to_string(n);
}

}  // namespace

std::string write_run_report(const RunSummary& s) {
  // The last record of each step wins (a resumed run may repeat steps after a crash).
  std::map<int64_t, nlohmann::json> by_step;
  const auto metrics_file = s.run_dir / "metrics.jsonl";
  if (std::filesystem::exists(metrics_file)) {
    for (auto& r : read_jsonl(metrics_file)) {
      if (r.contains("step") && r.contains("loss")) by_step[r["step"].get<int64_t>()] = r;
    }
  }
  std::vector<double> steps, loss, lr, rate;
  int64_t run_skipped = 0, run_skipped_batches = 0;  // the whole run, across resumptions
  for (const auto& [step, r] : by_step) {
    run_skipped += r.value("skipped", int64_t{0});
    run_skipped_batches += r.value("skipped_batches", int64_t{0});
    steps.push_back(static_cast<double>(step));
    loss.push_back(r["loss"].is_number() ? r["loss"].get<double>() : NAN);
    lr.push_back(r.value("lr", NAN));
    if (r.contains("samples_per_s")) rate.push_back(r["samples_per_s"].get<double>());
  }
  const auto smooth = smooth_ema(loss, 0.9);
  write_text_file(s.run_dir / "loss.svg",
                  svg_line_plot({{.name = "loss", .x = steps, .y = loss, .faint = true},
                                 {.name = "loss (smoothed)", .x = steps, .y = smooth, .color = "#1f77b4"}},
                                {.title = "training loss", .y_label = "loss"}));
  write_text_file(s.run_dir / "lr.svg",
                  svg_line_plot({{.name = "lr", .x = steps, .y = lr}}, {.title = "learning rate", .y_label = "lr"}));

  std::string md = fmt::format("# Training run `{}`\n\n", s.run_dir.filename().string());
  if (!s.description.empty()) md += s.description + "\n\n";
  md += fmt::format("- recipe: `{}`\n", s.recipe);
  md += fmt::format(
      "- steps: {} of {}{}\n", s.end_step, s.total_steps,
      s.stopped_by.empty() ? "" : fmt::format(" — **stopped by {}**; run the recipe again to resume", s.stopped_by));
  if (s.start_step > 0) md += fmt::format("- this process resumed from step {}\n", s.start_step);
  md += fmt::format("- samples per optimizer step: {}\n", s.batch_size);
  md += fmt::format("- device: {}, precision: {}\n", s.device, s.precision);
  md += fmt::format("- trainable values: {} ({})\n", human_count(s.trainable_values), s.optimizer);
  if (s.steps_this_process > 0 && s.loop_seconds > 0) {
    md += fmt::format("- time (this process): {} in all, {} training, {:.2f} steps/s\n", format_duration(s.seconds),
                      format_duration(s.loop_seconds), s.steps_this_process / s.loop_seconds);
  }
  if (run_skipped > 0 || s.skipped > 0) {
    md += fmt::format("- samples skipped (undecodable): {} in the whole run", run_skipped);
    if (run_skipped_batches > 0) {
      md += fmt::format("; {} micro-batch(es) had every sample skipped and were not counted as steps",
                        run_skipped_batches);
    }
    if (!s.skipped_examples.empty()) {
      md += "; in this process e.g.";
      for (size_t i = 0; i < std::min<size_t>(3, s.skipped_examples.size()); ++i) {
        md += " `" + s.skipped_examples[i] + "`";
      }
    }
    md += "\n";
    if (!s.skipped_by_reason.empty()) {
      md += "\n| skipped in this process because | samples |\n|---|---|\n";
      for (const auto& [why, n] : s.skipped_by_reason) md += fmt::format("| {} | {} |\n", why, n);
      md += "\n";
    }
  }
  if (!s.last_checkpoint.empty()) {
    md += fmt::format("- last checkpoint: `checkpoints/{}`\n", s.last_checkpoint.filename().string());
  }
  md += "\n## Modalities\n\n| modality | aligner | encoder | trainable values |\n|---|---|---|---|\n";
  for (const auto& m : s.modalities) {
    md += fmt::format("| {} | {} | {} | {} |\n", m.name, m.aligner, m.encoder, human_count(m.trainable_values));
  }
  md += "\n## Loss\n\n";
  if (loss.empty()) {
    md += "No steps were recorded.\n";
  } else {
    auto finite_min = std::min_element(
        loss.begin(), loss.end(), [](double a, double b) { return std::isfinite(a) && (!std::isfinite(b) || a < b); });
    md += fmt::format(
        "| first | last | last (smoothed) | lowest |\n|---|---|---|---|\n| {:.4f} | {:.4f} | {:.4f} | "
        "{:.4f} (step {}) |\n\n",
        loss.front(), loss.back(), smooth.back(), *finite_min,
        static_cast<int64_t>(steps[static_cast<size_t>(finite_min - loss.begin())]));
    md += "![training loss](loss.svg)\n\n![learning rate](lr.svg)\n";
  }
  if (!s.frozen.is_null()) md += fmt::format("\n## Frozen models\n\n```json\n{}\n```\n", json_text(s.frozen, 2));
  write_text_file(s.run_dir / "report.md", md);
  return md;
}

}  // namespace xib::train
