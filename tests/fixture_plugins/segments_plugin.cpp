// A fixture sequence modality, "segments", for the engine tests: an input is a text file with
// one segment per line, each line `F` whitespace-separated numbers (all lines the same count);
// '#' starts a comment line. The processor gives [S, F]; the encoder is a fixed projection that
// turns each number into one token of `width` values (token f, channel c: x_f · (c + 1) / width
// + 0.01 · f) → [N, F, width]; the aligner comes from the section's `aligner:` through the
// model's context (ModalityContext::make_aligner). Cue " audio: " by default; its prompts (cue,
// templates) are registered as ModalityPrompts "segments".
//
//   segments: {width: 8, cue: " audio: ", aligner: {type: linear, queries: 2}}
#include <fmt/format.h>
#include <torch/torch.h>

#include <fstream>
#include <sstream>

#include "xib/aligner.h"
#include "xib/encoder.h"
#include "xib/error.h"
#include "xib/modality.h"
#include "xib/plugin.h"
#include "xib/prompts.h"

namespace {

struct SegmentsOptions {
  int64_t width = 8;
  std::string cue = " audio: ";
  xib::ConfigSection aligner = {};
  template <class V>
  void fields(V& v) {
    v("width", width, "encoder token width");
    v("cue", cue, "prompt cue");
    v("aligner", aligner, "the aligner section");
  }
  void validate(xib::Validator& v) const { v.require(width > 0, "width", "a positive number", width); }
};

class SegmentsProcessor : public xib::Processor {
 public:
  /// No settings: the text format alone decides the output.
  nlohmann::json config() const override { return {{"type", "segments_text"}}; }
  xib::Tensor load(const std::filesystem::path& file, bool /*training*/) override {
    std::ifstream in(file);
    if (!in) throw xib::IoError({.what = "cannot open a segments file", .where = file.string()});
    std::vector<std::vector<float>> rows;
    std::string line;
    int line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.empty() || line[0] == '#') continue;
      std::istringstream ls(line);
      std::vector<float> row;
      std::string word;
      while (ls >> word) {
        try {
          size_t used = 0;
          row.push_back(std::stof(word, &used));
          if (used != word.size()) throw std::invalid_argument(word);
        } catch (const std::exception&) {
          throw xib::FormatError({.what = "not a number in a segments file",
                                  .where = fmt::format("{}:{}", file.string(), line_no),
                                  .expected = "whitespace-separated numbers",
                                  .got = word});
        }
      }
      if (!rows.empty() && row.size() != rows.front().size()) {
        throw xib::FormatError({.what = "segments of different lengths",
                                .where = fmt::format("{}:{}", file.string(), line_no),
                                .expected = fmt::format("{} numbers", rows.front().size()),
                                .got = fmt::format("{}", row.size())});
      }
      rows.push_back(std::move(row));
    }
    if (rows.empty() || rows.front().empty()) {
      throw xib::FormatError({.what = "a segments file without segments", .where = file.string()});
    }
    const auto s = static_cast<int64_t>(rows.size()), f = static_cast<int64_t>(rows.front().size());
    at::Tensor out = torch::empty({s, f});
    for (int64_t i = 0; i < s; ++i) {
      for (int64_t j = 0; j < f; ++j) out[i][j] = rows[static_cast<size_t>(i)][static_cast<size_t>(j)];
    }
    return out;
  }
};

class SegmentsEncoder : public xib::Encoder {
 public:
  explicit SegmentsEncoder(int64_t width) : width_(width) {}
  std::string name() const override { return "segments_projection"; }
  int64_t width() const override { return width_; }
  std::optional<int64_t> num_tokens() const override { return std::nullopt; }
  std::string weights_id() const override { return fmt::format("fixed:{}", width_); }
  /** [N, F] → [N, F, width] */
  xib::Tensor encode(const xib::Tensor& batch) override {
    if (batch.dim() != 2) {
      throw xib::ShapeError({.what = "segments encoder: wrong input shape", .expected = "[N, F]"});
    }
    torch::NoGradGuard no_grad;
    const at::Tensor scale = torch::arange(1, width_ + 1, torch::kFloat32) / static_cast<double>(width_);
    const at::Tensor shift = torch::arange(batch.size(1), torch::kFloat32).unsqueeze(1) * 0.01;  // [F, 1]
    return batch.to(torch::kFloat32).unsqueeze(2) * scale + shift;
  }

 private:
  int64_t width_;
};

class SegmentsModality : public xib::Modality {
 public:
  SegmentsModality(const xib::ModalityContext& context, const xib::ConfigSection& section)
      : options_(xib::bind<SegmentsOptions>(section)), name_(context.name), encoder_(options_.width) {
    aligner_ = context.make_aligner(encoder_.width(), options_.aligner);
  }
  std::string name() const override { return name_; }
  std::string cue() const override { return options_.cue; }
  bool is_sequence() const override { return true; }
  xib::Processor& processor() override { return processor_; }
  xib::Encoder& encoder() override { return encoder_; }
  xib::Aligner& aligner() override {
    if (!aligner_) throw xib::ConfigError({.what = "the segments modality was built without a language model"});
    return *aligner_;
  }

 private:
  SegmentsOptions options_;
  std::string name_;
  SegmentsProcessor processor_;
  SegmentsEncoder encoder_;
  std::shared_ptr<xib::Aligner> aligner_;
};

}  // namespace

XIB_PLUGIN_INFO("0.1.0", "test fixture: a sequence modality 'segments' (text files of numbers)")

XIB_PLUGIN_INIT(reg) {
  reg.add<xib::Modality>(
      "segments",
      [](const xib::ModalityContext& c, const xib::ConfigSection& s) {
        return std::make_unique<SegmentsModality>(c, s);
      },
      "text file, one segment of numbers per line → fixed projection → aligner; cue ' audio: '");
  reg.add<xib::ModalityPrompts>(
      "segments",
      xib::prompts_factory({.cue = " audio: ",
                            .templates = {{"caption", {"a short description", "describe the numbers."}},
                                          {"qa", {"{question}", "about the numbers: {question}"}}}}),
      "cue and templates of the fixture modality");
}
