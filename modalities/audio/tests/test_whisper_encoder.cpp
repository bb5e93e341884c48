// The Whisper tiny.en encoder read from its CTranslate2 model.bin (the pinned model package)
// against CTranslate2's own Whisper.encode and transformers' WhisperEncoder on real speech
// (tools/fixtures/audio/make_whisper_encoder_fixtures.py); the CTranslate2 and transformers
// weight maps; shapes and errors.
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "encoders.h"
#include "tensor_fixtures.h"
#include "test_skip.h"
#include "test_support.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/error.h"
#include "xib/io/safetensors.h"
#include "xib/io/weight_source.h"
#include "xib/media/whisper_mel.h"
#include "xib/model_cache.h"
#include "xib/weights/weight_loader.h"

namespace fs = std::filesystem;
using namespace xib;
using namespace xib::audio;

namespace {

fs::path data() { return fs::path(XIB_AUDIO_TEST_DATA); }
fs::path model_bin() { return ModelCache::default_root() / "whisper-tiny-en-ct2/model.bin"; }

/// The fixture's speech through Whisper's log-mel: [1, 80, 3000].
torch::Tensor speech_features(const std::map<std::string, at::Tensor>& io) {
  const at::Tensor pcm = io.at("speech").to(torch::kFloat32) / 32768.0;
  const std::vector<float> samples(pcm.data_ptr<float>(), pcm.data_ptr<float>() + pcm.numel());
  media::WhisperMel mel = media::whisper_log_mel(samples);
  return torch::from_blob(mel.values.data(), {1, mel.n_mels, mel.frames}, torch::kFloat32).clone();
}

double max_diff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

TEST_CASE("whisper_tiny_en: tokens equal CTranslate2's and transformers' on real speech") {
  if (!fs::exists(model_bin())) return xib::test::skip_missing_model(model_bin(), "whisper-tiny-en-ct2");
  const auto io = test::read_tensor_file(data() / "whisper/whisper_encoder.safetensors");
  EncoderOptions o;  // the embedded default: the model cache's model.bin
  const auto enc = make_encoder(o);
  CHECK(enc->name() == "whisper_tiny_en");
  CHECK(enc->width() == 384);
  CHECK(enc->weights_id().starts_with("sha256:1a5afae0"));
  const torch::Tensor tokens = enc->encode(speech_features(io))[0];
  REQUIRE(tokens.sizes() == torch::IntArrayRef{1500, 384});
  CHECK_FALSE(tokens.requires_grad());
  const double ct2 = max_diff(tokens.index_select(0, io.at("ct2.rows")), io.at("ct2"));
  const double hf = max_diff(tokens.index_select(0, io.at("hf.rows")), io.at("hf"));
  MESSAGE("max |xib - ctranslate2| = " << ct2 << ", max |xib - transformers| = " << hf);
  CHECK(ct2 < 1e-4);
  CHECK(hf < 1e-4);
  // The whole output, not only the stored rows: its sum against CTranslate2's.
  std::ifstream in(data() / "whisper/whisper_encoder.json");
  const auto doc = nlohmann::json::parse(in);
  CHECK(tokens.to(torch::kDouble).sum().item<double>() ==
        doctest::Approx(doc["ct2"]["sum"].get<double>()).epsilon(1e-5));
}

TEST_CASE("whisper_tiny_en: the CTranslate2 map takes every encoder variable and skips the decoder") {
  if (!fs::exists(model_bin())) return xib::test::skip_missing_model(model_bin(), "whisper-tiny-en-ct2");
  const auto src = io::open_weights(model_bin());
  const WhisperOptions c;
  const auto p = weights::plan(weights::expand(whisper_ct2_map(), {.layers = c.layers}),
                               weights::source_tensors(src->tensors()), whisper_encoder_params(c));
  CHECK(p.ok());
  CHECK(p.missing.empty());
  CHECK(p.unexpected.empty());
  CHECK(p.misshaped.empty());
  CHECK(p.assignments.size() == whisper_encoder_params(c).size());
  for (const auto& s : p.skipped) CHECK((s.name.starts_with("decoder/") || s.name == "encoder/num_heads"));
}

TEST_CASE("whisper_tiny_en: transformers-named weights load to the same encoder") {
  if (!fs::exists(model_bin())) return xib::test::skip_missing_model(model_bin(), "whisper-tiny-en-ct2");
  // Rename the CTranslate2 variables to transformers' WhisperForConditionalGeneration names
  // (q/k/v split, k without bias), write them, and load that file.
  const auto src = io::open_weights(model_bin());
  std::map<std::string, at::Tensor> ct2;
  for (const auto& r : src->tensors()) {
    if (r.name.starts_with("encoder/") && r.name != "encoder/num_heads") ct2[r.name] = weights::record_to_tensor(r);
  }
  std::map<std::string, at::Tensor> hf;
  const std::string e = "model.encoder.";
  for (const char* conv : {"conv1", "conv2"}) {
    hf[e + conv + ".weight"] = ct2.at(std::string("encoder/") + conv + "/weight");
    hf[e + conv + ".bias"] = ct2.at(std::string("encoder/") + conv + "/bias");
  }
  hf[e + "embed_positions.weight"] = ct2.at("encoder/position_encodings/encodings");
  hf[e + "layer_norm.weight"] = ct2.at("encoder/layer_norm/gamma");
  hf[e + "layer_norm.bias"] = ct2.at("encoder/layer_norm/beta");
  for (int i = 0; i < 4; ++i) {
    const std::string c = fmt::format("encoder/layer_{}/", i), h = e + fmt::format("layers.{}.", i);
    const auto qkv_w = ct2.at(c + "self_attention/linear_0/weight").chunk(3, 0);
    const auto qkv_b = ct2.at(c + "self_attention/linear_0/bias").chunk(3, 0);
    hf[h + "self_attn.q_proj.weight"] = qkv_w[0];
    hf[h + "self_attn.k_proj.weight"] = qkv_w[1];
    hf[h + "self_attn.v_proj.weight"] = qkv_w[2];
    hf[h + "self_attn.q_proj.bias"] = qkv_b[0];
    hf[h + "self_attn.v_proj.bias"] = qkv_b[2];
    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
             {"self_attention/linear_1", "self_attn.out_proj"}, {"ffn/linear_0", "fc1"}, {"ffn/linear_1", "fc2"}}) {
      hf[h + to + ".weight"] = ct2.at(c + from + "/weight");
      hf[h + to + ".bias"] = ct2.at(c + from + "/bias");
    }
    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
             {"self_attention/layer_norm", "self_attn_layer_norm"}, {"ffn/layer_norm", "final_layer_norm"}}) {
      hf[h + to + ".weight"] = ct2.at(c + from + "/gamma");
      hf[h + to + ".bias"] = ct2.at(c + from + "/beta");
    }
  }
  hf["model.decoder.embed_tokens.weight"] = torch::zeros({4, 384});  // left out by the "model.encoder" prefix
  hf["proj_out.weight"] = torch::zeros({4, 384});
  std::vector<io::TensorRecord> records;
  for (auto& [name, t] : hf) {
    t = t.to(torch::kFloat32).contiguous();
    io::TensorRecord r;
    r.name = name;
    r.dtype = io::DType::f32;
    r.shape = t.sizes().vec();
    r.data = reinterpret_cast<const std::byte*>(t.data_ptr<float>());
    r.storage_bytes = static_cast<size_t>(t.numel()) * sizeof(float);
    records.push_back(r);
  }
  test::TempDir tmp;
  const fs::path file = tmp.path() / "whisper_hf.safetensors";
  io::write_safetensors(file, records);
  EncoderOptions o;
  o.weights = file;
  const auto from_hf = make_encoder(o);
  EncoderOptions d;
  const auto from_ct2 = make_encoder(d);
  const torch::Tensor x = torch::randn({1, 80, 200});
  CHECK(torch::equal(from_hf->encode(x), from_ct2->encode(x)));
}

TEST_CASE("whisper_tiny_en: shorter windows, random weights and wrong shapes") {
  EncoderOptions o;
  o.random_init = true;
  const auto enc = make_encoder(o);
  CHECK(enc->weights_id() == "random");
  CHECK(enc->encode(torch::zeros({2, 80, 3000})).sizes() == torch::IntArrayRef{2, 1500, 384});
  CHECK(enc->encode(torch::zeros({1, 80, 101})).sizes() == torch::IntArrayRef{1, 51, 384});
  CHECK_THROWS_AS(enc->encode(torch::zeros({1, 80, 3002})), ShapeError);
  CHECK_THROWS_AS(enc->encode(torch::zeros({1, 128, 300})), ShapeError);
  CHECK_THROWS_AS(enc->encode(torch::zeros({80, 300})), ShapeError);
  EncoderOptions typo;
  typo.type = "whisper_tiny";
  try {
    make_encoder(typo);
    FAIL("no error");
  } catch (const NotFoundError& e) {
    CHECK(e.report().find("whisper_tiny_en") != std::string::npos);
  }
}

TEST_CASE("whisper_tiny_en: xib inspect lists the real model.bin's variables") {
  if (!fs::exists(model_bin())) return xib::test::skip_missing_model(model_bin(), "whisper-tiny-en-ct2");
  const auto r = test::run_xib({"inspect", model_bin().string()});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("ctranslate2 v6") != std::string::npos);
  CHECK(r.out.find("WhisperSpec") != std::string::npos);
  CHECK(r.out.find("encoder/conv1/weight") != std::string::npos);
  CHECK(r.out.find("[384, 80, 3]") != std::string::npos);
  CHECK(r.out.find("encoder/position_encodings/encodings") != std::string::npos);
  CHECK(r.out.find("decoder/embeddings/weight") != std::string::npos);
}
