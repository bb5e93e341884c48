// Loading LLaMA weights through the weight maps (kernel/src/weights/maps/llama_maps.cpp).
// GGUF: tensors are dequantised to f32 one parameter at a time; attn_q / attn_k rows are put
// back into Hugging Face order (unpermute_qk) on the records, before the table's fusing
// concat runs, since the map's transforms have no rotary-permutation kind.
#include "llama_load.h"

#include <fmt/format.h>

#include <cstdlib>

#include "llama_maps.h"
#include "llama_model.h"
#include "llama_tokenizer.h"
#include "xib/error.h"
#include "xib/io/gguf.h"
#include "xib/io/weight_source.h"
#include "xib/log.h"
#include "xib/model_cache.h"
#include "xib/weights/weight_loader.h"

namespace xib::llama {

namespace {

namespace fs = std::filesystem;
using namespace xib::weights;

bool is_gguf(const fs::path& p) { return sniff_format(p).rfind("gguf", 0) == 0; }

std::unique_ptr<LlamaModel> load_hf(const fs::path& dir, bool with_tokenizer) {
  auto model = std::make_unique<LlamaModel>(config_from_hf_folder(dir));
  const auto& cfg = model->config();
  const auto source = io::open_weights(dir);
  const ExpandedMap map = expand(hf_llama(cfg.tied), {.layers = cfg.layers});
  const WeightPlan p =
      plan(map, source_tensors(source->tensors()), dest_spec(model->params()), {.source_label = dir.string()});
  p.raise_if_failed();
  apply_plan(p, source->tensors(), model->params());
  log::debug("{}: {}", dir.string(), p.summary());
  model->finish_loading();
  if (with_tokenizer) {
    if (auto t = tokenizer_from_hf_folder(dir)) model->set_tokenizer(std::move(t));
    model->set_chat_template(chat_template_from_hf_folder(dir));
  }
  return model;
}

std::unique_ptr<LlamaModel> load_gguf(const fs::path& file, bool with_tokenizer, bool keep_blocks) {
  const io::GgufFile f(file);
  auto model = std::make_unique<LlamaModel>(config_from_gguf(f));
  const auto& cfg = model->config();
  std::vector<SourceTensor> sources;
  for (const auto& t : f.tensors()) sources.push_back({.name = t.name, .shape = t.shape(), .dtype = io::DType::f32});
  const ExpandedMap map = expand(gguf_llama(cfg.tied), {.layers = cfg.layers});
  const WeightPlan p = plan(map, sources, dest_spec(model->params()), {.source_label = file.string()});
  p.raise_if_failed();
  // One parameter at a time: only its sources are dequantised and kept.
  for (const auto& a : p.assignments) {
    std::vector<io::GgufTensor> values;
    std::vector<io::TensorRecord> records;
    values.reserve(a.from.size());
    for (const auto& name : a.from) {
      io::GgufTensor t = f.dequantize(name);
      const bool q = name.ends_with(".attn_q.weight");
      const bool k = name.ends_with(".attn_k.weight");
      if (q || k) {
        t.data =
            unpermute_qk(t.data, t.shape.at(0), t.shape.size() > 1 ? t.shape.at(1) : 1, q ? cfg.heads : cfg.kv_heads);
      }
      values.push_back(std::move(t));
      const auto& v = values.back();
      records.push_back({.name = name,
                         .dtype = io::DType::f32,
                         .shape = v.shape,
                         .data = reinterpret_cast<const std::byte*>(v.data.data()),
                         .storage_bytes = v.data.size() * sizeof(float)});
    }
    WeightPlan one = p;
    one.assignments = {a};
    apply_plan(one, records, model->params());
  }
  log::debug("{}: {}", file.string(), p.summary());
  model->finish_loading();
  if (keep_blocks) model->use_gguf_blocks(f);
  if (f.find_tensor("rope_freqs.weight")) model->set_rope_factors(f.dequantize("rope_freqs.weight").data);
  if (with_tokenizer) {
    if (auto t = tokenizer_from_gguf(f)) model->set_tokenizer(std::move(t));
    model->set_chat_template(f.get_string_or("tokenizer.chat_template", ""));
  }
  return model;
}

}  // namespace

fs::path resolve_model_path(const std::string& path) {
  fs::path p(path);
  if (!path.empty() && path[0] == '~') {
    if (const char* home = std::getenv("HOME")) p = fs::path(home) / path.substr(path.size() > 1 ? 2 : 1);
  }
  if (!fs::exists(p)) {
    const ModelCache cache;
    const auto cached = cache.locate(p);
    if (!cached) {
      std::vector<std::string> names;
      for (const auto& e : cache.list()) names.push_back(e.name);
      throw NotFoundError({.what = "no model at '" + path + "'",
                           .where = "llama model path",
                           .expected = "a .gguf file, an HF model folder, or a model-cache name (" +
                                       (names.empty() ? std::string("the cache is empty") : join_names(names)) + ")",
                           .got = path,
                           .hint = "fetch the pinned models with scripts/fetch-models.sh"});
    }
    p = *cached;
  }
  if (fs::is_directory(p) && !fs::exists(p / "config.json")) {
    std::vector<fs::path> ggufs;
    for (const auto& e : fs::directory_iterator(p)) {
      if (e.is_regular_file() && e.path().extension() == ".gguf") ggufs.push_back(e.path());
    }
    if (ggufs.size() == 1) return ggufs.front();
    throw NotFoundError({.what = "the folder is neither an HF model folder nor holds a single .gguf",
                         .where = p.string(),
                         .expected = "config.json and safetensors, or exactly one .gguf file",
                         .got = fmt::format("{} .gguf files, no config.json", ggufs.size())});
  }
  return p;
}

std::unique_ptr<LanguageModel> load_llama(const LlamaOptions& options) {
  const fs::path p = resolve_model_path(options.path);
  check_vicuna_files(p, options.vicuna_version);  // before the (slow) weights
  const auto with_mode = [&](std::unique_ptr<LlamaModel> m) {
    m->set_decode_mode(options.decode);
    m->set_chat_template_option(options.chat_template);
    if (options.tokenizer && (options.tokenizer_type != "auto" || options.upstream_special_tokens)) {
      m->set_tokenizer(load_tokenizer(p, options));
    }
    log::debug("{}: decode step: {}", p.string(), m->decode_summary());
    return m;
  };
  if (fs::is_directory(p)) return with_mode(load_hf(p, options.tokenizer));
  if (!is_gguf(p)) {
    throw FormatError({.what = "not a model the llama plugin reads",
                       .where = p.string(),
                       .expected = "a GGUF file or an HF model folder",
                       .got = sniff_format(p)});
  }
  return with_mode(load_gguf(p, options.tokenizer, options.decode == "auto"));
}

}  // namespace xib::llama
