// generate_answers(): encode → prompt → generate → text; answer_text(); ask() (`xib ask`).
#include "xib/eval/answers.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "xib/eval/eval_recipe.h"
#include "xib/language_model.h"
#include "xib/prompts.h"
#include "xib/text/utf8.h"
#include "xib/tokenizer.h"
#include "xib/trained_run.h"
#include "xib/xinstructblip.h"

namespace xib::eval {

namespace {

/// Upstream maps id 0 to EOS and decodes with skip_special_tokens: both vanish from the text.
std::vector<int64_t> answer_ids(std::span<const int64_t> ids, std::span<const int64_t> eos_ids) {
  std::vector<int64_t> kept;
  kept.reserve(ids.size());
  for (const int64_t id : ids) {
    if (id == 0 || id < 0 || std::find(eos_ids.begin(), eos_ids.end(), id) != eos_ids.end()) continue;
    kept.push_back(id);
  }
  return kept;
}

/// Bytes that are not UTF-8 (a byte-level BPE model may end on half a character) become U+FFFD,
/// as Python's decode(errors="replace") makes them; then the text is stripped.
std::string clean_text(std::string text) {
  if (!text::is_valid_utf8(text)) text = text::encode_utf8(text::decode_utf8(text));
  const auto is_space = [](unsigned char c) { return std::isspace(c) != 0; };
  const auto begin = std::find_if_not(text.begin(), text.end(), is_space);
  const auto end = std::find_if_not(text.rbegin(), text.rend(), is_space).base();
  return begin < end ? std::string(begin, end) : std::string();
}

}  // namespace

std::string answer_text(const Tokenizer& tokenizer, std::span<const int64_t> ids, std::span<const int64_t> eos_ids) {
  return clean_text(tokenizer.decode(answer_ids(ids, eos_ids), /*skip_special=*/true));
}

Answers generate_answers(XInstructBlip& model, std::span<const Sample> samples, const GenerateOptions& options,
                         const TokenCallback& on_token, std::span<const Sample> feature_samples,
                         std::span<const std::string> order) {
  if (!feature_samples.empty() && feature_samples.size() != samples.size()) {
    throw UsageError({.what = "feature samples do not pair with the samples",
                      .where = "eval::generate_answers",
                      .expected = fmt::format("{} feature samples", samples.size()),
                      .got = fmt::format("{}", feature_samples.size())});
  }
  Answers out;
  const EncodedFeatures features =
      model.encode(feature_samples.empty() ? samples : feature_samples, /*training=*/false);
  out.kept = features.kept;
  for (size_t i = 0, k = 0; i < samples.size(); ++i) {  // by position: with feature_samples, the samples'
    if (k < out.kept.size() && out.kept[k] == i) {
      ++k;
    } else {
      out.skipped_ids.push_back(samples[i].id);
    }
  }
  if (features.kept.empty()) return out;
  at::NoGradGuard no_grad;
  const Assembled prompt = model.build_prompt(samples, features, order);
  out.result = generate(model.lm(), prompt.embeddings, prompt.attention_mask, options, on_token);
  const std::vector<int64_t> eos = options.eos_ids.empty() ? model.lm().eos_ids() : options.eos_ids;
  out.texts.reserve(out.result.tokens.size());
  for (const auto& ids : out.result.tokens) out.texts.push_back(answer_text(model.tokenizer(), ids, eos));
  return out;
}

AskResult ask(const AskOptions& o, const std::function<void(std::string_view)>& on_text) {
  if (o.inputs.empty()) {
    throw UsageError({.what = "no input file to ask about",
                      .where = "xib ask",
                      .expected = "at least one MODALITY=FILE",
                      .hint = "xib ask --run RUN_DIR --input MODALITY=FILE \"question\""});
  }
  std::error_code ec;
  for (const auto& in : o.inputs) {
    if (!std::filesystem::is_regular_file(in.file, ec)) {
      throw NotFoundError({.what = "no file to ask about",
                           .where = in.file.string(),
                           .expected = "a readable file",
                           .got = std::filesystem::exists(in.file, ec) ? "not a regular file" : "no such file"});
    }
  }
  // A question gets SPEC's QA settings; without one the input is described (captioning).
  const std::string task = o.question.empty() ? "caption" : "qa";
  GenerateOptions g = spec_generate_options(task);
  g.num_beams = o.beams;
  if (o.max_new_tokens) g.max_new_tokens = *o.max_new_tokens;
  if (o.min_new_tokens) g.min_new_tokens = *o.min_new_tokens;
  if (o.repetition_penalty) g.repetition_penalty = *o.repetition_penalty;
  if (g.num_beams < 1 || g.max_new_tokens < 1 || g.min_new_tokens < 0 || g.min_new_tokens > g.max_new_tokens ||
      !(g.repetition_penalty > 0)) {
    throw UsageError({.what = "bad generation settings",
                      .where = "xib ask",
                      .expected = "beams >= 1, 0 <= min new tokens <= max new tokens (>= 1), repetition penalty > 0",
                      .got = fmt::format("beams {}, min {} / max {} new tokens, repetition penalty {}", g.num_beams,
                                         g.min_new_tokens, g.max_new_tokens, g.repetition_penalty)});
  }

  TrainedRun run = load_trained_run(o.run, o.step);
  XInstructBlip& model = run.model;
  AskResult out{.inputs = o.inputs, .checkpoint = run.checkpoint, .step = run.step, .options = g};
  Sample sample{.id = o.inputs.front().file.filename().string(),
                .task = task,
                .instruction = o.question.empty() ? std::string(kCaptionEvalInstruction) : o.question};
  std::vector<std::string> order;
  for (auto& in : out.inputs) {
    if (in.modality.empty()) {
      const auto names = model.modality_names();
      if (names.size() != 1) {
        throw UsageError({.what = fmt::format("which modality is {}? the run has several", in.file.string()),
                          .where = o.run.string(),
                          .expected = "MODALITY=FILE with a modality, one of: " + join_names(names),
                          .hint = "xib ask --input MODALITY=FILE"});
      }
      in.modality = names.front();
    }
    (void)model.modality(in.modality);  // NotFoundError listing the run's modalities
    if (sample.inputs.count(in.modality)) {
      throw UsageError(
          {.what = fmt::format("modality '{}' given twice", in.modality),
           .where = "xib ask",
           .expected = "one file per modality",
           .got = fmt::format("{} and {}", sample.inputs.at(in.modality).front().string(), in.file.string())});
    }
    sample.inputs[in.modality] = {in.file};
    order.push_back(in.modality);
  }

  // Greedy decoding streams: after each token, the answer text of the ids so far up to its last
  // complete character (as answer_text() makes it) minus what was already handed on. Each piece
  // handed on is a prefix of the final answer: an incomplete last character is held back, and
  // stripping holds back trailing spaces, which a later token then brings.
  const Tokenizer& tok = model.tokenizer();
  const std::vector<int64_t> eos = g.eos_ids.empty() ? model.lm().eos_ids() : g.eos_ids;
  std::vector<int64_t> ids;
  std::string sent;
  const auto on_token = [&](const std::vector<int64_t>& step, const std::vector<bool>&) {
    if (!on_text || g.num_beams != 1 || step.front() < 0) return true;
    ids.push_back(step.front());
    Utf8Stream whole;
    const std::string text = clean_text(whole.push(tok.decode(answer_ids(ids, eos), /*skip_special=*/true)));
    if (text.size() > sent.size() && text.compare(0, sent.size(), sent) == 0) {
      on_text(std::string_view(text).substr(sent.size()));
      sent = text;
    }
    return true;
  };
  // A file that fails to decode is named with the modality that tried to read it.
  const auto undecodable = [&](ErrorInfo info) {
    for (const auto& in : out.inputs) {
      if (info.where != in.file.string()) continue;
      info.what = fmt::format("cannot decode {} as input of the {} modality", in.file.string(), in.modality);
      info.hint = fmt::format("give a file the {} modality reads", in.modality);
    }
    return info;
  };
  const auto is_input = [&](const std::string& where) {
    for (const auto& in : out.inputs) {
      if (where == in.file.string()) return true;
    }
    return false;
  };
  Answers a;
  try {
    a = generate_answers(model, std::span<const Sample>(&sample, 1), g, on_token, {}, order);
  } catch (const IoError& e) {
    if (!is_input(e.info().where)) throw;
    throw IoError(undecodable(e.info()));
  } catch (const FormatError& e) {
    if (!is_input(e.info().where)) throw;
    throw FormatError(undecodable(e.info()));
  }
  if (a.kept.empty()) {  // the run's model skips undecodable files (skip_undecodable)
    throw FormatError({.what = "an input was skipped as undecodable",
                       .where = o.inputs.front().file.string(),
                       .got = "skipped as undecodable",
                       .hint = "give files the run's modalities read"});
  }
  out.answer = a.texts.empty() ? std::string() : a.texts.front();
  out.result = std::move(a.result);
  if (on_text && out.answer.compare(0, sent.size(), sent) == 0 && out.answer.size() > sent.size()) {
    on_text(std::string_view(out.answer).substr(sent.size()));
  }
  return out;
}

}  // namespace xib::eval
