// The X-InstructBLIP model object (see xib/xinstructblip.h).
#include "xib/xinstructblip.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <set>

#include "xib/aligner.h"
#include "xib/encoder.h"
#include "xib/error.h"
#include "xib/files.h"
#include "xib/language_model.h"
#include "xib/modality.h"
#include "xib/registry.h"
#include "xib/runtime.h"
#include "xib/tokenizer.h"

namespace xib {

namespace {

/// A decoding failure rethrown with the sample and file named, keeping its kind.
[[noreturn]] void rethrow_decode(const Error& e, const Sample& s, const std::string& modality,
                                 const std::filesystem::path& file) {
  ErrorInfo info{.what = fmt::format("sample '{}': its {} file cannot be decoded", s.id, modality),
                 .where = file.string(),
                 .got = e.info().what,
                 .hint = "fix or remove the file, or set model.skip_undecodable: true to skip such samples"};
  throw FormatError(std::move(info));
}

/// IoError unless `file` is a regular file this process may read (xib/files.h).
void check_readable(const std::filesystem::path& file) {
  if (auto why = unreadable_reason(file))
    throw IoError({.what = "cannot read input file", .where = file.string(), .got = *why});
}

}  // namespace

void ModelOptions::validate(Validator& v) const {
  v.require(!modalities.present() || modalities.node.IsMap(), "modalities", "a mapping: name → section",
            "another YAML kind");
  v.require(modalities.present() && modalities.node.size() > 0, "modalities", "at least one modality", "none",
            "add one under modalities: (its name as `xib plugins` lists it) → its section");
  v.require(!llm.present() || llm.node.IsMap(), "llm", "a mapping: {plugin: NAME, …the plugin's options}",
            "another YAML kind");
  if (llm.present() && llm.node.IsMap() && llm.node["plugin"]) {
    v.require(llm.node["plugin"].IsScalar(), "llm.plugin", "a language-model name (as `xib plugins` lists it)",
              "not a name");
  }
}

std::string ModelOptions::llm_plugin() const {
  if (llm.present() && llm.node.IsMap() && llm.node["plugin"] && llm.node["plugin"].IsScalar()) {
    return llm.node["plugin"].as<std::string>();
  }
  return only_language_model(llm.path.empty() ? "model.llm" : llm.path);
}

struct XInstructBlip::Impl {
  std::shared_ptr<LanguageModel> lm;
  std::vector<std::shared_ptr<Modality>> modalities;
  PromptOptions prompt;
  bool skip_undecodable = false;
  std::shared_ptr<const Tokenizer> tokenizer;
  bool training = false;
  std::vector<std::string> skipped_ids;

  size_t index_of(const std::string& name, const std::string& where) const {
    for (size_t i = 0; i < modalities.size(); ++i) {
      if (modalities[i]->name() == name) return i;
    }
    std::vector<std::string> known;
    for (const auto& m : modalities) known.push_back(m->name());
    const auto near = nearest_name(name, known);
    throw NotFoundError({.what = fmt::format("unknown modality '{}'", name),
                         .where = where,
                         .expected = "one of the model's modalities: " + join_names(known),
                         .got = name,
                         .hint = near ? fmt::format("did you mean '{}'?", *near)
                                      : "add the modality under model.modalities in the recipe"});
  }
};

XInstructBlip XInstructBlip::from_recipe(const ConfigSection& model_section, const ModelBuildOptions& build) {
  const auto options = bind<ModelOptions>(model_section);
  XInstructBlipParts parts{.prompt = options.prompt, .skip_undecodable = options.skip_undecodable};
  // The LLM section without `plugin:`, which is ours, not the plugin's.
  YAML::Node llm_node = options.llm.present() ? YAML::Clone(options.llm.node) : YAML::Node(YAML::NodeType::Map);
  llm_node.remove("plugin");
  const ConfigSection llm_section(options.llm.source ? options.llm.source : model_section.source, llm_node,
                                  model_section.key_path("llm"));
  parts.lm = Registry::global().create<LanguageModel>(options.llm_plugin(), FactoryArgs{.options = llm_section});
  // Each modality learns the LLM's width from its context and passes it on to its aligner.
  for (const auto& kv : options.modalities.node) {
    const auto name = kv.first.as<std::string>();
    const ModalityContext context{
        .name = name, .llm_width = parts.lm->hidden_size(), .load_aligner_init = build.load_aligner_init};
    parts.modalities.push_back(Registry::global().create<Modality>(name, context, options.modalities.child(name)));
  }
  return XInstructBlip(std::move(parts));
}

XInstructBlip::XInstructBlip(XInstructBlipParts parts) : impl_(std::make_unique<Impl>()) {
  if (!parts.lm) throw UsageError({.what = "the model needs a language model", .where = "XInstructBlipParts.lm"});
  impl_->lm = std::move(parts.lm);
  impl_->prompt = parts.prompt;
  impl_->skip_undecodable = parts.skip_undecodable;
  impl_->tokenizer = std::move(parts.tokenizer);
  std::set<std::string> seen;
  for (auto& m : parts.modalities) {
    if (!m) throw UsageError({.what = "a modality of the model is missing", .where = "XInstructBlipParts.modalities"});
    if (!seen.insert(m->name()).second) {
      throw UsageError({.what = fmt::format("modality '{}' given twice", m->name()),
                        .where = "model.modalities",
                        .expected = "each modality once"});
    }
    Aligner& a = m->aligner();
    if (a.output_width() != impl_->lm->hidden_size()) {
      throw ShapeError(
          {.what = "aligner output width differs from the language model's hidden size",
           .where = fmt::format("model.modalities.{}.aligner", m->name()),
           .expected = fmt::format("{} (hidden size of {})", impl_->lm->hidden_size(), impl_->lm->name()),
           .got = fmt::format("{}", a.output_width()),
           .hint = fmt::format("build the modality with a ModalityContext whose llm_width is {} (from_recipe does)",
                               impl_->lm->hidden_size())});
    }
    if (a.input_width() != m->encoder().width()) {
      throw ShapeError({.what = "aligner input width differs from the encoder's width",
                        .where = fmt::format("model.modalities.{}.aligner", m->name()),
                        .expected = fmt::format("{} ({})", m->encoder().width(), m->encoder().name()),
                        .got = fmt::format("{}", a.input_width()),
                        .hint = "the modality must make its aligner with its encoder's width "
                                "(ModalityContext::make_aligner)"});
    }
    impl_->modalities.push_back(std::move(m));
  }
  if (impl_->modalities.empty()) {
    throw UsageError({.what = "the model needs at least one modality", .where = "model.modalities"});
  }
  set_training(false);
}

XInstructBlip::~XInstructBlip() = default;
XInstructBlip::XInstructBlip(XInstructBlip&&) noexcept = default;
XInstructBlip& XInstructBlip::operator=(XInstructBlip&&) noexcept = default;

LanguageModel& XInstructBlip::lm() { return *impl_->lm; }
const Tokenizer& XInstructBlip::tokenizer() const {
  return impl_->tokenizer ? *impl_->tokenizer : impl_->lm->tokenizer();
}
Modality& XInstructBlip::modality(const std::string& name) {
  return *impl_->modalities[impl_->index_of(name, "XInstructBlip::modality")];
}
std::vector<std::string> XInstructBlip::modality_names() const {
  std::vector<std::string> out;
  for (const auto& m : impl_->modalities) out.push_back(m->name());
  return out;
}
const PromptOptions& XInstructBlip::prompt_options() const { return impl_->prompt; }

std::vector<std::pair<std::string, Tensor>> XInstructBlip::trainable_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& m : impl_->modalities) {
    for (auto& [name, t] : m->aligner().named_parameters()) {
      if (!t.requires_grad()) t.requires_grad_(true);
      out.emplace_back(m->name() + "." + name, t);
    }
  }
  return out;
}

void XInstructBlip::to(const c10::Device& device) {
  impl_->lm->to(device);
  for (const auto& m : impl_->modalities) m->aligner().to(device);
}

c10::Device XInstructBlip::device() const { return impl_->lm->device(); }

void XInstructBlip::set_training(bool on) {
  impl_->training = on;
  for (const auto& m : impl_->modalities) m->aligner().set_training(on);
}
bool XInstructBlip::training() const { return impl_->training; }
int64_t XInstructBlip::skipped() const { return static_cast<int64_t>(impl_->skipped_ids.size()); }
const std::vector<std::string>& XInstructBlip::skipped_ids() const { return impl_->skipped_ids; }

LoadedInputs XInstructBlip::load_inputs(std::span<const Sample> samples, bool training) {
  if (samples.empty()) throw UsageError({.what = "encode() got no samples", .where = "XInstructBlip::encode"});
  // The batch's modalities, in model order; every sample must have one file for each.
  std::set<std::string> used;
  for (const auto& s : samples) {
    for (const auto& [name, files] : s.inputs) {
      impl_->index_of(name, fmt::format("sample '{}'", s.id));
      used.insert(name);
    }
  }
  std::vector<size_t> mods;
  for (size_t i = 0; i < impl_->modalities.size(); ++i) {
    if (used.count(impl_->modalities[i]->name())) mods.push_back(i);
  }
  if (mods.empty()) {
    throw UsageError({.what = "no sample of the batch has an input file",
                      .where = fmt::format("sample '{}'", samples.front().id),
                      .expected = "inputs for one of: " + join_names(modality_names())});
  }
  for (const auto& s : samples) {
    for (size_t i : mods) {
      const std::string& name = impl_->modalities[i]->name();
      auto it = s.inputs.find(name);
      const size_t n = it == s.inputs.end() ? 0 : it->second.size();
      if (n != 1) {
        throw UsageError({.what = fmt::format("sample '{}' has {} {} files", s.id, n, name),
                          .where = fmt::format("sample '{}'", s.id),
                          .expected = fmt::format("exactly one {} file (the batch uses {})", name,
                                                  join_names(std::vector<std::string>(used.begin(), used.end()))),
                          .got = fmt::format("{}", n),
                          .hint = "batch samples that carry the same modalities together"});
      }
    }
  }

  LoadedInputs in;
  EncodedFeatures& out = in.features;
  for (size_t i : mods) in.modalities.push_back(impl_->modalities[i]->name());
  std::vector<std::vector<at::Tensor>>& loaded = in.tensors;
  loaded.resize(mods.size());
  for (size_t si = 0; si < samples.size(); ++si) {
    const Sample& s = samples[si];
    std::vector<at::Tensor> row;
    bool ok = true;
    for (size_t i : mods) {
      Modality& m = *impl_->modalities[i];
      const auto& file = s.inputs.at(m.name()).front();
      try {
        check_readable(file);  // the same for every modality's processor
        row.push_back(m.processor().load(file, training));
      } catch (const IoError& e) {
        // A file that cannot be read (permissions, a folder, an I/O error) is never skipped:
        // skip_undecodable is for content that cannot be decoded.
        throw IoError({.what = fmt::format("sample '{}': its {} file cannot be read", s.id, m.name()),
                       .where = file.string(),
                       .got = e.info().got.empty() ? e.info().what : e.info().got,
                       .hint = "check that the file exists and is readable; model.skip_undecodable skips only "
                               "files whose content cannot be decoded"});
      } catch (const FormatError& e) {
        if (!impl_->skip_undecodable) rethrow_decode(e, s, m.name(), file);
        out.skipped_reasons.push_back(e.info().what);
        ok = false;
      }
      if (!ok) break;
    }
    if (!ok) {
      out.skipped_ids.push_back(s.id);
      impl_->skipped_ids.push_back(s.id);
      continue;
    }
    out.kept.push_back(si);
    for (size_t k = 0; k < mods.size(); ++k) loaded[k].push_back(row[k]);
  }
  for (const auto& s : samples) in.ids.push_back(s.id);
  return in;
}

EncodedFeatures XInstructBlip::encode(std::span<const Sample> samples, bool training) {
  return encode_loaded(load_inputs(samples, training));
}

EncodedFeatures XInstructBlip::encode_loaded(LoadedInputs in) {
  EncodedFeatures out = std::move(in.features);
  if (out.kept.empty()) return out;
  const auto& loaded = in.tensors;
  torch::NoGradGuard no_grad;  // the encoders are frozen
  for (size_t k = 0; k < in.modalities.size(); ++k) {
    Modality& m = *impl_->modalities[impl_->index_of(in.modalities[k], "loaded inputs")];
    const auto& first = loaded[k].front();
    for (size_t r = 1; r < loaded[k].size(); ++r) {
      if (loaded[k][r].sizes() != first.sizes()) {
        throw ShapeError({.what = fmt::format("{} inputs of one batch differ in shape", m.name()),
                          .where = fmt::format("sample '{}'", in.ids[out.kept[r]]),
                          .expected = fmt::format("{} (as sample '{}')", shape_of(first), in.ids[out.kept[0]]),
                          .got = shape_of(loaded[k][r]),
                          .hint = m.is_sequence() ? "sequences of one batch need the same number of segments" : ""});
      }
    }
    at::Tensor batch = torch::stack(loaded[k]);
    at::Tensor features;
    if (m.is_sequence()) {
      if (batch.dim() < 3) {
        throw ShapeError({.what = fmt::format("the {} processor's output is not a sequence", m.name()),
                          .where = fmt::format("modality '{}'", m.name()),
                          .expected = "[S, …] per sample",
                          .got = shape_of(first)});
      }
      const int64_t b = batch.size(0), segments = batch.size(1);
      at::Tensor flat = m.encoder().encode(batch.flatten(0, 1));
      features = flat.reshape({b, segments, flat.size(1), flat.size(2)});
    } else {
      features = m.encoder().encode(batch);
    }
    out.by_modality[m.name()] = features.detach();
  }
  return out;
}

Assembled XInstructBlip::assemble(std::span<const Sample> samples, const EncodedFeatures& features, PromptMode mode,
                                  std::span<const std::string> order, Rng* rng) {
  if (features.kept.empty()) {
    throw UsageError({.what = "no sample left to build a prompt from",
                      .where = "XInstructBlip",
                      .expected = "at least one encoded sample",
                      .got = fmt::format("{} skipped", features.skipped_ids.size())});
  }
  std::vector<std::string> instructions, answers;
  for (size_t i : features.kept) {
    if (i >= samples.size()) {
      throw UsageError({.what = "features do not belong to these samples",
                        .where = "XInstructBlip",
                        .expected = fmt::format("row indices below {}", samples.size()),
                        .got = fmt::format("{}", i),
                        .hint = "pass the samples given to encode()"});
    }
    instructions.push_back(samples[i].instruction);
    answers.push_back(samples[i].answer);
  }
  std::vector<size_t> mods;
  if (order.empty()) {
    for (size_t i = 0; i < impl_->modalities.size(); ++i) {
      if (features.by_modality.count(impl_->modalities[i]->name())) mods.push_back(i);
    }
    if (mode == PromptMode::training && impl_->prompt.shuffle_modalities) {
      Rng& r = rng ? *rng : Rng::global();
      for (size_t i = mods.size(); i > 1; --i) std::swap(mods[i - 1], mods[r.below(i)]);
    }
  } else {
    for (const auto& name : order) mods.push_back(impl_->index_of(name, "prompt order"));
  }
  for (auto& [name, t] : features.by_modality) impl_->index_of(name, "encoded features");

  std::vector<ModalityTokens> parts;
  for (size_t i : mods) {
    Modality& m = *impl_->modalities[i];
    auto it = features.by_modality.find(m.name());
    if (it == features.by_modality.end()) {
      throw NotFoundError({.what = fmt::format("no {} features for the prompt", m.name()),
                           .where = "XInstructBlip",
                           .expected = fmt::format("features of {}", m.name()),
                           .got = "none"});
    }
    if (it->second.size(0) != static_cast<int64_t>(features.kept.size())) {
      throw ShapeError({.what = fmt::format("{} features disagree with the kept samples", m.name()),
                        .where = "EncodedFeatures",
                        .expected = fmt::format("{} rows", features.kept.size()),
                        .got = shape_of(it->second)});
    }
    parts.push_back({.name = m.name(),
                     .cue = m.cue(),
                     .tokens = align_modality(m.aligner(), it->second, m.is_sequence(), instructions,
                                              impl_->prompt.upstream_sequence_instruction_quirk)});
  }
  return assemble_prompt(*impl_->lm, tokenizer(), impl_->prompt, parts, instructions, answers, mode);
}

Tensor XInstructBlip::loss(std::span<const Sample> samples, const EncodedFeatures& features, Rng* rng) {
  if (features.kept.empty()) return torch::zeros({});  // every sample was skipped: nothing to learn
  const Assembled a = assemble(samples, features, PromptMode::training, {}, rng);
  return impl_->lm->loss(a.embeddings, a.attention_mask, a.labels);
}

Assembled XInstructBlip::build_prompt(std::span<const Sample> samples, const EncodedFeatures& features,
                                      std::span<const std::string> order) {
  torch::NoGradGuard no_grad;
  return assemble(samples, features, PromptMode::generation, order);
}

}  // namespace xib
