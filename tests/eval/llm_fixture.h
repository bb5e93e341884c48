// Shared by the eval tests: language models loaded through the llama plugin of the build tree,
// and the reference tensors of tools/fixtures/llama/make_beam_fixture.py.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"
#include "torch_doctest.h"
#include "xib/config.h"
#include "xib/io/weight_source.h"
#include "xib/language_model.h"
#include "xib/model_cache.h"
#include "xib/plugin_loader.h"
#include "xib/registry.h"
#include "xib/weights/weight_loader.h"

namespace xib::test {

inline std::filesystem::path eval_data() { return source_dir() / "tests/eval/data"; }
inline std::filesystem::path tiny_model() { return source_dir() / "plugins/llama/tests/data/tiny-untied"; }
inline std::filesystem::path smollm2_gguf() {
  return ModelCache::default_root() / "smollm2-135m-instruct" / "SmolLM2-135M-Instruct.Q4_1.gguf";
}

/// The llama plugin's language model for `path` (loads the build tree's plugins once).
inline std::shared_ptr<LanguageModel> load_llm(const std::filesystem::path& path, bool tokenizer) {
  static const bool loaded = [] {
    PluginLoader::global().load_dirs(plugin_search_path());
    return true;
  }();
  (void)loaded;
  YAML::Node node(YAML::NodeType::Map);
  node["path"] = path.string();
  node["tokenizer"] = tokenizer;
  std::stringstream yaml;
  yaml << node;
  const auto source = ConfigSource::from_string(yaml.str(), "test", std::filesystem::current_path());
  return Registry::global().create<LanguageModel>("llama", FactoryArgs{.options = source->section()});
}

/// The reference tensors of one fixture file.
struct Ref {
  std::unique_ptr<io::WeightSource> src;
  explicit Ref(const std::filesystem::path& file) : src(io::open_weights(file)) {}
  bool has(const std::string& name) const { return src->find(name) != nullptr; }
  at::Tensor operator[](const std::string& name) const {
    const auto* r = src->find(name);
    REQUIRE_MESSAGE(r != nullptr, name);
    return weights::record_to_tensor(*r);
  }
};

/// Rows of ids [R, N], −1 entries dropped.
inline std::vector<std::vector<int64_t>> id_rows(const at::Tensor& ids) {
  std::vector<std::vector<int64_t>> out(ids.size(0));
  const at::Tensor c = ids.to(at::kLong).contiguous();
  for (int64_t r = 0; r < c.size(0); ++r) {
    for (int64_t t = 0; t < c.size(1); ++t) {
      const auto v = c[r][t].item<int64_t>();
      if (v >= 0) out[r].push_back(v);
    }
  }
  return out;
}

}  // namespace xib::test
