// make_aligner(): the one path from a modality's `aligner:` section to its Aligner, with the
// model's facts passed as an AlignerContext; and ModalityContext::make_aligner on top of it.
// Keys of other registered aligner types are dropped here (and reported), so that each type
// binds only its own keys. Torch-free.
#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <set>

#include "xib/aligner.h"
#include "xib/error.h"
#include "xib/log.h"
#include "xib/modality.h"

namespace xib {

namespace {

/// Facts the model gives every aligner; a recipe that sets one gets told so.
constexpr std::string_view kContextKeys[] = {"modality", "encoder_width", "llm_width"};

void check_context(const AlignerContext& c) {
  std::vector<std::string> wrong;
  if (c.modality.empty()) wrong.push_back("modality ''");
  if (c.encoder_width <= 0) wrong.push_back(fmt::format("encoder_width {}", c.encoder_width));
  if (c.llm_width <= 0) wrong.push_back(fmt::format("llm_width {}", c.llm_width));
  if (wrong.empty()) return;
  throw UsageError({.what = "an aligner was requested without the model's facts",
                    .where = "make_aligner",
                    .expected = "a modality name and positive encoder and LLM widths",
                    .got = join_names(wrong),
                    .hint = "a modality gets its aligner through ModalityContext::make_aligner(encoder width, "
                            "section) with the context the model handed it"});
}

/// One message per (modality, type, keys) and process, however often the model is built.
void report_unused(const AlignerContext& c, const std::string& type, const std::vector<std::string>& keys,
                   const std::set<std::string>& owners, const ConfigSection& section) {
  static std::mutex mu;
  static std::set<std::string> reported;
  const std::string id = fmt::format("{}|{}|{}", c.modality, type, join_names(keys));
  {
    std::lock_guard lock(mu);
    if (!reported.insert(id).second) return;
  }
  log::info("aligner of '{}' ({}): {} {} of {} and unused by {} ({})", c.modality, type, join_names(keys),
            keys.size() == 1 ? "is a key" : "are keys",
            join_names(std::vector<std::string>(owners.begin(), owners.end())), type, section.where());
}

}  // namespace

std::shared_ptr<Aligner> make_aligner(const AlignerContext& context, const ConfigSection& section) {
  check_context(context);
  if (section.present() && !section.node.IsMap()) config_detail::expect_map(section);
  const Registry& registry = Registry::global();

  std::string type = kDefaultAlignerType;
  if (const ConfigSection t = section.child("type"); t.present()) config_detail::from_yaml(t, type);
  const RegistryEntry* chosen = registry.find(Aligner::kKind, type);
  if (!chosen) {
    const auto known = registry.names<Aligner>();
    const auto near = nearest_name(type, known);
    throw NotFoundError(
        {.what = fmt::format("unknown aligner type '{}'", type),
         .where = section.where("type"),
         .expected = "one of: " + join_names(known),
         .got = type,
         .hint = near ? fmt::format("did you mean '{}'?", *near) : "a plugin may provide it: see `xib plugins`"});
  }

  // Sort the section's keys: this type's, another type's (dropped, reported), nobody's (error).
  std::map<std::string, std::set<std::string>> owners;  // key → types that read it
  std::vector<std::string> all_keys;
  for (const RegistryEntry& e : registry.entries()) {
    if (e.kind != Aligner::kKind) continue;
    for (const auto& k : e.keys) {
      owners[k].insert(e.name);
      all_keys.push_back(k);
    }
  }
  const std::set<std::string> own(chosen->keys.begin(), chosen->keys.end());
  YAML::Node node = section.present() ? YAML::Clone(section.node) : YAML::Node(YAML::NodeType::Map);
  node.remove("type");
  std::vector<std::string> unused;
  std::set<std::string> unused_owners;
  for (const auto& kv : YAML::Node(node)) {
    const std::string key = kv.first.Scalar();
    if (own.count(key)) continue;
    if (const auto it = owners.find(key); it != owners.end()) {
      unused.push_back(key);
      unused_owners.insert(it->second.begin(), it->second.end());
      continue;
    }
    const bool context_key = std::find(std::begin(kContextKeys), std::end(kContextKeys), key) != std::end(kContextKeys);
    std::sort(all_keys.begin(), all_keys.end());
    all_keys.erase(std::unique(all_keys.begin(), all_keys.end()), all_keys.end());
    ErrorInfo info{.what = fmt::format("unknown key '{}' in section '{}'", key, section.path),
                   .where = section.where(key),
                   .expected = fmt::format("a key of aligner type {}: {} (or of another aligner type: {})", type,
                                           join_names(chosen->keys), join_names(all_keys))};
    if (context_key) {
      info.what = fmt::format("'{}' is not an aligner key: the model sets it", key);
      info.hint = "remove it: every aligner gets its modality, encoder width and LLM width from the model";
    } else if (const auto near = nearest_name(key, all_keys)) {
      info.hint = fmt::format("did you mean '{}'? (e.g. --set {}=…)", *near, section.key_path(*near));
    } else {
      info.hint = "remove it, or check the aligner keys in docs/recipes.md";
    }
    throw ConfigError(std::move(info));
  }
  for (const auto& key : unused) node.remove(key);
  if (!unused.empty()) report_unused(context, type, unused, unused_owners, section);
  return registry.create<Aligner>(type, context, ConfigSection(section.source, node, section.path));
}

std::shared_ptr<Aligner> ModalityContext::make_aligner(int64_t encoder_width,
                                                       const ConfigSection& aligner_section) const {
  if (llm_width <= 0) return nullptr;  // built without a language model: encoder only
  return xib::make_aligner(
      {.modality = name, .encoder_width = encoder_width, .llm_width = llm_width, .load_init = load_aligner_init},
      aligner_section);
}

}  // namespace xib
