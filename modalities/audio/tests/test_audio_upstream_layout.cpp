// X-InstructBLIP's released audio aligner layout (audio_Qformer.…, audio_query_tokens, audio_ln,
// audio_llm_proj; the key list built by upstream's own code, tools/fixtures/audio/
// make_audio_qformer_keys.py) loads into the audio modality's Q-Former through `aligner.init`
// with no tensor missing, unexpected or mis-shaped.
#include <torch/torch.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "audio_modality.h"
#include "test_support.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/aligner.h"
#include "xib/io/safetensors.h"
#include "xib/weights/maps.h"
#include "xib/weights/weight_map.h"

namespace fs = std::filesystem;
using namespace xib;

namespace {

fs::path data() { return fs::path(XIB_AUDIO_TEST_DATA); }

/// lavis_audio_keys.txt: "name [d0, d1]" per line.
std::vector<weights::SourceTensor> audio_keys() {
  std::ifstream in(data() / "lavis_audio_keys.txt");
  std::vector<weights::SourceTensor> out;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.find(' ');
    weights::SourceTensor t{.name = line.substr(0, space)};
    std::string dims = line.substr(space + 1);
    for (char& c : dims) c = (c == '[' || c == ']' || c == ',') ? ' ' : c;
    std::istringstream ds(dims);
    for (int64_t d; ds >> d;) t.shape.push_back(d);
    out.push_back(t);
  }
  return out;
}

}  // namespace

TEST_CASE("audio upstream layout: the lavis map consumes upstream's audio aligner keys exactly") {
  const auto keys = audio_keys();
  REQUIRE(keys.size() == 334);
  const auto map = weights::expand(weights::maps::lavis_qformer({}), {.layers = 12, .vars = {{"m", "audio"}}});
  const auto ours = weights::maps::qformer_params({.encoder_width = 768, .llm_width = 4096});
  const auto p = weights::plan(map, keys, ours, {.strict = true, .source_label = "lavis_audio_keys.txt"});
  CHECK(p.ok());
  CHECK(p.missing.empty());
  CHECK(p.unexpected.empty());
  CHECK(p.misshaped.empty());
  CHECK(p.assignments.size() == ours.size());
  REQUIRE(p.skipped.size() == 1);
  CHECK(p.skipped[0].name == "audio_Qformer.bert.embeddings.position_ids");
}

TEST_CASE("audio upstream layout: a checkpoint in it loads through aligner.init into the audio modality") {
  // Every tensor of the list, bf16: zeros except the query tokens (0.25) and llm_proj's bias (0.5).
  const auto keys = audio_keys();
  size_t total = 0;
  for (const auto& k : keys) {
    int64_t n = 1;
    for (auto d : k.shape) n *= d;
    total += static_cast<size_t>(n);
  }
  std::vector<uint16_t> storage(total, 0);
  std::vector<io::TensorRecord> records;
  size_t offset = 0;
  for (const auto& k : keys) {
    io::TensorRecord r;
    r.name = k.name;
    r.dtype = io::DType::bf16;
    r.shape = k.shape;
    r.data = reinterpret_cast<const std::byte*>(storage.data() + offset);
    r.storage_bytes = static_cast<size_t>(r.numel()) * 2;
    const uint16_t fill = k.name == "audio_query_tokens" ? 0x3E80 : k.name == "audio_llm_proj.bias" ? 0x3F00 : 0;
    std::fill_n(storage.begin() + static_cast<std::ptrdiff_t>(offset), r.numel(), fill);
    offset += static_cast<size_t>(r.numel());
    records.push_back(r);
  }
  test::TempDir tmp;
  const fs::path file = tmp / "xinstructblip_audio.safetensors";
  io::write_safetensors(file, records);
  storage = {};

  auto src = ConfigSource::from_string(fmt::format(R"(
audio:
  encoder: {{type: beats, random_init: true}}
  aligner: {{type: qformer, init: {{path: {}}}}}
)",
                                                   file.string()),
                                       "test.yaml", tmp.path());
  audio::AudioModality m({.name = "audio", .llm_width = 4096}, src->section("audio"));
  CHECK(m.encoder().width() == 768);
  const auto params = m.aligner().named_parameters();
  CHECK(params.size() == weights::maps::qformer_params({.encoder_width = 768, .llm_width = 4096}).size());
  for (const auto& [name, t] : params) {
    if (name == "query_tokens") {
      CHECK(t.eq(0.25).all().item<bool>());
    } else if (name == "llm_proj.bias") {
      CHECK(t.eq(0.5).all().item<bool>());
    } else {
      CHECK_MESSAGE(t.eq(0).all().item<bool>(), name);  // every other tensor came from the file
    }
  }
}
