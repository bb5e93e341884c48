// Prediction files, metrics.json, report.md and the end-of-evaluation summary of `kind: eval`.
#include "eval_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "xib/progress.h"

namespace xib::eval {

using json = nlohmann::json;

namespace {

/// Markdown table cell: pipes escaped, line breaks as spaces.
std::string cell(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n' || c == '\r')
      out += ' ';
    else
      out += c;
  }
  return out;
}

double number(const json& j, const char* key) { return j.contains(key) ? j[key].get<double>() : 0.0; }

int64_t answered(const DatasetResult& r) {
  int64_t n = 0;
  for (const auto& p : r.predictions) n += p.has_value();
  return n;
}

}  // namespace

std::string headline(const DatasetResult& r) {
  if (r.task == "caption") {
    return fmt::format("CIDEr {:.1f} · BLEU-4 {:.1f} · ROUGE-L {:.1f}", 100 * number(r.scores, "CIDEr"),
                       100 * number(r.scores, "Bleu_4"), 100 * number(r.scores, "ROUGE_L"));
  }
  return fmt::format("accuracy {:.1f}% ({})", number(r.scores, "overall"), r.qa_metric);
}

json predictions_json(const DatasetResult& r) {
  json out = json::array();
  const bool caption = r.task == "caption";
  for (size_t i = 0; i < r.samples.size(); ++i) {
    if (!r.predictions[i]) continue;
    json e;
    if (caption) {
      e = {{"image_id", r.ids[i]}, {"caption", *r.predictions[i]}};
    } else {
      e = {{"question_id", r.ids[i]}, {"question", r.samples[i].instruction}, {"answer", *r.predictions[i]}};
    }
    e["references"] = r.samples[i].references;
    if (!r.donors.empty()) e["features_from"] = r.ids[r.donors[i]];
    out.push_back(std::move(e));
  }
  return out;
}

json metrics_json(const EvalSummary& s) {
  json datasets = json::object();
  for (const auto& r : s.datasets) {
    json d = {{"task", r.task},
              {"samples", r.samples.size()},
              {"answered", answered(r)},
              {"skipped", r.skipped},
              {"seconds", r.seconds},
              {"prefill_seconds", r.prefill_seconds},
              {"decode_seconds", r.decode_seconds},
              {"decode_steps", r.decode_steps},
              {"samples_per_s", r.seconds > 0 ? static_cast<double>(r.samples.size()) / r.seconds : 0.0},
              {"predictions", r.name + "_predictions.json"},
              {"scores", r.name + "_scores.json"}};
    if (r.task == "caption") {
      for (const char* k : {"Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr"}) d[k] = number(r.scores, k);
    } else {
      d["accuracy"] = number(r.scores, "overall");
      d["metric"] = r.qa_metric;
      if (r.scores.contains("perAnswerType")) d["per_answer_type"] = r.scores["perAnswerType"];
    }
    datasets[r.name] = std::move(d);
  }
  return {{"kind", "xib.eval"},
          {"recipe", s.recipe},
          {"description", s.description},
          {"run", s.run.empty() ? json() : json(s.run.string())},
          {"checkpoint", s.checkpoint.empty() ? json() : json(s.checkpoint.filename().string())},
          {"step", s.step},
          {"control", s.control},
          {"model", s.model},
          {"trainable_values", s.trainable_values},
          {"seconds", s.seconds},
          {"load_seconds", s.load_seconds},
          {"generate", s.generate},
          {"datasets", std::move(datasets)}};
}

std::string report_markdown(const EvalSummary& s) {
  std::ostringstream md;
  md << "# Evaluation" << (s.description.empty() ? "" : ": " + s.description) << "\n\n";
  md << "- model: " << (s.run.empty() ? "the recipe's model: section (aligners as initialised)" : s.run.string());
  if (!s.checkpoint.empty()) md << ", checkpoint " << s.checkpoint.filename().string() << " (step " << s.step << ")";
  md << "\n- control: " << s.control
     << (s.control == "blind" ? " (every sample answered from another input's encoder features)" : "") << "\n";
  md << "- LLM: " << s.model.value("llm", std::string()) << "\n";
  if (s.model.contains("modalities")) {
    for (const auto& item : s.model["modalities"].items()) {
      md << "- " << item.key() << ": " << item.value().value("encoder", std::string()) << " → "
         << item.value().value("aligner", std::string()) << "\n";
    }
  }
  md << fmt::format("- trainable values: {}\n", s.trainable_values);
  md << fmt::format("- time: {} in all ({} loading)\n", format_duration(s.seconds), format_duration(s.load_seconds));
  md << "- recipe: " << s.recipe << "\n\n";

  md << "| dataset | task | samples | result | time |\n|---|---|---|---|---|\n";
  for (const auto& r : s.datasets) {
    md << fmt::format("| {} | {} | {}{} | {} | {} |\n", cell(r.name), r.task, answered(r),
                      r.skipped ? fmt::format(" ({} skipped)", r.skipped) : "", headline(r),
                      format_duration(r.seconds));
  }
  md << "\nCaption scores are pycocoevalcap's (CIDEr-D, BLEU-4, ROUGE-L) × 100; metrics.json holds them "
        "unscaled.\n";

  for (const auto& r : s.datasets) {
    const size_t shown = std::min(r.samples.size(), static_cast<size_t>(std::max<int64_t>(s.report_samples, 0)));
    if (shown == 0) continue;
    md << "\n## " << cell(r.name) << ": first " << shown << " predictions\n\n";
    const bool qa = r.task != "caption";
    md << (qa ? "| id | question | answer | accepted answers |" : "| id | caption | references |");
    md << (r.donors.empty() ? "\n" : " features from |\n");
    md << (qa ? "|---|---|---|---|" : "|---|---|---|") << (r.donors.empty() ? "\n" : "---|\n");
    for (size_t i = 0; i < shown; ++i) {
      std::string refs;
      for (size_t k = 0; k < r.samples[i].references.size() && k < 3; ++k) {
        refs += (k ? "; " : "") + r.samples[i].references[k];
      }
      if (r.samples[i].references.size() > 3) refs += fmt::format("; … ({} in all)", r.samples[i].references.size());
      const std::string pred = r.predictions[i] ? *r.predictions[i] : "(skipped: input failed to decode)";
      md << "| " << cell(r.ids[i]) << " | ";
      if (qa) md << cell(r.samples[i].instruction) << " | ";
      md << cell(pred) << " | " << cell(refs) << " |";
      if (!r.donors.empty()) md << " " << cell(r.ids[r.donors[i]]) << " |";
      md << "\n";
    }
  }
  return md.str();
}

std::string summary_text(const EvalSummary& s) {
  std::string out = fmt::format(
      "xib: evaluated {}{} (control {}) in {}\n", s.run.empty() ? std::string("the recipe's model") : s.run.string(),
      s.checkpoint.empty() ? std::string() : fmt::format(" at step {}", s.step), s.control, format_duration(s.seconds));
  for (const auto& r : s.datasets) {
    out += fmt::format("  {:<16} {:<8} {:>5} {:<10} {}  ({})\n", r.name, r.task, answered(r),
                       r.task == "caption" ? "inputs" : "questions", headline(r), format_duration(r.seconds));
  }
  out += fmt::format("  trainable values {}; predictions, metrics.json and report.md in {}\n", s.trainable_values,
                     s.out.string());
  return out;
}

}  // namespace xib::eval
