// Device spellings and the autocast scope (xib/device.h), and moving aligners between devices.
// Runs on any machine: the CUDA checks follow what this build and machine have.
#include "test_support.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/aligners/linear.h"
#include "xib/device.h"
#include "xib/error.h"

using namespace xib;

namespace {

/// A linear aligner of 8-wide tokens → 2 queries of width 6, on the CPU.
std::unique_ptr<aligners::LinearAligner> small_linear() {
  aligners::LinearOptions o;
  o.encoder_width = 8;
  o.queries = 2;
  o.hidden = 4;
  o.llm_width = 6;
  return aligners::make_linear(o);
}

}  // namespace

TEST_CASE("device: cpu, cuda and cuda:N are the spellings, others are refused with the list") {
  CHECK(parse_device("cpu", "r.yaml: run.device").is_cpu());
  CHECK(is_device_spelling("cpu"));
  CHECK(is_device_spelling("cuda"));
  CHECK(is_device_spelling("cuda:12"));
  for (const char* bad : {"gpu", "CUDA", "cuda:", "cuda:x", "cuda:-1", "cpu:0", "", "cuda:1234"}) {
    INFO(bad);
    CHECK_FALSE(is_device_spelling(bad));
    try {
      parse_device(bad, "r.yaml: run.device");
      FAIL("accepted");
    } catch (const ConfigError& e) {
      CHECK(e.info().where == "r.yaml: run.device");
      CHECK(e.info().expected.find("cpu, cuda or cuda:N") != std::string::npos);
      CHECK(e.info().hint.find("cpu") != std::string::npos);  // the devices there are
    }
  }
  const auto devices = available_devices();
  REQUIRE_FALSE(devices.empty());
  CHECK(devices.front() == "cpu");
}

TEST_CASE("device: a CUDA device this machine lacks is a ConfigError listing the ones it has") {
  const auto devices = available_devices();
  const std::string missing = "cuda:" + std::to_string(devices.size() - 1);  // one past the last
  try {
    parse_device(missing, "r.yaml: run.device");
    FAIL("accepted " << missing);
  } catch (const ConfigError& e) {
    CHECK(e.info().got == missing);
    CHECK(e.info().expected.find("cpu") != std::string::npos);
    if (devices.size() == 1) {
      CHECK(e.info().what == "no CUDA device is available");
      CHECK(e.info().hint.find("CUDA LibTorch") != std::string::npos);
    }
  }
  if (devices.size() > 1) CHECK(parse_device("cuda", "x").is_cuda());
}

TEST_CASE("autocast scope: bf16 matrix products inside, f32 again after, nesting restores the outer state") {
  const at::Tensor x = at::randn({4, 8}), w = at::randn({3, 8});
  CHECK_FALSE(AutocastScope::active(c10::DeviceType::CPU));
  {
    AutocastScope outer(c10::DeviceType::CPU, at::kBFloat16);
    CHECK(AutocastScope::active(c10::DeviceType::CPU));
    CHECK((at::linear(x, w).scalar_type() == at::kBFloat16));
    CHECK((at::matmul(x, w.t()).scalar_type() == at::kBFloat16));
    {
      AutocastScope off(c10::DeviceType::CPU, at::kBFloat16, /*enabled=*/false);  // changes nothing
      CHECK((at::linear(x, w).scalar_type() == at::kBFloat16));
    }
    {
      AutocastScope inner(c10::DeviceType::CPU, at::kBFloat16);
      CHECK(AutocastScope::active(c10::DeviceType::CPU));
    }
    CHECK(AutocastScope::active(c10::DeviceType::CPU));  // the inner scope restored the outer's state
  }
  CHECK_FALSE(AutocastScope::active(c10::DeviceType::CPU));
  CHECK((at::linear(x, w).scalar_type() == at::kFloat));
  CHECK_THROWS_AS(AutocastScope(c10::DeviceType::Meta, at::kBFloat16), UsageError);
  CHECK_THROWS_AS(AutocastScope(c10::DeviceType::CPU, at::kFloat), UsageError);
}

TEST_CASE("autocast scope: a bf16 forward and an f32 backward give f32 gradients close to the f32 ones") {
  at::manual_seed(3);
  const at::Tensor x = at::randn({16, 32});
  const at::Tensor w = (at::randn({8, 32}) * 0.2).requires_grad_(true);
  const at::Tensor target = at::randn({16, 8});
  auto loss_of = [&] { return (at::linear(x, w).to(at::kFloat) - target).pow(2).mean(); };
  const at::Tensor f32 = loss_of();
  f32.backward();
  const at::Tensor g32 = w.grad().clone();
  w.mutable_grad().zero_();
  at::Tensor bf16;
  {
    AutocastScope autocast(c10::DeviceType::CPU, at::kBFloat16);
    bf16 = loss_of();
  }
  bf16.backward();
  CHECK((w.scalar_type() == at::kFloat));
  CHECK((w.grad().scalar_type() == at::kFloat));
  const double rel_loss = std::abs(bf16.item<double>() - f32.item<double>()) / f32.item<double>();
  const double rel_grad = ((w.grad() - g32).norm() / g32.norm()).item<double>();
  MESSAGE("bf16 vs f32: loss rel. diff " << rel_loss << ", gradient rel. diff " << rel_grad);
  CHECK(rel_loss < 1e-2);
  CHECK(rel_grad < 3e-2);
  CHECK(rel_grad > 0);  // the forward really ran in bf16
}

TEST_CASE("aligner to(device): moving to where the parameters are keeps the very same tensors") {
  auto a = small_linear();
  CHECK(a->device().is_cpu());
  const auto before = a->named_parameters();
  a->to(c10::Device(c10::DeviceType::CPU));
  const auto after = a->named_parameters();
  REQUIRE(after.size() == before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    INFO(before[i].first);
    CHECK(after[i].second.unsafeGetTensorImpl() == before[i].second.unsafeGetTensorImpl());
    CHECK(after[i].second.requires_grad());
  }
  // Moving to a GPU swaps each tensor's storage in place (set_data, as torch.nn.Module.to does);
  // that path needs a CUDA machine and is not exercised here.
}

// ---- On a CUDA machine (skipped elsewhere: this build's LibTorch or this machine has no GPU) ----

namespace {

bool no_cuda() { return available_devices().size() < 2; }

}  // namespace

TEST_CASE("device (CUDA): an aligner moves to the GPU and back, with its values, and trains there" *
          doctest::skip(no_cuda())) {
  auto a = small_linear();
  const auto handles = a->named_parameters();
  std::vector<at::Tensor> values;
  for (const auto& [name, p] : handles) values.push_back(p.detach().clone());
  const at::Tensor tokens = at::randn({3, 5, 8});
  const at::Tensor on_cpu = a->align(tokens, {}).detach();

  const c10::Device gpu = parse_device("cuda", "test");
  a->to(gpu);
  CHECK(a->device().is_cuda());
  for (const auto& [name, p] : handles) {  // the caller's handles follow
    INFO(name);
    CHECK(p.is_cuda());
    CHECK(p.requires_grad());
    CHECK(p.is_leaf());
  }
  const at::Tensor out = a->align(tokens, {});  // CPU tokens are moved in
  CHECK(out.is_cuda());
  CHECK(at::allclose(out.cpu(), on_cpu, 1e-4, 1e-5));
  out.pow(2).mean().backward();
  for (const auto& [name, p] : handles) CHECK(p.grad().is_cuda());
  {
    AutocastScope autocast(gpu.type(), at::kBFloat16);
    CHECK((a->align(tokens, {}).scalar_type() == at::kBFloat16));
  }
  a->to(c10::Device(c10::DeviceType::CPU));
  for (size_t i = 0; i < handles.size(); ++i) {
    CHECK(handles[i].second.is_cpu());
    CHECK(at::equal(handles[i].second.detach(), values[i]));
    CHECK(handles[i].second.grad().is_cpu());
  }
}
