// LavisDataset: Samples from a checked LAVIS annotation file, the options' checks (against the
// loaded modalities' templates), and the `caption` / `qa` registrations.
#include <fmt/format.h>

#include <algorithm>

#include "lavis_load.h"
#include "xib/datasets/lavis_reader.h"
#include "xib/prompts.h"

namespace xib::datasets {

std::vector<std::pair<std::string, double>> answer_weights(const std::vector<std::string>& answers) {
  std::vector<std::pair<std::string, double>> out;
  const double each = answers.empty() ? 0.0 : 1.0 / static_cast<double>(answers.size());
  for (const std::string& a : answers) {
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == a; });
    if (it == out.end())
      out.emplace_back(a, each);
    else
      it->second += each;
  }
  return out;
}

std::string canonical_modality(std::string_view modality) { return modality == "3d" ? "pc" : std::string(modality); }

void LavisReaderOptions::validate(Validator& v) const {
  v.one_of("reader", reader, {"caption", "qa"});
  v.require(!path.empty(), "path", "the annotation JSON file", "nothing");
  v.require(!file_key.empty(), "file_key", "an entry key (image, video, …)", "''");
  if (limit) v.require(*limit > 0, "limit", "a positive number of entries", *limit);
  const std::string t = effective_task();
  if (instructions) {
    v.require(!instructions->empty(), "instructions", "at least one template", "an empty list");
    for (size_t i = 0; i < instructions->size(); ++i) {
      const std::string& s = (*instructions)[i];
      const bool has_q = s.find(kQuestionPlaceholder) != std::string::npos;
      const std::string key = fmt::format("instructions.{}", i);
      v.require(!s.empty(), key, "a non-empty template", "''");
      if (reader == "qa") {
        v.require(has_q, key, "a template containing {question}", fmt::format("'{}'", s));
      } else {
        v.require(!has_q, key, "a captioning template without {question}", fmt::format("'{}'", s));
      }
    }
  } else {
    // The templates come with the modality's plugin (xib/prompts.h).
    const std::string m = canonical_modality(modality);
    const auto known = Registry::global().names<ModalityPrompts>();
    if (std::find(known.begin(), known.end(), m) == known.end()) {
      const auto near = nearest_name(m, known);
      v.require(false, "modality",
                known.empty() ? std::string("a modality whose plugin is loaded")
                              : "a modality whose plugin is loaded, one of: " + join_names(known),
                fmt::format("'{}'", modality),
                near ? fmt::format("did you mean '{}'?", *near)
                     : "load its plugin, or give the dataset its own instructions: list");
    } else {
      const auto prompts = modality_prompts(m);
      std::vector<std::string> tasks;
      for (const auto& [task, _] : prompts->templates) tasks.push_back(task);
      v.one_of("task", t, tasks);
    }
  }
}

LavisDataset::LavisDataset(LavisReaderOptions options) : options_(std::move(options)) {
  name_ = options_.name.empty() ? options_.path.stem().string() : options_.name;
  modality_ = canonical_modality(options_.modality);
  task_ = options_.effective_task();
  templates_ = options_.instructions ? *options_.instructions : instruction_templates(modality_, task_);
  root_ = resolve_root(options_);
  entries_ = load_lavis_entries(options_, root_);
}

Sample LavisDataset::get(size_t index, Rng& rng) const {
  if (index >= entries_.size()) {
    throw Error(ErrorInfo{.what = fmt::format("sample index {} is past the end of dataset '{}'", index, name_),
                          .expected = fmt::format("an index below {}", entries_.size()),
                          .got = std::to_string(index)});
  }
  const LavisEntry& e = entries_[index];
  const bool qa = options_.reader == "qa";
  Sample s;
  s.id = fmt::format("{}:{}", name_, e.key.empty() ? std::to_string(index) : e.key);
  s.inputs[modality_] = {root_ / e.file};
  s.task = task_;
  s.dataset = name_;
  s.references = e.texts;
  if (options_.evaluation) {
    s.instruction = qa ? e.question : std::string(kCaptionEvalInstruction);
  } else {
    const std::string& t = templates_[rng.below(templates_.size())];
    s.instruction = qa ? fill_template(t, e.question) : t;
  }
  if (!qa) {
    s.answer = options_.evaluation ? e.texts.front() : e.texts[rng.below(e.texts.size())];
    return s;
  }
  // LAVIS: distinct answers weighted by how often they were given; training draws one.
  const auto weights = answer_weights(e.texts);
  if (options_.evaluation) {
    s.answer = std::max_element(weights.begin(), weights.end(), [](const auto& a, const auto& b) {
                 return a.second < b.second;
               })->first;
    return s;
  }
  double u = rng.uniform();
  s.answer = weights.back().first;  // rounding: the cumulative sum may end just below 1
  for (const auto& [answer, w] : weights) {
    if (u < w) {
      s.answer = answer;
      break;
    }
    u -= w;
  }
  return s;
}

void register_lavis_readers(Registrations& reg) {
  auto make = [](const FactoryArgs& a) -> std::unique_ptr<Dataset> {
    return std::make_unique<LavisDataset>(bind<LavisReaderOptions>(a.options));
  };
  reg.add<Dataset>("caption", make,
                   "LAVIS captioning annotations [{image, caption, image_id}]; options: path, root, modality, name, "
                   "task, file_key, instructions, limit, check_files, evaluation");
  reg.add<Dataset>("qa", make,
                   "LAVIS QA annotations [{image, question, answer, question_id}]; answers drawn by frequency; "
                   "same options as caption");
}

}  // namespace xib::datasets
