// The files `xib new-modality NAME` writes: a complete "features" modality (it reads
// precomputed encoder outputs from .npy/.safetensors files) with its CMakeLists, README,
// processor, pass-through encoder, prompts, plugin, test and recipe. @NAME@ is the modality's
// name, @CLASS@ its CamelCase form; example data is written by cmd_new_modality.cpp.
#include "modality_scaffold.h"

namespace xib::cli {

const std::vector<ScaffoldFile>& modality_scaffold() {
  static const std::vector<ScaffoldFile> files = {
      {"CMakeLists.txt",
       R"~(# The @NAME@ modality plugin, written by `xib new-modality @NAME@`: it reads precomputed encoder
# features (.npy or .safetensors, [T, D] per input) and aligns them to the LLM with the aligner
# its recipe section chooses. It builds inside the xib source tree (modalities/@NAME@/, picked up
# by modalities/CMakeLists.txt) or on its own against an installed xib (the SDK):
#   cmake -S . -B build -G Ninja -DCMAKE_PREFIX_PATH=<xib prefix> && cmake --build build
cmake_minimum_required(VERSION 3.25)
project(xib_modality_@NAME@ LANGUAGES CXX)
if(NOT COMMAND xib_add_plugin)
  find_package(xib REQUIRED)  # xib::xib_kernel and xib_add_plugin()
endif()

# Everything but the registration goes into a static library that the plugin and its test link.
add_library(xib_@NAME@_modality STATIC src/@NAME@_features.cpp src/@NAME@_modality.cpp src/@NAME@_prompts.cpp)
target_include_directories(xib_@NAME@_modality PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/src)
target_link_libraries(xib_@NAME@_modality PUBLIC xib::xib_kernel)
set_target_properties(xib_@NAME@_modality PROPERTIES POSITION_INDEPENDENT_CODE ON CXX_VISIBILITY_PRESET hidden
                                                    VISIBILITY_INLINES_HIDDEN ON)
xib_add_plugin(@NAME@ SOURCES src/plugin.cpp LIBRARIES xib_@NAME@_modality)

# Its test (doctest; Debian's doctest-dev).
find_package(doctest QUIET)
if(doctest_FOUND AND (NOT DEFINED XIB_BUILD_TESTS OR XIB_BUILD_TESTS))
  enable_testing()
  add_executable(test_@NAME@_modality tests/test_@NAME@.cpp)
  target_link_libraries(test_@NAME@_modality PRIVATE xib_@NAME@_modality doctest::doctest)
  target_compile_definitions(test_@NAME@_modality PRIVATE XIB_@UPPER@_DIR="${CMAKE_CURRENT_SOURCE_DIR}")
  add_test(NAME @NAME@_modality COMMAND test_@NAME@_modality)
endif()
)~"},
      {"README.md", R"~(# The `@NAME@` modality

Written by `xib new-modality @NAME@`. It is a working modality plugin that reads **precomputed
encoder features**: each input is a `.npy` or `.safetensors` file holding a `[T, D]` array (T
tokens of width D; a `[D]` vector counts as one token). Its encoder passes them through, so a
researcher with features from any encoder can train an aligner on them with `xib run`; to wrap a
real encoder, replace `src/@NAME@_features.cpp` (docs/writing-a-modality.md in the xib tree).

| file | what it is |
|---|---|
| `CMakeLists.txt` | builds `xib-plugin-@NAME@.so` in the xib tree or against an installed xib |
| `src/@NAME@_options.h` | the recipe section (`width`, `key`, `max_tokens`, `cue`, `aligner`) |
| `src/@NAME@_features.*` | the processor (file → `[T, D]`) and the pass-through encoder |
| `src/@NAME@_modality.*` | the Modality: processor, encoder and its aligner from the model's context |
| `src/@NAME@_prompts.*` | the cue and the instruction templates (captioning, QA) |
| `src/plugin.cpp` | the info record and the registrations |
| `tests/test_@NAME@.cpp` | its test (doctest) |
| `recipes/train.yaml` | trains the aligner on `data/` (example features and captions) |
| `system-packages.txt` | the Debian packages it needs (none beyond xib's own) |

Build and try it, against an installed xib (`cmake --install build --prefix PREFIX` in the xib tree):

```sh
cmake -S . -B build -G Ninja -DCMAKE_PREFIX_PATH=PREFIX && cmake --build build
PREFIX/bin/xib plugins --plugin-dir build                 # lists @NAME@ as loaded
PREFIX/bin/xib run recipes/train.yaml --plugin-dir build  # trains the aligner on data/
```

Inside the xib tree (`xib new-modality @NAME@` run at its top writes `modalities/@NAME@/`), the
plugin is built with everything else and found without `--plugin-dir`.

The recipe section:

```yaml
model:
  modalities:
    @NAME@:
      width: 16          # D of the stored features (a file of another width is refused)
      key: ""            # .safetensors: the tensor to read ("" when the file holds one)
      max_tokens: 4096   # inputs with more tokens are refused
      aligner: {type: qformer, queries: 4}   # any registered aligner type
```

Datasets name the input files with the usual readers, e.g.
`{reader: caption, path: captions.json, modality: @NAME@, file_key: features}`.
)~"},
      {"system-packages.txt",
       R"~(# Debian packages the @NAME@ modality needs beyond xib's own (scripts/setup-deps.sh in the xib
# tree reads every system-packages.txt). One package a line; '#' starts a comment. None yet.
)~"},
      {"src/@NAME@_options.h", R"~(// The @NAME@ modality's recipe section (model.modalities.@NAME@):
//
//   @NAME@:
//     width: 16            # D: the width of the stored features
//     key: ""              # .safetensors: the tensor to read ("" when the file holds one)
//     max_tokens: 4096     # refuse inputs with more tokens (a bad file must not exhaust memory)
//     cue: " @NAME@: "     # text before its tokens in the prompt (default: the registered cue)
//     aligner: {type: qformer, queries: 8}
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "xib/config.h"

namespace xib::@NAME@ {

struct Options {
  int64_t width = 16;
  std::string key = {};
  int64_t max_tokens = 4096;
  std::optional<std::string> cue = {};
  ConfigSection aligner = {};  ///< handed to the model's context (ModalityContext::make_aligner)

  template <class V>
  void fields(V& v) {
    v("width", width, "D: the width of the stored features");
    v("key", key, ".safetensors: the tensor to read ('' when the file holds one)");
    v("max_tokens", max_tokens, "inputs with more tokens are refused");
    v("cue", cue, "text before the tokens in the prompt");
    v("aligner", aligner, "the aligner section ({type: qformer | linear, …})");
  }
  void validate(Validator& v) const {
    v.require(width > 0, "width", "a positive number", width);
    v.require(max_tokens > 0, "max_tokens", "a positive number", max_tokens);
  }
};

}  // namespace xib::@NAME@
)~"},
      {"src/@NAME@_features.h",
       R"~(// The @NAME@ modality's processor and encoder. The processor reads one file of precomputed
// features (.npy or .safetensors, recognised by content) as [T, D] float32; the encoder passes
// a batch through unchanged (the features were encoded already).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "xib/encoder.h"
#include "xib/modality.h"

namespace xib::@NAME@ {

class FeaturesProcessor : public Processor {
 public:
  FeaturesProcessor(int64_t width, std::string key, int64_t max_tokens);
  /** a .npy or .safetensors file → [T, D] float32 (a [D] vector is one token). FormatError naming
      the file for anything else: another width, too many tokens, a non-float array, a bad file. */
  Tensor load(const std::filesystem::path& file, bool training) override;
  nlohmann::json config() const override;

 private:
  int64_t width_;
  std::string key_;
  int64_t max_tokens_;
};

class PassThroughEncoder : public Encoder {
 public:
  explicit PassThroughEncoder(int64_t width) : width_(width) {}
  std::string name() const override { return "@NAME@_features"; }
  int64_t width() const override { return width_; }
  std::optional<int64_t> num_tokens() const override { return std::nullopt; }
  std::string weights_id() const override { return "none (precomputed features)"; }
  /** [B, T, D] → [B, T, D] float32, no gradient */
  Tensor encode(const Tensor& batch) override;

 private:
  int64_t width_;
};

}  // namespace xib::@NAME@
)~"},
      {"src/@NAME@_features.cpp", R"~(// Reading precomputed features (see @NAME@_features.h).
#include "@NAME@_features.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <fstream>

#include "xib/error.h"
#include "xib/io/npy.h"
#include "xib/io/safetensors.h"
#include "xib/weights/weight_loader.h"

namespace xib::@NAME@ {

namespace {

[[noreturn]] void refuse(const std::filesystem::path& file, std::string what, std::string expected, std::string got) {
  throw FormatError({.what = std::move(what),
                     .where = file.string(),
                     .expected = std::move(expected),
                     .got = std::move(got),
                     .hint = "write each input as numpy.save(file, features.astype('float32')) of shape [T, D]"});
}

bool is_float(io::DType t) {
  return t == io::DType::f32 || t == io::DType::f16 || t == io::DType::bf16 || t == io::DType::f64;
}

}  // namespace

FeaturesProcessor::FeaturesProcessor(int64_t width, std::string key, int64_t max_tokens)
    : width_(width), key_(std::move(key)), max_tokens_(max_tokens) {}

nlohmann::json FeaturesProcessor::config() const {
  return {{"type", "@NAME@_features"}, {"width", width_}, {"key", key_}};
}

Tensor FeaturesProcessor::load(const std::filesystem::path& file, bool /*training*/) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw IoError({.what = "cannot open a features file", .where = file.string()});
  char magic[6] = {};
  in.read(magic, sizeof magic);
  in.close();
  at::Tensor t;
  if (std::memcmp(magic, "\x93NUMPY", 6) == 0) {
    const io::NpyArray a = io::read_npy(file);
    if (!is_float(a.dtype)) refuse(file, "the features are not floating point", "f32, f16, bf16 or f64",
                                   std::string(io::dtype_name(a.dtype)));
    t = weights::record_to_tensor(a.record(file.string()), io::DType::f32);
  } else {
    const io::SafetensorsFile st(file);  // FormatError for anything that is not safetensors
    if (key_.empty() && st.names().size() != 1) {
      refuse(file, "which tensor? the file holds several", "one tensor, or the recipe's key: naming one",
             fmt::format("{} tensors", st.names().size()));
    }
    const io::TensorRecord& r = key_.empty() ? st.records().front() : st.tensor(key_);
    if (!is_float(r.dtype)) refuse(file, "the features are not floating point", "f32, f16, bf16 or f64",
                                   std::string(io::dtype_name(r.dtype)));
    t = weights::record_to_tensor(r, io::DType::f32);
  }
  if (t.dim() == 1) t = t.unsqueeze(0);
  if (t.dim() != 2 || t.size(1) != width_ || t.size(0) < 1 || t.size(0) > max_tokens_) {
    refuse(file, "the features do not have the expected shape",
           fmt::format("[T, {}] with 1 <= T <= {} (width, max_tokens)", width_, max_tokens_),
           fmt::format("[{}]", fmt::join(t.sizes(), ", ")));
  }
  return t.contiguous();
}

Tensor PassThroughEncoder::encode(const Tensor& batch) {
  if (!batch.defined() || batch.dim() != 3 || batch.size(2) != width_) {
    throw ShapeError({.what = "@NAME@ encoder: wrong input shape",
                      .where = "PassThroughEncoder::encode",
                      .expected = fmt::format("[B, T, {}]", width_),
                      .got = batch.defined() ? fmt::format("[{}]", fmt::join(batch.sizes(), ", "))
                                             : "an undefined tensor"});
  }
  at::NoGradGuard no_grad;
  return batch.to(at::kFloat).clone();
}

}  // namespace xib::@NAME@
)~"},
      {"src/@NAME@_modality.h",
       R"~(// The @NAME@ Modality: its processor, pass-through encoder and own aligner; cue and templates
// from @NAME@_prompts.h.
#pragma once

#include <memory>

#include "@NAME@_features.h"
#include "@NAME@_options.h"
#include "xib/aligner.h"
#include "xib/modality.h"

namespace xib::@NAME@ {

class @CLASS@Modality : public Modality {
 public:
  /// The aligner comes from the model's context (the LLM's width, this modality's name).
  @CLASS@Modality(const ModalityContext& context, const ConfigSection& section);

  std::string name() const override { return name_; }
  std::string cue() const override;
  bool is_sequence() const override { return false; }
  Processor& processor() override { return processor_; }
  Encoder& encoder() override { return encoder_; }
  Aligner& aligner() override;

 private:
  Options options_;
  std::string name_;
  FeaturesProcessor processor_;
  PassThroughEncoder encoder_;
  std::shared_ptr<Aligner> aligner_;
};

}  // namespace xib::@NAME@
)~"},
      {"src/@NAME@_modality.cpp", R"~(// The @NAME@ Modality (see @NAME@_modality.h).
#include "@NAME@_modality.h"

#include "@NAME@_prompts.h"
#include "xib/error.h"

namespace xib::@NAME@ {

@CLASS@Modality::@CLASS@Modality(const ModalityContext& context, const ConfigSection& section)
    : options_(bind<Options>(section)),
      name_(context.name),
      processor_(options_.width, options_.key, options_.max_tokens),
      encoder_(options_.width) {
  aligner_ = context.make_aligner(encoder_.width(), options_.aligner);
}

std::string @CLASS@Modality::cue() const { return options_.cue ? *options_.cue : prompts().cue; }

Aligner& @CLASS@Modality::aligner() {
  if (!aligner_) {
    throw ConfigError({.what = "the " + name_ + " modality was built without a language model: it has no aligner",
                       .where = "model.modalities." + name_,
                       .hint = "build it through the model (XInstructBlip), which knows the LLM's width"});
  }
  return *aligner_;
}

}  // namespace xib::@NAME@
)~"},
      {"src/@NAME@_prompts.h",
       R"~(// The @NAME@ modality's cue and instruction templates (registered as its ModalityPrompts).
#pragma once

#include "xib/prompts.h"

namespace xib::@NAME@ {

const ModalityPrompts& prompts();

}  // namespace xib::@NAME@
)~"},
      {"src/@NAME@_prompts.cpp",
       R"~(// The @NAME@ modality's prompt text: edit the templates to describe your inputs. Captioning
// templates ask for a description; QA templates hold "{question}".
#include "@NAME@_prompts.h"

namespace xib::@NAME@ {

const ModalityPrompts& prompts() {
  static const ModalityPrompts p{
      .cue = " @NAME@: ",
      .templates = {{"caption",
                     {"a short description", "describe the @NAME@ input briefly.", "write a short caption for this input.",
                      "what does this @NAME@ input show? answer in one sentence.", "summarise the input in a few words."}},
                    {"qa",
                     {"{question}", "question: {question} short answer:", "{question} answer briefly.",
                      "about the @NAME@ input: {question}", "answer in a word or two. {question}"}}}};
  return p;
}

}  // namespace xib::@NAME@
)~"},
      {"src/plugin.cpp", R"~(// The @NAME@ plugin: registers the Modality "@NAME@" and its prompts.
#include "@NAME@_modality.h"
#include "@NAME@_prompts.h"
#include "xib/plugin.h"

XIB_PLUGIN_INFO("0.1.0", "@NAME@ modality: precomputed features (.npy, .safetensors) → aligner")

XIB_PLUGIN_INIT(reg) {
  reg.add<xib::Modality>(
      "@NAME@",
      [](const xib::ModalityContext& context, const xib::ConfigSection& section) {
        return std::make_unique<xib::@NAME@::@CLASS@Modality>(context, section);
      },
      "precomputed features [T, D] from .npy/.safetensors files → aligner; cue ' @NAME@: '");
  reg.add<xib::ModalityPrompts>("@NAME@", xib::prompts_factory(xib::@NAME@::prompts()),
                                "the @NAME@ cue and instruction templates (caption, qa)");
}
)~"},
      {"tests/test_@NAME@.cpp",
       R"~(// The @NAME@ modality: its processor on the example data and on bad files, the modality with an
// aligner from a model context, and its prompts.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <ATen/ATen.h>
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "@NAME@_modality.h"
#include "@NAME@_prompts.h"
#include "xib/error.h"

namespace fs = std::filesystem;
using namespace xib;

namespace {
fs::path data() { return fs::path(XIB_@UPPER@_DIR) / "data"; }
ConfigSection section(const std::string& yaml) {
  return ConfigSource::from_string(yaml, "test.yaml", data())->section("@NAME@");
}
}  // namespace

TEST_CASE("@NAME@: the processor reads the example features as [T, D]") {
  @NAME@::FeaturesProcessor p(16, "", 4096);
  const at::Tensor t = p.load(data() / "features/0.npy", true);
  // Double parentheses: doctest does not print LibTorch's types, so the comparison is not taken apart.
  CHECK((t.sizes() == at::IntArrayRef{4, 16}));
  CHECK((t.scalar_type() == at::kFloat));
}

TEST_CASE("@NAME@: files of another width, too many tokens or no features are refused, naming the file") {
  CHECK_THROWS_AS(@NAME@::FeaturesProcessor(8, "", 4096).load(data() / "features/0.npy", false), FormatError);
  CHECK_THROWS_AS(@NAME@::FeaturesProcessor(16, "", 2).load(data() / "features/0.npy", false), FormatError);
  const fs::path bad = fs::temp_directory_path() / "xib_@NAME@_bad.npy";
  std::ofstream(bad) << "\x93NUMPY this is not an array";
  try {
    @NAME@::FeaturesProcessor(16, "", 4096).load(bad, false);
    FAIL("a bad file was read");
  } catch (const FormatError& e) {
    CHECK(e.info().where.find("xib_@NAME@_bad.npy") != std::string::npos);
  }
  fs::remove(bad);
}

TEST_CASE("@NAME@: the modality gets its aligner from the model's context") {
  @NAME@::@CLASS@Modality m({.name = "@NAME@", .llm_width = 12},
                            section("@NAME@: {width: 16, aligner: {type: linear, queries: 3, hidden: 8}}"));
  CHECK(m.name() == "@NAME@");
  CHECK(m.cue() == @NAME@::prompts().cue);
  const at::Tensor tokens = m.encoder().encode(m.processor().load(data() / "features/1.npy", false).unsqueeze(0));
  const std::vector<std::string> instructions = {"a short description"};
  CHECK((m.aligner().align(tokens, instructions).sizes() == at::IntArrayRef{1, 3, 12}));
  // Built without a language model (encoder only), it has no aligner.
  @NAME@::@CLASS@Modality encoder_only({.name = "@NAME@"}, section("@NAME@: {width: 16}"));
  CHECK_THROWS_AS(encoder_only.aligner(), ConfigError);
}

TEST_CASE("@NAME@: prompts for captioning and QA, {question} in every QA template") {
  const auto& p = @NAME@::prompts();
  REQUIRE(p.templates.count("caption") == 1);
  REQUIRE(p.templates.count("qa") == 1);
  for (const auto& t : p.templates.at("qa")) CHECK(t.find("{question}") != std::string::npos);
  for (const auto& t : p.templates.at("caption")) CHECK(t.find("{question}") == std::string::npos);
}
)~"},
      {"recipes/train.yaml",
       R"~(# Trains the @NAME@ aligner against the frozen LLM on the example features in ../data (written by
# `xib new-modality`): `xib run recipes/train.yaml` (add --plugin-dir build when the plugin was
# built outside the xib tree). Point data.train at your own features and captions to go on.
kind: train
description: the @NAME@ aligner on the example features
model:
  llm: {}   # the only language model loaded, its default model; or {path: model.gguf} (an HF folder works too)
  modalities:
    @NAME@:
      width: 16
      aligner: {type: qformer, layers: 2, hidden: 64, heads: 4, ffn: 128, queries: 4, cross_attention_freq: 1}
data:
  train:
    - {reader: caption, path: ../data/captions.json, modality: @NAME@, file_key: features}
  batch_size: 4
  seed: 1
run:
  out: ../runs/train
  steps: 40
  lr: 1.0e-3
  warmup_steps: 4
  checkpoint_every: 20
)~"},
  };
  return files;
}

}  // namespace xib::cli
