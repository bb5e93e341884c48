// The LLM prompt assembly (see xib/assembly.h). Rows are laid out as token ids first (−1 where
// aligner tokens go), then embedded in one lm.embed() call and the aligner tokens written into
// their columns with an out-of-place index_put, so their gradients flow back to the aligners.
#include "xib/assembly.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <optional>
#include <string_view>

#include "xib/aligner.h"
#include "xib/error.h"
#include "xib/language_model.h"
#include "xib/tokenizer.h"

namespace xib {

namespace {

constexpr int64_t kIgnore = -100;
constexpr int64_t kAlignerSlot = -1;

std::string_view lstrip(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  return s;
}

std::string_view strip(std::string_view s) {
  s = lstrip(s);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

/// One row before padding: ids (kAlignerSlot at aligner positions), labels, aligner blocks.
struct RowLayout {
  std::vector<int64_t> ids;
  std::vector<int64_t> labels;
  std::vector<std::pair<size_t, int64_t>> blocks;  // (modality index, first column)

  void text(const std::vector<int64_t>& t, bool labelled) {
    ids.insert(ids.end(), t.begin(), t.end());
    for (int64_t id : t) labels.push_back(labelled ? id : kIgnore);
  }
  void block(size_t k, int64_t n) {
    blocks.emplace_back(k, static_cast<int64_t>(ids.size()));
    ids.insert(ids.end(), n, kAlignerSlot);
    labels.insert(labels.end(), n, kIgnore);
  }
};

void check_modalities(const LanguageModel& lm, std::span<const ModalityTokens> modalities, int64_t batch) {
  for (const auto& m : modalities) {
    const std::string where = fmt::format("modality '{}'", m.name);
    if (!m.tokens.defined() || m.tokens.dim() != 3) {
      throw ShapeError({.what = "aligner output of the wrong rank for the prompt",
                        .where = where,
                        .expected = "[B, N, d_llm]",
                        .got = m.tokens.defined() ? shape_of(m.tokens) : "an undefined tensor"});
    }
    if (m.tokens.size(2) != lm.hidden_size()) {
      throw ShapeError({.what = "aligner output width differs from the language model's hidden size",
                        .where = where,
                        .expected = fmt::format("width {} (hidden size of {})", lm.hidden_size(), lm.name()),
                        .got = fmt::format("{} {}", shape_of(m.tokens), m.tokens.size(2)),
                        .hint = "set the aligner's llm_width to the language model's hidden size"});
    }
    if (m.tokens.size(0) != batch) {
      throw ShapeError({.what = "aligner outputs disagree on the batch size",
                        .where = where,
                        .expected = fmt::format("{} rows", batch),
                        .got = shape_of(m.tokens)});
    }
  }
}

}  // namespace

int64_t prompt_eos_id(const LanguageModel& lm, const Tokenizer& tokenizer) {
  if (auto e = tokenizer.eos_id()) return *e;
  const auto ids = lm.eos_ids();
  if (!ids.empty()) return ids.front();
  throw NotFoundError({.what = "no end-of-sequence id for the training answers",
                       .where = fmt::format("language model {}, tokenizer {}", lm.name(), tokenizer.name()),
                       .expected = "an EOS id in the tokenizer or the model's configuration",
                       .got = "none"});
}

int64_t prompt_pad_id(const LanguageModel& lm, const Tokenizer& tokenizer) {
  if (auto p = tokenizer.pad_id()) return *p;
  if (auto p = lm.pad_id()) return *p;
  return prompt_eos_id(lm, tokenizer);
}

Assembled assemble_prompt(LanguageModel& lm, const Tokenizer& tokenizer, const PromptOptions& options,
                          std::span<const ModalityTokens> modalities, std::span<const std::string> instructions,
                          std::span<const std::string> answers, PromptMode mode) {
  const auto batch = static_cast<int64_t>(instructions.size());
  if (!modalities.empty() && modalities.front().tokens.defined() && modalities.front().tokens.dim() >= 1 &&
      modalities.front().tokens.size(0) != batch) {
    throw UsageError({.what = "one instruction per row is needed",
                      .where = "assemble_prompt",
                      .expected = fmt::format("{} instructions", modalities.front().tokens.size(0)),
                      .got = fmt::format("{}", batch)});
  }
  check_modalities(lm, modalities, batch);
  const bool with_answer = mode != PromptMode::generation;
  if (with_answer && answers.size() != instructions.size()) {
    throw UsageError({.what = "one answer per row is needed for a training or scoring prompt",
                      .where = "assemble_prompt",
                      .expected = fmt::format("{} answers", batch),
                      .got = fmt::format("{}", answers.size())});
  }
  if (batch == 0) {
    throw UsageError({.what = "an empty batch has no prompt", .where = "assemble_prompt", .expected = "1 row or more"});
  }

  Assembled out;
  out.eos_id = prompt_eos_id(lm, tokenizer);
  out.pad_id = prompt_pad_id(lm, tokenizer);
  const std::optional<int64_t> bos = tokenizer.bos_id();
  const bool clean = options.clean_tokenization;
  const bool quirk = mode == PromptMode::training && options.upstream_training_cue_quirk;
  const bool space = mode != PromptMode::training && options.add_space;

  // The parts shared by every row.
  const std::vector<int64_t> prefix =
      options.prefix.empty() ? std::vector<int64_t>{} : tokenizer.encode(options.prefix, true);
  const std::vector<int64_t> space_ids = space ? tokenizer.encode(" ", false) : std::vector<int64_t>{};
  RowLayout head;
  head.text(prefix, false);
  for (size_t k = 0; k < modalities.size(); ++k) {
    const std::string cue_text(clean ? lstrip(modalities[k].cue) : std::string_view(modalities[k].cue));
    const std::vector<int64_t> cue = tokenizer.encode(cue_text, true);
    const bool has_bos = bos && !cue.empty() && cue.front() == *bos;
    const std::vector<int64_t> cue_no_bos(cue.begin() + (has_bos ? 1 : 0), cue.end());
    const int64_t n = modalities[k].tokens.size(1);
    if (quirk) {
      // Upstream's training forward: the cue always with its BOS, and with a prefix and clean
      // tokenization the BOS-less cue and the tokens once more before it.
      if (!prefix.empty() && clean) {
        head.text(cue_no_bos, false);
        head.block(k, n);
      }
      head.text(cue, false);
    } else {
      const bool keep_bos = !clean || (k == 0 && prefix.empty());
      head.text(keep_bos ? cue : cue_no_bos, false);
    }
    head.block(k, n);
    head.text(space_ids, false);
  }

  std::vector<RowLayout> rows(static_cast<size_t>(batch), head);
  for (int64_t b = 0; b < batch; ++b) {
    RowLayout& row = rows[static_cast<size_t>(b)];
    const std::string& instruction = instructions[static_cast<size_t>(b)];
    std::string text(mode == PromptMode::generation ? strip(instruction) : std::string_view(instruction));
    text += options.postfix;
    std::vector<int64_t> ids = tokenizer.encode(text, !clean);
    const size_t keep_first = (!clean && bos && !ids.empty() && ids.front() == *bos) ? 1 : 0;
    const auto limit = static_cast<size_t>(options.max_input_tokens);
    // Left truncation, a leading BOS kept; training prompts only: upstream's generate() and
    // predict_class() tokenize the instruction without a length limit.
    if (mode == PromptMode::training && ids.size() > limit) {
      const size_t drop = ids.size() - limit;
      ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(keep_first),
                ids.begin() + static_cast<std::ptrdiff_t>(keep_first + drop));
    }
    row.text(ids, false);
    if (with_answer) {
      std::vector<int64_t> answer = tokenizer.encode(answers[static_cast<size_t>(b)], false);
      if (mode == PromptMode::training) answer.push_back(out.eos_id);
      if (answer.size() > static_cast<size_t>(options.max_answer_tokens)) {
        answer.resize(static_cast<size_t>(options.max_answer_tokens));  // right truncation
      }
      row.text(answer, true);
    }
  }

  int64_t width = 0;
  for (const auto& r : rows) width = std::max<int64_t>(width, static_cast<int64_t>(r.ids.size()));
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  at::Tensor ids = torch::full({batch, width}, out.pad_id, i64);
  at::Tensor labels = torch::full({batch, width}, kIgnore, i64);
  at::Tensor mask = torch::zeros({batch, width}, i64);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto labels_a = labels.accessor<int64_t, 2>();
  auto mask_a = mask.accessor<int64_t, 2>();
  std::vector<std::vector<int64_t>> rows_idx(modalities.size()), cols_idx(modalities.size());
  out.spans.resize(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    const RowLayout& r = rows[static_cast<size_t>(b)];
    const int64_t len = static_cast<int64_t>(r.ids.size());
    const int64_t offset = mode == PromptMode::generation ? width - len : 0;
    for (int64_t t = 0; t < len; ++t) {
      ids_a[b][offset + t] = r.ids[static_cast<size_t>(t)];
      labels_a[b][offset + t] = r.labels[static_cast<size_t>(t)];
      mask_a[b][offset + t] = 1;
    }
    for (const auto& [k, start] : r.blocks) {
      const int64_t n = modalities[k].tokens.size(1);
      out.spans[static_cast<size_t>(b)].push_back(
          {.modality = modalities[k].name, .begin = offset + start, .end = offset + start + n});
      for (int64_t j = 0; j < n; ++j) {
        rows_idx[k].push_back(b);
        cols_idx[k].push_back(offset + start + j);
      }
    }
  }

  at::Tensor embeddings;
  {
    torch::NoGradGuard no_grad;  // the LLM is frozen
    embeddings = lm.embed(torch::where(ids == kAlignerSlot, torch::full_like(ids, out.pad_id), ids));
  }
  for (size_t k = 0; k < modalities.size(); ++k) {
    if (rows_idx[k].empty()) continue;
    // Every block of modality k holds the same [B, N] tokens, row-major: repeat them per block.
    const at::Tensor& tokens = modalities[k].tokens;
    const int64_t blocks_per_row = static_cast<int64_t>(rows_idx[k].size()) / (batch * tokens.size(1));
    at::Tensor values = tokens.to(embeddings.device(), embeddings.scalar_type());
    values = values.repeat({1, blocks_per_row, 1}).reshape({-1, tokens.size(2)});
    const at::Tensor r = torch::tensor(rows_idx[k], i64).to(embeddings.device());
    const at::Tensor c = torch::tensor(cols_idx[k], i64).to(embeddings.device());
    embeddings = embeddings.index_put({r, c}, values);
  }
  out.embeddings = embeddings;
  out.attention_mask = mask.to(embeddings.device());
  out.labels = labels.to(embeddings.device());
  out.token_ids = ids.to(embeddings.device());
  return out;
}

Tensor align_modality(Aligner& aligner, const Tensor& features, bool is_sequence,
                      std::span<const std::string> instructions, bool upstream_instruction_quirk) {
  const int64_t rank = is_sequence ? 4 : 3;
  if (!features.defined() || features.dim() != rank) {
    throw ShapeError({.what = "encoder features of the wrong rank for the aligner",
                      .where = fmt::format("aligner '{}'", aligner.type()),
                      .expected = is_sequence ? "[B, S, T, D] (a sequence of S segments)" : "[B, T, D]",
                      .got = features.defined() ? shape_of(features) : "an undefined tensor"});
  }
  if (features.size(-1) != aligner.input_width()) {
    throw ShapeError({.what = "encoder feature width differs from the aligner's input width",
                      .where = fmt::format("aligner '{}'", aligner.type()),
                      .expected = fmt::format("D = {}", aligner.input_width()),
                      .got = shape_of(features),
                      .hint = "set the aligner's encoder_width to the encoder's width"});
  }
  if (static_cast<int64_t>(instructions.size()) != features.size(0)) {
    throw UsageError({.what = "one instruction per row is needed",
                      .where = fmt::format("aligner '{}'", aligner.type()),
                      .expected = fmt::format("{} instructions", features.size(0)),
                      .got = fmt::format("{}", instructions.size())});
  }
  if (!is_sequence) return aligner.align(features, instructions);
  // Each segment passes through the aligner alone, with the rows' own instructions — or, with
  // the quirk, as upstream pairs them: instructions repeated frame-major against batch-major
  // segments, row b·S + s getting instruction (b·S + s) mod B (SPEC quirk).
  const int64_t rows = features.size(0), segments = features.size(1);
  std::vector<at::Tensor> parts;
  parts.reserve(static_cast<size_t>(segments));
  std::vector<std::string> mixed(instructions.begin(), instructions.end());
  for (int64_t s = 0; s < segments; ++s) {
    if (upstream_instruction_quirk) {
      for (int64_t b = 0; b < rows; ++b)
        mixed[static_cast<size_t>(b)] = instructions[static_cast<size_t>((b * segments + s) % rows)];
    }
    parts.push_back(aligner.align(features.select(1, s).contiguous(), mixed));
  }
  return torch::cat(parts, 1);
}

}  // namespace xib
