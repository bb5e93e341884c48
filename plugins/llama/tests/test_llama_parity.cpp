// The LLaMA decoder against transformers' LlamaForCausalLM (fixtures from
// tools/fixtures/make_llama_fixtures.py): logits, loss, the gradient into input embeddings,
// incremental decoding and greedy generation, on two tiny random models (bf16 shards, untied;
// f16, tied, llama3 rope) and on the real SmolLM2-135M-Instruct GGUF when the model cache has it.
#include <filesystem>
#include <vector>

#include "llama_load.h"
#include "llama_model.h"
#include "test_skip.h"
#include "test_support.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/generate.h"
#include "xib/io/weight_source.h"
#include "xib/model_cache.h"
#include "xib/tokenizer.h"
#include "xib/weights/weight_loader.h"

namespace fs = std::filesystem;
using xib::llama::LlamaModel;
using xib::llama::LlamaOptions;

namespace {

fs::path data_dir() { return xib::test::source_dir() / "plugins/llama/tests/data"; }

/// The reference tensors of one fixture file.
struct Ref {
  std::unique_ptr<xib::io::WeightSource> src;
  explicit Ref(const fs::path& file) : src(xib::io::open_weights(file)) {}
  at::Tensor operator[](const std::string& name) const {
    const auto* r = src->find(name);
    REQUIRE_MESSAGE(r != nullptr, name);
    return xib::weights::record_to_tensor(*r);
  }
};

std::unique_ptr<xib::LanguageModel> load(const std::string& path) {
  return xib::llama::load_llama(LlamaOptions{.path = path, .tokenizer = false});
}

/// Max |ours − reference| over the reference's top-k entries of the positions where mask = 1;
/// also counts positions whose argmax differs. logits [B, T, V] (or [T, V]), top [.., k].
double top_diff(const at::Tensor& logits, const at::Tensor& top_ids, const at::Tensor& top_vals, const at::Tensor& mask,
                int64_t& argmax_mismatches) {
  const at::Tensor ours = logits.gather(-1, top_ids);
  const at::Tensor real = mask.to(at::kBool).unsqueeze(-1).expand_as(ours);
  const at::Tensor diff = (ours - top_vals).abs().masked_select(real);
  const at::Tensor same = logits.argmax(-1) == top_ids.select(-1, 0);
  argmax_mismatches = same.logical_not().logical_and(mask.to(at::kBool)).sum().item<int64_t>();
  return diff.max().item<double>();
}

/// Rows of generated ids, −1 (after EOS) dropped.
std::vector<std::vector<int64_t>> rows(const at::Tensor& ids) {
  std::vector<std::vector<int64_t>> out(ids.size(0));
  for (int64_t b = 0; b < ids.size(0); ++b) {
    for (int64_t t = 0; t < ids.size(1); ++t) {
      const auto v = ids[b][t].item<int64_t>();
      if (v >= 0) out[b].push_back(v);
    }
  }
  return out;
}

void check_tiny(const std::string& name) {
  const Ref ref(data_dir() / (name + ".ref.safetensors"));
  auto lm = load((data_dir() / name).string());
  const at::Tensor ids = ref["ids"], mask = ref["mask"];

  SUBCASE("logits: top-20 per position and last-position logits within 1e-4, same argmax") {
    at::NoGradGuard no_grad;
    const at::Tensor logits = lm->forward(lm->embed(ids), mask);
    CHECK(logits.sizes() == at::IntArrayRef({3, 12, 512}));
    int64_t mismatches = -1;
    CHECK(top_diff(logits, ref["top_ids"], ref["top_vals"], mask, mismatches) <= 1e-4);
    CHECK(mismatches == 0);
    const at::Tensor last_index = (mask.cumsum(-1).argmax(-1));  // last real position of each row
    const at::Tensor last = logits.index({at::arange(3), last_index});
    CHECK((last - ref["last_logits"]).abs().max().item<double>() <= 1e-4);
  }
  SUBCASE("loss equals transformers' (labels -100 ignored) and its gradient wrt input embeddings matches") {
    const at::Tensor embeds = ref["embeds"].clone().requires_grad_(true);
    const at::Tensor loss = lm->loss(embeds, mask, ref["labels"]);
    CHECK(std::abs(loss.item<double>() - ref["loss"].item<double>()) <= 1e-5);
    loss.backward();
    const at::Tensor want = ref["embeds_grad"];
    const double err = (embeds.grad() - want).abs().max().item<double>();
    INFO("max |grad diff| ", err, ", max |grad| ", want.abs().max().item<double>());
    CHECK(at::allclose(embeds.grad(), want, /*rtol=*/1e-3, /*atol=*/1e-6));
  }
  SUBCASE("greedy from left-padded ids equals transformers' generate") {
    xib::GenerateOptions o{.max_new_tokens = 16};
    const auto got = xib::greedy_generate(*lm, lm->embed(ref["gen_prompt_ids"]), ref["gen_prompt_mask"], o);
    CHECK(got.tokens == rows(ref["gen_ids"]));
    // The same prompts unpadded: greedy_generate_ids pads them itself.
    std::vector<std::vector<int64_t>> prompts;
    const at::Tensor p = ref["gen_prompt_ids"], pm = ref["gen_prompt_mask"];
    for (int64_t b = 0; b < 3; ++b) {
      std::vector<int64_t> row;
      for (int64_t t = 0; t < p.size(1); ++t)
        if (pm[b][t].item<int64_t>()) row.push_back(p[b][t].item<int64_t>());
      prompts.push_back(row);
    }
    CHECK(xib::greedy_generate_ids(*lm, prompts, o).tokens == rows(ref["gen_ids"]));
  }
  SUBCASE("greedy from left-padded input embeddings equals transformers' generate(inputs_embeds)") {
    xib::GenerateOptions o{.max_new_tokens = 16};
    const at::Tensor e = ref["embeds"].narrow(1, 0, 8).contiguous();
    const auto got = xib::greedy_generate(*lm, e, ref["gen_embeds_mask"], o);
    CHECK(got.tokens == rows(ref["gen_embeds_ids"]));
  }
  SUBCASE("incremental decoding through the KV cache equals the full forward") {
    at::NoGradGuard no_grad;
    const at::Tensor e = lm->embed(ids);
    const at::Tensor full = lm->forward(e, mask);
    auto cache = lm->new_cache(3, 4);  // grows past its first capacity
    at::Tensor first = lm->decode(e.narrow(1, 0, 5), mask.narrow(1, 0, 5), *cache, false);
    std::vector<at::Tensor> parts = {first};
    for (int64_t t = 5; t < 12; ++t) {
      parts.push_back(lm->decode(e.narrow(1, t, 1), mask.narrow(1, 0, t + 1), *cache, true));
    }
    CHECK(cache->length() == 12);
    const at::Tensor stepwise = at::cat(parts, 1);
    const at::Tensor real = mask.to(at::kBool).unsqueeze(-1).expand_as(full);
    CHECK((stepwise - full).abs().masked_select(real).max().item<double>() <= 1e-4);
    // Reordering rows (beam search) keeps each row's cache.
    auto c2 = lm->new_cache(3, 12);
    lm->decode(e.narrow(1, 0, 11), mask.narrow(1, 0, 11), *c2, true);
    c2->select_rows(at::tensor(std::vector<int64_t>{2, 0}, at::kLong));
    const at::Tensor rows20 = at::tensor(std::vector<int64_t>{2, 0}, at::kLong);
    const at::Tensor last =
        lm->decode(e.index_select(0, rows20).narrow(1, 11, 1), mask.index_select(0, rows20), *c2, true);
    CHECK((last.select(1, 0) - full.index_select(0, rows20).select(1, 11)).abs().max().item<double>() <= 1e-4);
  }
  SUBCASE("min_new_tokens suppresses EOS, max_new_tokens and the callback stop generation") {
    xib::GenerateOptions o{.max_new_tokens = 5, .min_new_tokens = 5, .eos_ids = {7}};
    int calls = 0;
    const auto r = xib::greedy_generate_ids(*lm, {{5, 6, 7}}, o, [&](const auto& step, const auto&) {
      CHECK(step.front() != 7);
      return ++calls < 3;
    });
    CHECK(calls == 3);
    CHECK(r.tokens.front().size() == 3);
  }
}

}  // namespace

TEST_CASE("llama tiny untied bf16 shards: parity with transformers") { check_tiny("tiny-untied"); }

TEST_CASE("llama tiny tied f16 llama3-rope: parity with transformers") { check_tiny("tiny-tied"); }

TEST_CASE("llama rope: llama3 and linear scaling change the frequencies as transformers does") {
  xib::llama::LlamaConfig c;
  c.head_dim = 16;
  c.rope_theta = 5000;
  const at::Tensor base = xib::llama::rope_inv_freq(c);
  c.rope.type = "linear";
  c.rope.factor = 4;
  CHECK(at::allclose(xib::llama::rope_inv_freq(c), base / 4));
  c.rope.type = "llama3";
  c.rope.original_context = 64;
  const at::Tensor l3 = xib::llama::rope_inv_freq(c);
  CHECK(l3[0].item<float>() == base[0].item<float>());                      // high frequencies kept
  CHECK(std::abs(l3[7].item<float>() - base[7].item<float>() / 4) < 1e-9);  // low ones divided
}

TEST_CASE("llama SmolLM2-135M-Instruct Q4_1 GGUF: parity with transformers") {
  const fs::path gguf = xib::ModelCache::default_root() / "smollm2-135m-instruct" / "SmolLM2-135M-Instruct.Q4_1.gguf";
  const fs::path fixture = data_dir() / "smollm2.ref.safetensors";
  if (!fs::exists(gguf)) return xib::test::skip_missing_model(gguf, "smollm2-135m-instruct");
  REQUIRE(fs::exists(fixture));
  const Ref ref(fixture);
  auto lm = xib::llama::load_llama(LlamaOptions{.path = gguf.string()});
  CHECK(lm->hidden_size() == 576);
  CHECK(lm->context_length() == 8192);
  for (int k = 0; k < 3; ++k) {
    const std::string p = "p" + std::to_string(k) + "_";
    CAPTURE(k);
    const at::Tensor ids = ref[p + "ids"];
    {
      at::NoGradGuard no_grad;
      const at::Tensor logits = lm->forward(lm->embed(ids), at::ones_like(ids)).squeeze(0);  // [T, V]
      int64_t mismatches = -1;
      CHECK(top_diff(logits, ref[p + "top_ids"], ref[p + "top_vals"], at::ones({ids.size(1)}, at::kLong), mismatches) <=
            1e-3);
      CHECK(mismatches == 0);
      if (k == 0) CHECK((logits[-1] - ref["p0_last_logits"]).abs().max().item<double>() <= 1e-3);
    }
    const auto prompt = std::vector<int64_t>(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
    const auto got = xib::greedy_generate_ids(*lm, {prompt}, {.max_new_tokens = 20});
    CHECK(got.tokens.front() == rows(ref[p + "gen"].unsqueeze(0)).front());
  }
  // The chat template and tokenizer give transformers' prompt ids.
  const std::string chat =
      lm->apply_chat_template({{.role = "user", .content = "What is the capital of France?"}}, true);
  const auto ids0 = ref["p0_ids"];
  const auto want = std::vector<int64_t>(ids0.data_ptr<int64_t>(), ids0.data_ptr<int64_t>() + ids0.numel());
  CHECK(lm->tokenizer().encode(chat, false) == want);
}
