// The Q-Former aligner's tensors and math, in plain ATen ops (no torch::nn): encoder LayerNorm →
// BERT Q-Former over [queries; instruction] → llm_proj. One LibTorch translation unit.
#include "xib/aligners/qformer.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "load_init.h"
#include "xib/io/weight_source.h"
#include "xib/model_cache.h"
#include "xib/text/wordpiece.h"
#include "xib/weights/maps.h"
#include "xib/weights/weight_loader.h"

namespace xib::aligners {

namespace {

constexpr int64_t kPadId = 0;  // BERT's [PAD]: its embedding row takes no gradient (padding_idx)

struct Lin {
  at::Tensor w, b;
  at::Tensor operator()(const at::Tensor& x) const { return at::linear(x, w, b); }
};
struct Norm {
  at::Tensor w, b;
};
struct Attn {
  Lin q, k, v, out;
  Norm norm;
};
struct Ffn {
  Lin up, down;
  Norm norm;
};
struct Layer {
  Attn self;
  bool has_cross = false;
  Attn cross;
  Ffn ffn, query_ffn;
};

}  // namespace

struct QFormerAligner::Impl {
  QFormerOptions o;
  Norm ln;
  at::Tensor query_tokens, word, position;
  Norm emb_norm;
  std::vector<Layer> layers;
  Lin llm_proj;
  std::vector<std::pair<std::string, at::Tensor>> named;
  bool training = false;
  at::Generator init_gen, drop_gen;
  std::shared_ptr<const text::WordPieceTokenizer> tokenizer;

  at::Tensor param(const std::string& name, at::IntArrayRef shape) {
    at::Tensor t = at::empty(shape, at::kFloat);
    named.emplace_back(name, t);
    return t;
  }
  at::Tensor normal(const std::string& name, at::IntArrayRef shape) {
    return param(name, shape).normal_(0.0, 0.02, init_gen);  // BERT's initializer_range
  }
  Lin bert_linear(const std::string& name, int64_t out, int64_t in) {
    Lin l{normal(name + ".weight", {out, in}), param(name + ".bias", {out}).zero_()};
    return l;
  }
  Lin torch_linear(const std::string& name, int64_t out, int64_t in) {  // nn.Linear's default
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    Lin l{param(name + ".weight", {out, in}).uniform_(-bound, bound, init_gen),
          param(name + ".bias", {out}).uniform_(-bound, bound, init_gen)};
    return l;
  }
  Norm norm(const std::string& name, int64_t width) {
    Norm n{param(name + ".weight", {width}).fill_(1.0), param(name + ".bias", {width}).zero_()};
    return n;
  }
  Attn attn(const std::string& name, int64_t kv_width) {
    const int64_t h = o.hidden;
    Attn a;
    a.q = bert_linear(name + ".q", h, h);
    a.k = bert_linear(name + ".k", h, kv_width);
    a.v = bert_linear(name + ".v", h, kv_width);
    a.out = bert_linear(name + ".out", h, h);
    a.norm = norm(name + ".norm", h);
    return a;
  }
  Ffn ffn(const std::string& name) {
    Ffn f;
    f.up = bert_linear(name + ".up", o.ffn, o.hidden);
    f.down = bert_linear(name + ".down", o.hidden, o.ffn);
    f.norm = norm(name + ".norm", o.hidden);
    return f;
  }

  explicit Impl(QFormerOptions options) : o(std::move(options)) {
    init_gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(o.seed));
    drop_gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(o.seed) + 1);
    at::NoGradGuard no_grad;
    // The order of weights::maps::qformer_params().
    ln = norm("ln", o.encoder_width);
    query_tokens = normal("query_tokens", {1, o.queries, o.hidden});
    word = normal("qformer.embeddings.word.weight", {o.vocab, o.hidden});
    word[kPadId].zero_();  // nn.Embedding(padding_idx=0) starts the [PAD] row at zero
    position = normal("qformer.embeddings.position.weight", {o.max_positions, o.hidden});
    emb_norm = norm("qformer.embeddings.norm", o.hidden);
    for (int64_t i = 0; i < o.layers; ++i) {
      const std::string l = "qformer.layer." + std::to_string(i) + ".";
      Layer layer;
      layer.self = attn(l + "self_attn", o.hidden);
      layer.has_cross = i % o.cross_attention_freq == 0;
      if (layer.has_cross) layer.cross = attn(l + "cross_attn", o.encoder_width);
      layer.ffn = ffn(l + "ffn");
      layer.query_ffn = ffn(l + "query_ffn");
      layers.push_back(std::move(layer));
    }
    llm_proj = torch_linear("llm_proj", o.llm_width, o.hidden);
    for (auto& [_, t] : named) t.requires_grad_(true);
  }

  at::Tensor dropout(const at::Tensor& x, double p) {
    if (!training || p <= 0.0) return x;
    // Our own generator (not the global one) so that a seed reproduces the masks. It is a CPU
    // generator: on another device the mask is drawn on the CPU and moved, the same masks either way.
    const auto cpu = at::TensorOptions().dtype(at::kFloat).device(at::kCPU);
    at::Tensor keep = at::empty(x.sizes(), cpu).bernoulli_(1.0 - p, drop_gen);
    return x * keep.to(x.device()).mul_(1.0 / (1.0 - p));
  }

  at::Tensor layer_norm(const at::Tensor& x, const Norm& n, double eps) const {
    return at::layer_norm(x, {x.size(-1)}, n.w, n.b, eps);
  }

  /** x [B, Lq, H], kv [B, Lk, kv_width], mask additive [B, 1, 1, Lk] or undefined → [B, Lq, H] */
  at::Tensor attention(const Attn& a, const at::Tensor& x, const at::Tensor& kv, const at::Tensor& mask) {
    const int64_t b = x.size(0), lq = x.size(1), lk = kv.size(1), nh = o.heads, dh = o.hidden / o.heads;
    const double scale = 1.0 / std::sqrt(static_cast<double>(dh));
    const at::Tensor q = a.q(x).view({b, lq, nh, dh}).transpose(1, 2);
    const at::Tensor k = a.k(kv).view({b, lk, nh, dh}).transpose(1, 2);
    const at::Tensor v = a.v(kv).view({b, lk, nh, dh}).transpose(1, 2);
    // LibTorch 1.13 has no fused attention: scores, softmax, dropout, weighted sum.
    at::Tensor scores = at::matmul(q, k.transpose(-1, -2)).mul_(scale);
    if (mask.defined()) scores.add_(mask);
    at::Tensor ctx = at::matmul(dropout(at::softmax(scores, -1), o.attention_dropout), v);
    ctx = ctx.transpose(1, 2).reshape({b, lq, o.hidden});
    return layer_norm(dropout(a.out(ctx), o.dropout) + x, a.norm, o.norm_eps);
  }

  /** x [B, L, H] → [B, L, H] */
  at::Tensor feed_forward(const Ffn& f, const at::Tensor& x) {
    const at::Tensor up = at::gelu(f.up(x), "none");  // exact erf GELU
    return layer_norm(dropout(f.down(up), o.dropout) + x, f.norm, o.norm_eps);
  }

  /** normed [B, T, D], ids [B, L], mask [B, L] → [B, Q, H] */
  at::Tensor qformer(const at::Tensor& normed, const at::Tensor& ids, const at::Tensor& mask) {
    const int64_t b = normed.size(0), nq = o.queries, len = ids.defined() ? ids.size(1) : 0;
    at::Tensor h = query_tokens.expand({b, nq, o.hidden});
    at::Tensor additive;
    if (len > 0) {
      const at::Tensor text = at::embedding(word, ids, kPadId) + position.narrow(0, 0, len);
      h = at::cat({h, text}, 1);
      if (!mask.all().item<bool>()) {
        const at::Tensor full = at::cat({at::ones({b, nq}, mask.options()), mask}, 1).to(at::kFloat);
        additive = (1.0 - full).mul_(std::numeric_limits<float>::lowest()).view({b, 1, 1, nq + len});
      }
    }
    h = dropout(layer_norm(h, emb_norm, o.norm_eps), o.dropout);
    for (size_t i = 0; i < layers.size(); ++i) {
      const Layer& layer = layers[i];
      const at::Tensor a = attention(layer.self, h, h, additive);
      at::Tensor hq = len > 0 ? a.narrow(1, 0, nq) : a;
      if (layer.has_cross) hq = attention(layer.cross, hq, normed, {});
      hq = feed_forward(layer.query_ffn, hq);
      // The text positions only feed later layers: the last layer's text FFN cannot reach the output.
      const bool last = i + 1 == layers.size();
      h = len > 0 && !last ? at::cat({hq, feed_forward(layer.ffn, a.narrow(1, nq, len))}, 1) : hq;
    }
    return h;
  }

  void check_tokens(const at::Tensor& tokens) const {
    if (!tokens.defined() || tokens.dim() != 3 || tokens.size(2) != o.encoder_width ||
        !at::isFloatingType(tokens.scalar_type())) {
      throw ShapeError(
          {.what = "encoder tokens do not fit the '" + o.modality + "' Q-Former aligner",
           .where = "QFormerAligner::align",
           .expected = fmt::format("[B, T, {}] floating point (encoder_width {})", o.encoder_width, o.encoder_width),
           .got = tokens.defined() ? shape_of(tokens) + " " + std::string(at::toString(tokens.scalar_type()))
                                   : "an undefined tensor",
           .hint = tokens.defined() && tokens.dim() == 3
                       ? "the encoder's tokens must have the width its modality reported (Encoder::width())"
                       : "batch the tokens as [B, T, D]"});
    }
  }

  at::Tensor align_ids(const at::Tensor& tokens, at::Tensor ids, at::Tensor mask) {
    check_tokens(tokens);
    const int64_t b = tokens.size(0);
    if (!ids.defined() || ids.dim() != 2 || ids.size(0) != b || !mask.defined() || mask.sizes() != ids.sizes()) {
      throw ShapeError({.what = "instruction ids and mask do not fit the batch",
                        .where = "QFormerAligner::align_ids",
                        .expected = fmt::format("ids and mask both [{}, L]", b),
                        .got = (ids.defined() ? shape_of(ids) : "undefined") + " and " +
                               (mask.defined() ? shape_of(mask) : "undefined")});
    }
    if (ids.size(1) > o.max_positions) {
      throw ShapeError({.what = "instruction longer than the position table",
                        .where = "QFormerAligner::align_ids",
                        .expected = fmt::format("at most {} tokens (max_positions)", o.max_positions),
                        .got = std::to_string(ids.size(1)),
                        .hint = "truncate the instruction (align() keeps the last max_text_tokens)"});
    }
    ids = ids.to(at::kLong);
    if (ids.numel() > 0) {
      const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
      if (lo < 0 || hi >= o.vocab) {
        throw ShapeError({.what = "instruction token id outside the vocabulary",
                          .where = "QFormerAligner::align_ids",
                          .expected = fmt::format("ids in [0, {})", o.vocab),
                          .got = fmt::format("ids in [{}, {}]", lo, hi),
                          .hint = "the tokenizer and aligner.vocab must agree (30522 + [DEC] = 30523)"});
      }
    }
    const auto dev = ln.w.device();
    const at::Tensor x = at::layer_norm(tokens.to(dev, at::kFloat), {o.encoder_width}, ln.w, ln.b, o.encoder_ln_eps);
    return llm_proj(qformer(x, ids.to(dev), mask.to(dev).to(at::kLong)));
  }

  std::shared_ptr<const text::WordPieceTokenizer> get_tokenizer() {
    if (tokenizer) return tokenizer;
    const std::filesystem::path file =
        o.vocab_file ? *o.vocab_file : ModelCache::default_root() / "all-minilm-l6-v2" / "vocab.txt";
    if (!std::filesystem::exists(file)) {
      throw NotFoundError({.what = "the WordPiece vocabulary for the Q-Former's instructions is missing",
                           .where = file.string(),
                           .expected = "bert-base-uncased vocab.txt (30522 pieces; [DEC] is added)",
                           .hint = "set aligner.vocab_file, or run scripts/fetch-models.sh (all-minilm-l6-v2)"});
    }
    auto t = std::make_shared<const text::WordPieceTokenizer>(text::WordPieceTokenizer::from_vocab_file(file));
    if (t->vocab_size() > o.vocab) {
      throw ConfigError({.what = "the tokenizer has more ids than the Q-Former's word embedding",
                         .where = file.string(),
                         .expected = fmt::format("at most aligner.vocab = {} pieces", o.vocab),
                         .got = std::to_string(t->vocab_size()),
                         .hint = "set aligner.vocab to the tokenizer's size (30523 with [DEC])"});
    }
    tokenizer = std::move(t);
    return tokenizer;
  }
};

QFormerAligner::QFormerAligner(QFormerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
QFormerAligner::~QFormerAligner() = default;

int64_t QFormerAligner::num_queries() const { return impl_->o.queries; }
int64_t QFormerAligner::input_width() const { return impl_->o.encoder_width; }
int64_t QFormerAligner::output_width() const { return impl_->o.llm_width; }
const QFormerOptions& QFormerAligner::options() const { return impl_->o; }

at::Tensor QFormerAligner::align(const at::Tensor& tokens, std::span<const std::string> instructions) {
  impl_->check_tokens(tokens);
  const auto b = tokens.size(0);
  if (static_cast<int64_t>(instructions.size()) != b) {
    throw ShapeError({.what = "one instruction per sample is needed",
                      .where = "QFormerAligner::align",
                      .expected = fmt::format("{} instructions (tokens are {})", b, shape_of(tokens)),
                      .got = std::to_string(instructions.size()),
                      .hint = "an empty string is a valid instruction: it becomes [CLS] [SEP]"});
  }
  const auto batch = impl_->get_tokenizer()->encode_batch(
      instructions, {.max_length = impl_->o.max_text_tokens, .truncation = text::TruncationSide::left});
  const at::Tensor ids = at::tensor(batch.ids, at::kLong).view({batch.batch, batch.length});
  const at::Tensor mask = at::tensor(batch.attention_mask, at::kLong).view({batch.batch, batch.length});
  return impl_->align_ids(tokens, ids, mask);
}

at::Tensor QFormerAligner::align_ids(const at::Tensor& tokens, const at::Tensor& ids, const at::Tensor& mask) {
  return impl_->align_ids(tokens, ids, mask);
}

at::Tensor QFormerAligner::qformer(const at::Tensor& normed_tokens, const at::Tensor& ids, const at::Tensor& mask) {
  return impl_->qformer(normed_tokens, ids, mask);
}

std::vector<std::pair<std::string, at::Tensor>> QFormerAligner::named_parameters() const { return impl_->named; }
void QFormerAligner::set_training(bool on) { impl_->training = on; }
bool QFormerAligner::training() const { return impl_->training; }
void QFormerAligner::seed_dropout(uint64_t seed) { impl_->drop_gen.set_current_seed(seed); }

Tensor QFormerAligner::dropout_rng_state() const { return impl_->drop_gen.get_state(); }

void QFormerAligner::set_dropout_rng_state(const Tensor& state) {
  if (!state.defined() || state.scalar_type() != at::kByte || state.dim() != 1 ||
      state.numel() != impl_->drop_gen.get_state().numel()) {
    throw FormatError({.what = "not a dropout generator state of this Q-Former",
                       .expected = fmt::format("[{}] uint8", impl_->drop_gen.get_state().numel()),
                       .got = state.defined() ? fmt::format("{} values", state.numel()) : "nothing",
                       .hint = "the checkpoint was written by another build or aligner type"});
  }
  impl_->drop_gen.set_state(state);
}
void QFormerAligner::set_tokenizer(std::shared_ptr<const text::WordPieceTokenizer> t) {
  impl_->tokenizer = std::move(t);
}
std::shared_ptr<const text::WordPieceTokenizer> QFormerAligner::tokenizer() { return impl_->get_tokenizer(); }

weights::WeightPlan QFormerAligner::load(const AlignerInit& init) {
  const auto& o = impl_->o;
  const weights::maps::QFormerShape shape = o.shape();
  return load_init(init, impl_->named, [&](const ResolvedInit& resolved, const auto& names, const auto& own) {
    return qformer_init_map(init, resolved, o.modality, shape, names, own);
  });
}

std::unique_ptr<QFormerAligner> make_qformer(const QFormerOptions& options) {
  Validator v(ConfigSection{});
  options.validate(v);
  v.finish();
  auto a = std::make_unique<QFormerAligner>(options);
  if (!options.init.path.empty()) a->load(options.init);
  return a;
}

}  // namespace xib::aligners
