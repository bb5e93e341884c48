// X-InstructBLIP's prompt, labels, loss and linear aligner against upstream's own code: the
// fixture (tools/fixtures/engine/make_xinstruct_upstream_fixture.py) ran LAVIS's
// Blip2VicunaXInstruct forward() and generate() with projection_only aligners, a tiny LLaMA and
// the SentencePiece fixture tokenizer, and recorded what they hand the LLM. Here xib's model
// object, with the same LLM folder (as upstream's __init__ left it), the same aligner weights
// (loaded by their upstream names) and the same features, must build the same inputs:
// embeddings, attention mask, labels, loss and every aligner gradient, for four settings.
#include <torch/torch.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine_fakes.h"
#include "tensor_fixtures.h"
#include "test_support.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/aligners/linear.h"
#include "xib/config.h"
#include "xib/io/safetensors.h"
#include "xib/language_model.h"
#include "xib/modality.h"
#include "xib/plugin_loader.h"
#include "xib/registry.h"
#include "xib/weights/weight_loader.h"
#include "xib/xinstructblip.h"

using namespace xib;
namespace fs = std::filesystem;
using json = nlohmann::json;
using xib::test::compare;

namespace {

fs::path data_dir() { return xib::test::source_dir() / "tests/engine/data/xinstruct_upstream"; }

fs::path llama_plugin() {
  return xib::test::fixture_plugin_dir().parent_path().parent_path() / "plugins" / "xib-plugin-llama.so";
}

/// What the LLM sees of a prompt, whatever the padding layout: per row, the embeddings and labels
/// at the unmasked positions, in order. Upstream pads each text part to the batch's longest
/// (training rows are as wide as the longest instruction plus the longest answer; generation puts
/// the left padding between the aligner tokens and the instruction); xib pads whole rows. Both
/// mask the padding, and the LLM's positions count unmasked tokens only (HF's generate() derives
/// them from the mask), so the compacted rows are what must agree.
struct Compact {
  std::vector<at::Tensor> embeddings;  ///< per row [n_b, d]
  std::vector<at::Tensor> labels;      ///< per row [n_b]
  bool padding_unlabelled = true;      ///< every masked position has label −100
};

Compact compact(const at::Tensor& emb, const at::Tensor& mask, const at::Tensor& labels = {}) {
  Compact c;
  for (int64_t b = 0; b < emb.size(0); ++b) {
    const at::Tensor keep = mask[b].to(at::kBool);
    c.embeddings.push_back(emb[b].index({keep}));
    if (labels.defined()) {
      c.labels.push_back(labels[b].index({keep}));
      c.padding_unlabelled = c.padding_unlabelled && (labels[b].index({~keep}) == -100).all().item<bool>();
    }
  }
  return c;
}

void check_same_prompt(const Assembled& a, const std::map<std::string, at::Tensor>& t, const std::string& key,
                       bool with_labels) {
  const Compact got = compact(a.embeddings, a.attention_mask, with_labels ? a.labels : at::Tensor());
  const Compact want =
      compact(t.at(key + ".embeds"), t.at(key + ".mask"), with_labels ? t.at(key + ".labels") : at::Tensor());
  REQUIRE(got.embeddings.size() == want.embeddings.size());
  CHECK(a.embeddings.size(1) <= t.at(key + ".embeds").size(1));  // no more padding than upstream's
  for (size_t b = 0; b < got.embeddings.size(); ++b) {
    CAPTURE(b);
    const auto e = compare(got.embeddings[b], want.embeddings[b]);
    CHECK_MESSAGE(e.empty(), "embeddings: " << e);
    if (with_labels) CHECK(torch::equal(got.labels[b], want.labels[b]));
  }
  CHECK(got.padding_unlabelled);
  CHECK(want.padding_unlabelled);
}

/// A modality on given features: the identity encoder and a real linear aligner loaded from the
/// fixture's upstream state dict ({m}_ln, {m}_projection, {m}_llm_proj).
class FeatureModality : public Modality {
 public:
  FeatureModality(std::string name, bool sequence, int64_t width, int64_t queries, int64_t hidden, int64_t llm)
      : name_(std::move(name)), sequence_(sequence), encoder_(width) {
    aligner_ = aligners::make_linear({.modality = name_,
                                      .queries = queries,
                                      .hidden = hidden,
                                      .encoder_width = width,
                                      .llm_width = llm,
                                      .init = {.path = data_dir() / "aligners.safetensors", .format = "lavis"}});
  }
  std::string name() const override { return name_; }
  std::string cue() const override { return " " + name_ + ": "; }  // upstream's MODALITY_TO_CUE
  bool is_sequence() const override { return sequence_; }
  Processor& processor() override { return processor_; }
  Encoder& encoder() override { return encoder_; }
  Aligner& aligner() override { return *aligner_; }

 private:
  std::string name_;
  bool sequence_;
  xib::test::NumbersProcessor processor_;
  xib::test::IdentityEncoder encoder_;
  std::unique_ptr<aligners::LinearAligner> aligner_;
};

struct Upstream {
  json meta;
  std::map<std::string, at::Tensor> t;
  std::shared_ptr<LanguageModel> lm;

  Upstream() {
    std::ifstream in(data_dir() / "cases.json");
    REQUIRE_MESSAGE(in, "missing fixture " << (data_dir() / "cases.json"));
    meta = json::parse(in);
    t = xib::test::read_tensor_file(data_dir() / "cases.safetensors");
    PluginLoader::global().load_file(llama_plugin(), /*throw_if_refused=*/true);
    auto src = ConfigSource::from_string(fmt::format(R"({{path: "{}"}})", (data_dir() / "llm").string()), "llm",
                                         fs::current_path());
    lm = Registry::global().create<LanguageModel>("llama", FactoryArgs{.options = src->section()});
  }

  /// The model for one case, its modalities in `order`.
  XInstructBlip model(const json& c, const std::vector<std::string>& order, bool training_cue_quirk) const {
    std::vector<std::shared_ptr<Modality>> mods;
    const auto q = meta["queries"].get<int64_t>(), h = meta["proj_dim"].get<int64_t>();
    for (const auto& m : order) {
      const bool audio = m == "audio";
      const int64_t width = t.at(c["name"].get<std::string>() + "." + m).size(audio ? 3 : 2);
      mods.push_back(std::make_shared<FeatureModality>(m, audio, width, q, h, lm->hidden_size()));
    }
    PromptOptions p;
    p.prefix = c["prefix"];
    p.postfix = c["postfix"];
    p.clean_tokenization = c["clean_tokenization"];
    p.add_space = c["add_space"];
    p.max_input_tokens = c["max_txt_len"];
    // Upstream's limit counts the answer's BOS, which it then drops: one token fewer remains.
    p.max_answer_tokens = c["max_output_txt_len"].get<int64_t>() - 1;
    // Upstream's training forward keeps every cue's BOS (and doubles cue + tokens with a prefix
    // and clean tokenization); its generate() does not.
    p.upstream_training_cue_quirk = training_cue_quirk;
    return XInstructBlip(XInstructBlipParts{.lm = lm, .modalities = std::move(mods), .prompt = p});
  }

  std::vector<Sample> samples() const {
    std::vector<Sample> out;
    for (size_t i = 0; i < meta["instructions"].size(); ++i) {
      out.push_back({.id = "row" + std::to_string(i),
                     .instruction = meta["instructions"][i].get<std::string>(),
                     .answer = meta["answers"][i].get<std::string>()});
    }
    return out;
  }

  EncodedFeatures features(const json& c) const {
    EncodedFeatures f;
    for (const auto& m : c["modalities"])
      f.by_modality[m] = t.at(c["name"].get<std::string>() + "." + m.get<std::string>());
    for (size_t i = 0; i < meta["instructions"].size(); ++i) f.kept.push_back(i);
    return f;
  }
};

}  // namespace

TEST_CASE("upstream Blip2VicunaXInstruct: training prompt, labels, loss and linear-aligner gradients") {
  Upstream up;
  REQUIRE(up.meta["cases"].size() == 4);
  CHECK(up.lm->tokenizer().bos_id() == std::optional<int64_t>(2));  // upstream: bos = eos = unk = </s>
  for (const auto& c : up.meta["cases"]) {
    const std::string name = c["name"];
    CAPTURE(name);
    const auto order = c["train_order"].get<std::vector<std::string>>();
    XInstructBlip m = up.model(c, order, /*training_cue_quirk=*/true);
    m.set_training(true);
    const auto batch = up.samples();
    const EncodedFeatures feats = up.features(c);

    check_same_prompt(m.assemble(batch, feats, PromptMode::training, order), up.t, name + ".train", true);

    const at::Tensor loss = m.loss(batch, feats);  // the model's order is the recorded one
    CHECK(loss.item<double>() == doctest::Approx(up.t.at(name + ".train.loss").item<double>()).epsilon(1e-4));
    loss.backward();
    const auto params = m.trainable_parameters();
    CHECK(params.size() == c["gradients"].size());
    for (const auto& [pname, p] : params) {
      std::string upstream_name = pname;
      upstream_name[upstream_name.find('.')] = '_';  // image.projection.weight → image_projection.weight
      REQUIRE_MESSAGE(up.t.count(name + ".grad." + upstream_name), upstream_name);
      REQUIRE(p.grad().defined());
      const auto g = compare(p.grad(), up.t.at(name + ".grad." + upstream_name), 1e-3, 1e-6);
      CHECK_MESSAGE(g.empty(), upstream_name << ": " << g);
    }
  }
}

TEST_CASE("upstream Blip2VicunaXInstruct: generation prompt (left padding, add_space, clean cues)") {
  Upstream up;
  for (const auto& c : up.meta["cases"]) {
    const std::string name = c["name"];
    CAPTURE(name);
    const auto order = c["gen_order"].get<std::vector<std::string>>();
    XInstructBlip m = up.model(c, order, /*training_cue_quirk=*/false);
    const Assembled a = m.build_prompt(up.samples(), up.features(c));
    check_same_prompt(a, up.t, name + ".gen", false);
    // xib left-pads whole rows: every row ends at the last column.
    CHECK(a.attention_mask.select(1, a.attention_mask.size(1) - 1).all().item<bool>());
  }
}

TEST_CASE(
    "upstream Blip2VicunaXInstruct: without the training-cue switch, training prompts differ where upstream's do") {
  // The default builds training prompts as generation sees them: only the settings whose
  // training forward has the quirk (clean tokenization with a second cue or a prefix) differ.
  Upstream up;
  for (const auto& c : up.meta["cases"]) {
    const std::string name = c["name"];
    CAPTURE(name);
    const auto order = c["train_order"].get<std::vector<std::string>>();
    XInstructBlip plain = up.model(c, order, /*training_cue_quirk=*/false);
    const Assembled a = plain.assemble(up.samples(), up.features(c), PromptMode::training, order);
    const bool quirk_matters =
        c["clean_tokenization"].get<bool>() && (order.size() > 1 || !c["prefix"].get<std::string>().empty());
    const Compact got = compact(a.embeddings, a.attention_mask, a.labels);
    const Compact want =
        compact(up.t.at(name + ".train.embeds"), up.t.at(name + ".train.mask"), up.t.at(name + ".train.labels"));
    bool same = true;
    for (size_t b = 0; b < got.labels.size(); ++b) {
      same = same && got.embeddings[b].sizes() == want.embeddings[b].sizes() &&
             compare(got.embeddings[b], want.embeddings[b]).empty();
    }
    CHECK(same == !quirk_matters);
  }
}
