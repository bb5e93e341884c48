#include "e2e_support.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>

#include "test_support.h"
#include "xib/io/safetensors.h"
#include "xib/metrics.h"

extern char** environ;

namespace xib::test {
namespace {

const char* const kWords[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"};

}  // namespace

void write_tiny_llama(const std::filesystem::path& dir, uint64_t seed, int64_t hidden, int64_t layers) {
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(source_dir() / "plugins/llama/tests/data/small_split.json", dir / "tokenizer.json",
                             std::filesystem::copy_options::overwrite_existing);
  const int64_t vocab = 700, heads = 4, kv_heads = 2, head_dim = hidden / heads, ffn = hidden * 3 / 2;
  const nlohmann::json config = {{"architectures", {"LlamaForCausalLM"}},
                                 {"model_type", "llama"},
                                 {"hidden_size", hidden},
                                 {"intermediate_size", ffn},
                                 {"num_hidden_layers", layers},
                                 {"num_attention_heads", heads},
                                 {"num_key_value_heads", kv_heads},
                                 {"head_dim", head_dim},
                                 {"vocab_size", vocab},
                                 {"max_position_embeddings", 512},
                                 {"rms_norm_eps", 1e-5},
                                 {"rope_theta", 10000.0},
                                 {"tie_word_embeddings", false},
                                 {"bos_token_id", 0},
                                 {"eos_token_id", 0},
                                 {"pad_token_id", 0},
                                 {"torch_dtype", "float32"}};
  std::ofstream(dir / "config.json") << config.dump(2);
  std::ofstream(dir / "generation_config.json") << nlohmann::json{{"bos_token_id", 0}, {"eos_token_id", 0}}.dump(2);

  std::mt19937_64 gen(seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<std::vector<float>> storage;
  std::vector<io::TensorRecord> records;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, bool ones = false, float scale = 1.0f) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    storage.emplace_back(static_cast<size_t>(n));
    for (auto& v : storage.back()) v = ones ? 1.0f : scale * normal(gen);
    io::TensorRecord r;
    r.name = name;
    r.dtype = io::DType::f32;
    r.shape = std::move(shape);
    r.data = reinterpret_cast<const std::byte*>(storage.back().data());
    r.storage_bytes = storage.back().size() * sizeof(float);
    records.push_back(r);
  };
  add("model.embed_tokens.weight", {vocab, hidden});
  for (int64_t i = 0; i < layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    add(p + "input_layernorm.weight", {hidden}, true);
    add(p + "self_attn.q_proj.weight", {heads * head_dim, hidden});
    add(p + "self_attn.k_proj.weight", {kv_heads * head_dim, hidden});
    add(p + "self_attn.v_proj.weight", {kv_heads * head_dim, hidden});
    add(p + "self_attn.o_proj.weight", {hidden, heads * head_dim});
    add(p + "post_attention_layernorm.weight", {hidden}, true);
    add(p + "mlp.gate_proj.weight", {ffn, hidden});
    add(p + "mlp.up_proj.weight", {ffn, hidden});
    add(p + "mlp.down_proj.weight", {hidden, ffn});
  }
  add("model.norm.weight", {hidden}, true);
  // A sharper output layer than the rest: a near-uniform next-token distribution gives the
  // aligner nothing to steer.
  add("lm_head.weight", {vocab, hidden}, false, 10.0f);
  io::write_safetensors(dir / "model.safetensors", records, {{"format", "pt"}});
}

void write_segments_world(const std::filesystem::path& dir, int n, int segments, int features) {
  std::filesystem::create_directories(dir / "segments");
  nlohmann::json entries = nlohmann::json::array();
  for (int i = 0; i < n; ++i) {
    const std::string rel = fmt::format("segments/{}.txt", i);
    std::ofstream f(dir / rel);
    f << "# sample " << i << "\n";
    const int a = i % 10, b = (i * 7 + 3) % 10;
    for (int s = 0; s < segments; ++s) {
      for (int k = 0; k < features; ++k) {
        f << (k ? " " : "") << ((s == 0 ? a : b) + 0.1 * k) / 10.0;
      }
      f << "\n";
    }
    entries.push_back({{"image", rel},
                       {"caption", fmt::format("{} then {}", kWords[a], kWords[b])},
                       {"image_id", fmt::format("s{}", i)}});
  }
  std::ofstream(dir / "captions.json") << entries.dump(1);
}

std::string train_recipe(const std::string& aligner_type, const std::string& run_keys, int batch_size,
                         const std::string& llm_path) {
  return fmt::format(R"(kind: train
description: end-to-end test run
model:
  llm: {{plugin: llama, path: {}}}
  modalities:
    segments:
      width: 8
      aligner:
        type: {}
        queries: 4
        layers: 1
        hidden: 32
        heads: 2
        ffn: 64
data:
  train:
    - {{reader: caption, path: captions.json, modality: segments, instructions: ["a short description"]}}
  batch_size: {}
  seed: 3
run:
  out: run
  {}
)",
                     llm_path, aligner_type, batch_size, run_keys);
}

std::filesystem::path engine_plugin_dir() { return fixture_plugin_dir() / "engine"; }

int Child::wait() {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  pid = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

Child spawn_xib(const std::vector<std::string>& args, const std::filesystem::path& log_dir) {
  Child c;
  c.out = log_dir / "child.out";
  c.err = log_dir / "child.err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, c.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, c.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> argv_s = {xib_binary().string()};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (posix_spawn(&c.pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) c.pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return c;
}

std::vector<nlohmann::json> read_metrics(const std::filesystem::path& run_dir) {
  const auto f = run_dir / "metrics.jsonl";
  if (!std::filesystem::exists(f)) return {};
  return read_jsonl(f);
}

TrainSetup::TrainSetup(int samples, const std::string& aligner, const std::string& run_keys, int batch,
                       const std::string& llm) {
  if (llm == "lm") write_tiny_llama(dir / "lm", 7);
  write_segments_world(dir.path(), samples);
  dir.write("train.yaml", train_recipe(aligner, run_keys, batch, llm));
}

namespace {
std::vector<std::string> run_args(const TempDir& dir, const std::vector<std::string>& sets) {
  std::vector<std::string> args = {"run", (dir / "train.yaml").string(), "--plugin-dir", engine_plugin_dir().string()};
  for (const auto& s : sets) {
    args.push_back("--set");
    args.push_back(s);
  }
  return args;
}
}  // namespace

CommandResult TrainSetup::xib_run(const std::vector<std::string>& sets, const std::vector<std::string>& env) const {
  return run_xib(run_args(dir, sets), env);
}

Child TrainSetup::spawn(const std::vector<std::string>& sets) const {
  return spawn_xib(run_args(dir, sets), dir.path());
}

std::string diagnose(const CommandResult& r) { return "exit " + std::to_string(r.exit_code) + "\n" + r.err; }

void wait_for_steps(const std::filesystem::path& run, size_t n) {
  for (int i = 0; i < 3000; ++i) {  // up to 5 minutes on a loaded machine
    if (read_metrics(run).size() >= n) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  throw std::runtime_error("the run did not reach " + std::to_string(n) + " steps");
}

}  // namespace xib::test
