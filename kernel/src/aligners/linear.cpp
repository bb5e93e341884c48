// The linear-projection aligner (upstream projection_only): encoder LayerNorm → mean over the
// tokens → Linear(d_enc → Q·h) → [Q, h] → llm_proj. One LibTorch translation unit.
#include "xib/aligners/linear.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include <cmath>
#include <map>

#include "load_init.h"
#include "xib/io/weight_source.h"
#include "xib/weights/maps.h"
#include "xib/weights/weight_loader.h"

namespace xib::aligners {

struct LinearAligner::Impl {
  LinearOptions o;
  at::Tensor ln_w, ln_b, proj_w, proj_b, llm_w, llm_b;
  std::vector<std::pair<std::string, at::Tensor>> named;
  bool training = false;

  explicit Impl(LinearOptions options) : o(std::move(options)) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(o.seed));
    at::NoGradGuard no_grad;
    auto param = [&](const std::string& name, at::IntArrayRef shape) {
      at::Tensor t = at::empty(shape, at::kFloat);
      named.emplace_back(name, t);
      return t;
    };
    auto uniform = [&](const std::string& name, at::IntArrayRef shape, int64_t in) {  // nn.Linear's default
      const double bound = 1.0 / std::sqrt(static_cast<double>(in));
      return param(name, shape).uniform_(-bound, bound, gen);
    };
    ln_w = param("ln.weight", {o.encoder_width}).fill_(1.0);
    ln_b = param("ln.bias", {o.encoder_width}).zero_();
    proj_w = uniform("projection.weight", {o.queries * o.hidden, o.encoder_width}, o.encoder_width);
    proj_b = uniform("projection.bias", {o.queries * o.hidden}, o.encoder_width);
    llm_w = uniform("llm_proj.weight", {o.llm_width, o.hidden}, o.hidden);
    llm_b = uniform("llm_proj.bias", {o.llm_width}, o.hidden);
    for (auto& [_, t] : named) t.requires_grad_(true);
  }
};

LinearAligner::LinearAligner(LinearOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
LinearAligner::~LinearAligner() = default;

int64_t LinearAligner::num_queries() const { return impl_->o.queries; }
int64_t LinearAligner::input_width() const { return impl_->o.encoder_width; }
int64_t LinearAligner::output_width() const { return impl_->o.llm_width; }
const LinearOptions& LinearAligner::options() const { return impl_->o; }
std::vector<std::pair<std::string, at::Tensor>> LinearAligner::named_parameters() const { return impl_->named; }
void LinearAligner::set_training(bool on) { impl_->training = on; }  // no dropout: nothing changes

at::Tensor LinearAligner::align(const at::Tensor& tokens, std::span<const std::string> /*instructions*/) {
  const auto& o = impl_->o;
  if (!tokens.defined() || tokens.dim() != 3 || tokens.size(2) != o.encoder_width || tokens.size(1) == 0 ||
      !at::isFloatingType(tokens.scalar_type())) {
    throw ShapeError(
        {.what = "encoder tokens do not fit the '" + o.modality + "' linear aligner",
         .where = "LinearAligner::align",
         .expected = fmt::format("[B, T ≥ 1, {}] floating point (encoder_width {})", o.encoder_width, o.encoder_width),
         .got = tokens.defined() ? weights::shape_str(tokens.sizes().vec()) : "an undefined tensor",
         .hint = "the encoder's tokens must have the width its modality reported (Encoder::width())"});
  }
  const at::Tensor x = at::layer_norm(tokens.to(impl_->ln_w.device(), at::kFloat), {o.encoder_width}, impl_->ln_w,
                                      impl_->ln_b, o.encoder_ln_eps);
  const at::Tensor pooled = x.mean(1);                                                                    // [B, D]
  const at::Tensor q = at::linear(pooled, impl_->proj_w, impl_->proj_b).view({-1, o.queries, o.hidden});  // [B, Q, h]
  return at::linear(q, impl_->llm_w, impl_->llm_b);  // [B, Q, d_llm]
}

weights::WeightPlan LinearAligner::load(const AlignerInit& init) {
  return load_init(init, impl_->named, [&](const ResolvedInit& resolved, const auto& names, const auto& own) {
    return linear_init_map(init, resolved, impl_->o.modality, names, own);
  });
}

std::unique_ptr<LinearAligner> make_linear(const LinearOptions& options) {
  Validator v(ConfigSection{});
  options.validate(v);
  v.finish();
  auto a = std::make_unique<LinearAligner>(options);
  if (!options.init.path.empty()) a->load(options.init);
  return a;
}

}  // namespace xib::aligners

namespace xib {

// The Aligner interface's defaults (defined in a LibTorch translation unit): no own generator;
// the parameters are all the tensors there are.
Tensor Aligner::dropout_rng_state() const { return {}; }
void Aligner::set_dropout_rng_state(const Tensor& /*state*/) {}

void Aligner::to(const c10::Device& device) {
  at::NoGradGuard no_grad;
  for (const auto& [name, p] : named_parameters()) {
    if (p.device() == device) continue;
    // set_data swaps the storage under the same tensor (what torch.nn.Module.to does), so the
    // aligner's own handles and the caller's see the moved values.
    p.set_data(p.data().to(device));
    if (p.grad().defined()) p.mutable_grad() = p.grad().to(device);
  }
}

c10::Device Aligner::device() const {
  const auto params = named_parameters();
  return params.empty() ? c10::Device(c10::DeviceType::CPU) : params.front().second.device();
}

}  // namespace xib
