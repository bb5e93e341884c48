// Small readable stand-ins for the engine tests: a word-level tokenizer, a language model whose
// embedding of id i is (i, i + 0.01, …), an aligner that records its calls, and an image-like
// modality that reads numbers from a text file.
#pragma once

#include <torch/torch.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "xib/aligner.h"
#include "xib/assembly.h"
#include "xib/encoder.h"
#include "xib/error.h"
#include "xib/language_model.h"
#include "xib/modality.h"
#include "xib/tokenizer.h"

namespace xib::test {

/// Words are tokens. <pad> 0, <s> 1, </s> 2, "▁" 3 (a leading space: " image:" → ▁ image:);
/// other words get ids in the order first seen.
class WordTokenizer : public Tokenizer {
 public:
  std::string name() const override { return "word"; }
  int64_t vocab_size() const override { return 512; }
  std::vector<int64_t> encode(std::string_view text, bool add_bos) const override {
    std::vector<int64_t> ids;
    if (add_bos) ids.push_back(1);
    if (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) ids.push_back(3);
    std::istringstream in{std::string(text)};
    std::string w;
    while (in >> w) ids.push_back(id(w));
    return ids;
  }
  std::string decode(std::span<const int64_t> ids, bool) const override {
    std::string out;
    for (int64_t i : ids) out += (out.empty() ? "" : " ") + piece(i);
    return out;
  }
  std::string piece(int64_t id) const override {
    for (const auto& [w, i] : words_) {
      if (i == id) return w;
    }
    return "?" + std::to_string(id);
  }
  std::optional<int64_t> bos_id() const override { return 1; }
  std::optional<int64_t> eos_id() const override { return 2; }
  std::optional<int64_t> pad_id() const override { return 0; }

  int64_t id(const std::string& w) const {
    auto it = words_.find(w);
    if (it != words_.end()) return it->second;
    const auto i = static_cast<int64_t>(words_.size());
    words_[w] = i;
    return i;
  }
  /// Ids of whitespace-separated words (no BOS, no ▁).
  std::vector<int64_t> ids(const std::string& words) const { return encode(words, false); }

 private:
  mutable std::map<std::string, int64_t> words_ = {{"<pad>", 0}, {"<s>", 1}, {"</s>", 2}, {"▁", 3}};
};

/// embed(i) = i + 0.01·c over channels c; logits = (running sum of the embeddings) · W (W fixed,
/// seeded): causal, so earlier positions (the aligner tokens) reach the answer's logits.
class FakeLm : public LanguageModel {
 public:
  explicit FakeLm(int64_t hidden = 4) : hidden_(hidden) {
    torch::manual_seed(3);
    head_ = torch::randn({hidden_, 512});
  }
  std::string name() const override { return "fake-lm"; }
  int64_t hidden_size() const override { return hidden_; }
  int64_t vocab_size() const override { return 512; }
  int64_t context_length() const override { return 4096; }
  const Tokenizer& tokenizer() const override { return tokenizer_; }
  std::optional<int64_t> bos_id() const override { return 1; }
  std::vector<int64_t> eos_ids() const override { return {2}; }
  std::optional<int64_t> pad_id() const override { return 0; }
  std::string apply_chat_template(const std::vector<ChatMessage>&, bool) const override { throw Error("not used"); }
  Tensor embed(const Tensor& ids) override {
    return ids.to(torch::kFloat32).unsqueeze(-1) + torch::arange(hidden_, torch::kFloat32) * 0.01;
  }
  Tensor forward(const Tensor& e, const Tensor&) override { return torch::matmul(torch::cumsum(e, 1) * 0.01, head_); }
  Tensor loss(const Tensor& e, const Tensor& mask, const Tensor& labels) override {
    const at::Tensor logits = forward(e, mask);
    const int64_t t = logits.size(1);
    return torch::nn::functional::cross_entropy(logits.slice(1, 0, t - 1).reshape({-1, 512}),
                                                labels.slice(1, 1, t).reshape({-1}),
                                                torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100));
  }
  std::unique_ptr<KvCache> new_cache(int64_t, int64_t) override { throw Error("not used"); }
  Tensor decode(const Tensor&, const Tensor&, KvCache&, bool) override { throw Error("not used"); }

  WordTokenizer tokenizer_;

 private:
  int64_t hidden_;
  at::Tensor head_;
};

/// out[b, q] = mean_T(tokens[b]) · P + q; records every call's instructions and input shape.
class RecordingAligner : public Aligner {
 public:
  RecordingAligner(int64_t queries, int64_t in, int64_t out) : queries_(queries) {
    torch::manual_seed(5);
    p_ = torch::randn({in, out}).requires_grad_(true);
  }
  std::string type() const override { return "recording"; }
  int64_t num_queries() const override { return queries_; }
  int64_t input_width() const override { return p_.size(0); }
  int64_t output_width() const override { return p_.size(1); }
  bool uses_instruction() const override { return true; }
  Tensor align(const Tensor& tokens, std::span<const std::string> instructions) override {
    calls.push_back({std::vector<std::string>(instructions.begin(), instructions.end()), tokens.sizes().vec()});
    const at::Tensor base = torch::matmul(tokens.mean(1), p_).unsqueeze(1);  // [B, 1, d]
    return base + torch::arange(queries_, torch::kFloat32).view({1, queries_, 1});
  }
  std::vector<std::pair<std::string, Tensor>> named_parameters() const override { return {{"proj.weight", p_}}; }
  void set_training(bool on) override { training = on; }

  struct Call {
    std::vector<std::string> instructions;
    std::vector<int64_t> shape;
  };
  std::vector<Call> calls;
  bool training = false;

 private:
  int64_t queries_;
  at::Tensor p_;
};

/// A file of numbers → [rows, D] (D numbers per line); "garbage" in it is a FormatError.
class NumbersProcessor : public Processor {
 public:
  Tensor load(const std::filesystem::path& file, bool) override {
    std::ifstream in(file);
    if (!in) throw IoError({.what = "cannot open", .where = file.string()});
    std::vector<float> v;
    std::string w;
    while (in >> w) {
      try {
        v.push_back(std::stof(w));
      } catch (const std::exception&) {
        throw FormatError({.what = "not a number", .where = file.string(), .got = w});
      }
    }
    const auto n = static_cast<int64_t>(v.size());
    return torch::tensor(v).view({n / width, width});
  }
  int64_t width = 3;
};

class IdentityEncoder : public Encoder {
 public:
  explicit IdentityEncoder(int64_t width) : width_(width) {}
  std::string name() const override { return "identity"; }
  int64_t width() const override { return width_; }
  std::optional<int64_t> num_tokens() const override { return std::nullopt; }
  std::string weights_id() const override { return "none"; }
  Tensor encode(const Tensor& batch) override { return batch.to(torch::kFloat32); }

 private:
  int64_t width_;
};

/// Modality "image" (not a sequence): numbers files through RecordingAligner(2 queries).
class FakeImageModality : public Modality {
 public:
  explicit FakeImageModality(int64_t llm_width, std::string name = "image")
      : name_(std::move(name)), encoder_(3), aligner_(2, 3, llm_width) {}
  std::string name() const override { return name_; }
  std::string cue() const override { return " " + name_ + ": "; }
  bool is_sequence() const override { return false; }
  Processor& processor() override { return processor_; }
  Encoder& encoder() override { return encoder_; }
  Aligner& aligner() override { return aligner_; }
  RecordingAligner& recording() { return aligner_; }

 private:
  std::string name_;
  NumbersProcessor processor_;
  IdentityEncoder encoder_;
  RecordingAligner aligner_;
};

/// A row of ids as text: "[x]" at aligner positions (−1), pieces elsewhere, space-separated.
inline std::string row_text(const Tokenizer& tok, const at::Tensor& ids, int64_t row) {
  std::string out;
  for (int64_t t = 0; t < ids.size(1); ++t) {
    const int64_t id = ids[row][t].item<int64_t>();
    out += (t ? " " : "") + (id == -1 ? std::string("[x]") : tok.piece(id));
  }
  return out;
}

/// Labels of a row as text, "-" for −100.
inline std::string label_text(const Tokenizer& tok, const at::Tensor& labels, int64_t row) {
  std::string out;
  for (int64_t t = 0; t < labels.size(1); ++t) {
    const int64_t id = labels[row][t].item<int64_t>();
    out += (t ? " " : "") + (id == -100 ? std::string("-") : tok.piece(id));
  }
  return out;
}

/// The attention mask of a row as "1 1 0 …".
inline std::string mask_text(const at::Tensor& mask, int64_t row) {
  std::string out;
  for (int64_t t = 0; t < mask.size(1); ++t) out += (t ? " " : "") + std::to_string(mask[row][t].item<int64_t>());
  return out;
}

}  // namespace xib::test
