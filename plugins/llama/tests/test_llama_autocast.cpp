// The LLaMA decoder under bf16 autocast (what `run.precision: bf16` trains with), on the CPU:
// the tiny untied fixture model of test_llama_parity.cpp, its left- and right-padded batch.
#include <filesystem>

#include "llama_load.h"
#include "llama_model.h"
#include "test_support.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/device.h"
#include "xib/generate.h"
#include "xib/io/weight_source.h"
#include "xib/weights/weight_loader.h"

namespace fs = std::filesystem;

namespace {

fs::path data_dir() { return xib::test::source_dir() / "plugins/llama/tests/data"; }

at::Tensor ref(const xib::io::WeightSource& src, const std::string& name) {
  const auto* r = src.find(name);
  REQUIRE_MESSAGE(r != nullptr, name);
  return xib::weights::record_to_tensor(*r);
}

double rel_diff(const at::Tensor& a, const at::Tensor& b) {
  return ((a.to(at::kFloat) - b).norm() / b.norm()).item<double>();
}

}  // namespace

TEST_CASE("llama bf16 autocast: padded batches stay finite and near f32, and so do the loss and its gradient") {
  const auto src = xib::io::open_weights(data_dir() / "tiny-untied.ref.safetensors");
  auto lm = xib::llama::load_llama({.path = (data_dir() / "tiny-untied").string(), .tokenizer = false});
  const at::Tensor ids = ref(*src, "ids"), mask = ref(*src, "mask");  // row 1 left-padded, row 2 right-padded
  const at::Tensor real = mask.to(at::kBool).unsqueeze(-1);

  SUBCASE("logits") {
    at::NoGradGuard no_grad;
    const at::Tensor f32 = lm->forward(lm->embed(ids), mask);
    at::Tensor bf16;
    {
      xib::AutocastScope autocast(c10::DeviceType::CPU, at::kBFloat16);
      bf16 = lm->forward(lm->embed(ids), mask);
    }
    // The attention mask's fill value (float's lowest) does not fit bf16, and a left-padded
    // row's first positions see no key at all: the scores are masked in f32, and stay finite.
    CHECK(at::isfinite(bf16).all().item<bool>());
    const at::Tensor ours = bf16.to(at::kFloat).masked_select(real.expand_as(f32));
    const at::Tensor want = f32.masked_select(real.expand_as(f32));
    const double rel = rel_diff(ours, want);
    const double agree =
        (bf16.argmax(-1) == f32.argmax(-1)).masked_select(mask.to(at::kBool)).to(at::kFloat).mean().item<double>();
    MESSAGE("bf16 vs f32 logits: relative difference " << rel << ", argmax agreement " << agree);
    CHECK(rel > 0);     // the products really ran in bf16
    CHECK(rel < 5e-2);  // measured 0.022
    CHECK(agree >= 0.9);
  }
  SUBCASE("loss and the gradient into the input embeddings") {
    const at::Tensor labels = ref(*src, "labels");
    const at::Tensor e32 = ref(*src, "embeds").clone().requires_grad_(true);
    const at::Tensor l32 = lm->loss(e32, mask, labels);
    l32.backward();
    const at::Tensor e16 = ref(*src, "embeds").clone().requires_grad_(true);
    at::Tensor l16;
    {
      xib::AutocastScope autocast(c10::DeviceType::CPU, at::kBFloat16);
      l16 = lm->loss(e16, mask, labels);
    }
    l16.backward();
    CHECK((l16.scalar_type() == at::kFloat));  // the cross-entropy runs in f32
    CHECK((e16.grad().scalar_type() == at::kFloat));
    const double rel_loss = std::abs(l16.item<double>() - l32.item<double>()) / l32.item<double>();
    const double rel_grad = rel_diff(e16.grad(), e32.grad());
    const double cosine =
        (e16.grad() * e32.grad()).sum().item<double>() / (e16.grad().norm() * e32.grad().norm()).item<double>();
    MESSAGE("bf16 vs f32: loss relative difference " << rel_loss << ", gradient " << rel_grad << " (cosine " << cosine
                                                     << ")");
    // bf16 keeps 8 bits of mantissa; the backward's products run in bf16 too, so the gradient
    // differs by ~10 % at every position (measured), while pointing the same way.
    CHECK(rel_loss < 1e-2);
    CHECK(rel_grad < 0.2);
    CHECK(cosine > 0.99);
    CHECK(at::isfinite(e16.grad()).all().item<bool>());
  }
}

TEST_CASE("llama to(device): the model starts on the CPU, and staying there keeps the fused decode step") {
  auto lm = xib::llama::load_llama({.path = (data_dir() / "tiny-untied").string(), .tokenizer = false});
  CHECK(lm->device().is_cpu());
  const auto* llama = dynamic_cast<xib::llama::LlamaModel*>(lm.get());
  REQUIRE(llama != nullptr);
  const std::string before = llama->decode_summary();
  lm->to(c10::Device(c10::DeviceType::CPU));
  CHECK(lm->device().is_cpu());
  CHECK(llama->decode_summary() == before);
  CHECK(lm->new_cache(2, 4)->batch_size() == 2);
}

TEST_CASE("llama to(device) (CUDA): logits, loss and greedy tokens on the GPU equal the CPU's" *
          doctest::skip(xib::available_devices().size() < 2)) {
  const auto src = xib::io::open_weights(data_dir() / "tiny-untied.ref.safetensors");
  auto lm = xib::llama::load_llama({.path = (data_dir() / "tiny-untied").string(), .tokenizer = false});
  const at::Tensor ids = ref(*src, "ids"), mask = ref(*src, "mask");
  at::Tensor cpu_logits;
  {
    at::NoGradGuard no_grad;
    cpu_logits = lm->forward(lm->embed(ids), mask);
  }
  const auto cpu_tokens = xib::greedy_generate_ids(*lm, {{5, 6, 7}}, {.max_new_tokens = 8}).tokens;

  lm->to(xib::parse_device("cuda", "test"));
  CHECK(lm->device().is_cuda());
  {
    at::NoGradGuard no_grad;
    const at::Tensor logits = lm->forward(lm->embed(ids), mask);  // CPU ids and mask are moved in
    CHECK(logits.is_cuda());
    const at::Tensor real = mask.to(at::kBool).unsqueeze(-1).expand_as(cpu_logits);
    CHECK((logits.cpu() - cpu_logits).abs().masked_select(real).max().item<double>() <= 1e-3);
  }
  CHECK(xib::greedy_generate_ids(*lm, {{5, 6, 7}}, {.max_new_tokens = 8}).tokens == cpu_tokens);
  const at::Tensor e = ref(*src, "embeds").cuda().requires_grad_(true);
  at::Tensor loss;
  {
    xib::AutocastScope autocast(c10::DeviceType::CUDA, at::kBFloat16);
    loss = lm->loss(e, mask, ref(*src, "labels"));
  }
  loss.backward();
  CHECK(std::abs(loss.item<double>() - ref(*src, "loss").item<double>()) < 1e-2 * ref(*src, "loss").item<double>());
  CHECK(at::isfinite(e.grad()).all().item<bool>());
}
