// `kind: eval` end to end: a tiny run of the fixture "segments" modality against a tiny random
// LLaMA, trained for a few steps, then evaluated (captions + QA; `xib ask` is in test_ask.cpp).
// Each test runs the real binary.
#include <fmt/format.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "e2e_support.h"
#include "test_support.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "trained_setup.h"
#include "xib/device.h"
#include "xib/eval/caption_metrics.h"
#include "xib/eval/eval_files.h"
#include "xib/eval/vqa_metrics.h"
#include "xib/media/image.h"
#include "xib/sha256.h"
#include "xib/train/checkpoint.h"

using namespace xib;
using namespace xib::test;
using nlohmann::json;

namespace {

/// Every file of a folder → its SHA-256.
std::map<std::string, std::string> hash_tree(const std::filesystem::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out[std::filesystem::relative(e.path(), dir).string()] = sha256_file(e.path());
  }
  return out;
}

json read_json(const std::filesystem::path& f) { return json::parse(read_file(f)); }

/// id → caption predicted, from a predictions file.
std::map<std::string, std::string> captions_by_id(const std::filesystem::path& f) {
  return eval::read_caption_predictions(f);
}

/// Evaluates `run` (relative to `dir`) on the world's captions with 1-beam, 2-token generation
/// into dir/out.
CommandResult quick_caption_eval(const TempDir& dir, const std::string& run) {
  dir.write("eval.yaml", fmt::format(R"(kind: eval
run: {}
data:
  test: [{{reader: caption, path: captions.json, modality: segments, instructions: ["a short description"]}}]
generate: {{caption: {{num_beams: 1, max_new_tokens: 2, min_new_tokens: 1}}}}
threads: 1
out: out
)",
                                     run));
  return run_xib({"run", (dir / "eval.yaml").string(), "--plugin-dir", engine_plugin_dir().string()});
}

}  // namespace

TEST_CASE("eval run: every test sample gets a prediction, the metrics are what the files score, the run is untouched") {
  TrainedSetup s;
  const auto before = hash_tree(s.run());
  const auto r = s.eval(s.eval_recipe("eval.yaml", "out: out"));
  REQUIRE_MESSAGE(r.exit_code == 0, diagnose(r));
  CHECK(hash_tree(s.run()) == before);  // checkpoints, metrics, report, config: all unchanged

  const auto out = s.dir / "out";
  for (const char* f : {"metrics.json", "report.md", "config.yaml", "captions_predictions.json", "captions_scores.json",
                        "qa_predictions.json", "qa_scores.json"}) {
    CHECK_MESSAGE(std::filesystem::exists(out / f), f);
  }
  // Captions: one per image id, scored against captions.json's references.
  const auto captions = captions_by_id(out / "captions_predictions.json");
  CHECK(captions.size() == static_cast<size_t>(s.samples));
  std::map<std::string, std::vector<std::string>> refs;
  for (const auto& e : read_json(s.dir / "captions.json"))
    refs[e["image_id"].get<std::string>()] = {e["caption"].get<std::string>()};
  for (const auto& [id, text] : captions) CHECK_MESSAGE(refs.count(id), id);
  const auto rescored = eval::caption_scores(captions, refs);
  const json m = read_json(out / "metrics.json");
  const json& cm = m["datasets"]["captions"];
  CHECK(cm["task"] == "caption");
  CHECK(cm["samples"] == s.samples);
  CHECK(cm["CIDEr"].get<double>() == doctest::Approx(rescored.cider).epsilon(1e-12));
  CHECK(cm["Bleu_4"].get<double>() == doctest::Approx(rescored.bleu[3]).epsilon(1e-12));
  CHECK(cm["ROUGE_L"].get<double>() == doctest::Approx(rescored.rouge_l).epsilon(1e-12));
  for (const char* k : {"Bleu_4", "ROUGE_L"}) {
    CHECK(cm[k].get<double>() >= 0);
    CHECK(cm[k].get<double>() <= 1);
  }
  CHECK(cm["CIDEr"].get<double>() >= 0);
  CHECK(cm["CIDEr"].get<double>() <= 10);

  // QA: every question answered, exact match (one answer each) as the file scores it.
  const auto answers = eval::read_vqa_predictions(out / "qa_predictions.json");
  CHECK(answers.size() == static_cast<size_t>(2 * s.samples));
  const auto vqa_refs = eval::read_vqa_references(s.dir / "qa.json");
  const auto acc = eval::vqa_accuracy(answers, vqa_refs, {.metric = "exact"});
  const json& qm = m["datasets"]["qa"];
  CHECK(qm["metric"] == "exact");
  CHECK(qm["accuracy"].get<double>() == doctest::Approx(acc.accuracy));
  CHECK(qm["accuracy"].get<double>() >= 0);
  CHECK(qm["accuracy"].get<double>() <= 100);

  CHECK(m["control"] == "none");
  CHECK(m["step"] == 4);
  CHECK(m["trainable_values"].get<int64_t>() > 0);
  CHECK(m["generate"]["caption"]["num_beams"] == 2);
  CHECK(m["generate"]["qa"]["length_penalty"] == -1.0);  // SPEC's, not overridden
  const std::string report = read_file(out / "report.md");
  CHECK(report.find("| captions | caption | 12 |") != std::string::npos);
  CHECK(report.find(refs.begin()->second.front()) != std::string::npos);  // a reference beside its prediction
  CHECK_MESSAGE(r.out.find("CIDEr") != std::string::npos, r.out);
  CHECK(r.out.find("accuracy") != std::string::npos);

  {  // xib compare: scores × 100 as its note says, the run's loss, one table row per caption
    const auto cmp = run_xib({"compare", out.string(), "--samples", "3", "--out", (s.dir / "cmp.md").string()});
    REQUIRE_MESSAGE(cmp.exit_code == 0, diagnose(cmp));
    const std::string md = read_file(s.dir / "cmp.md");
    CHECK(md.find(fmt::format("| CIDEr-D | {:.1f} |", cm["CIDEr"].get<double>() * 100)) != std::string::npos);
    CHECK(md.find(fmt::format("| BLEU-4 | {:.1f} |", cm["Bleu_4"].get<double>() * 100)) != std::string::npos);
    CHECK(md.find(fmt::format("| QA accuracy (%) | {:.1f} |", qm["accuracy"].get<double>())) != std::string::npos);
    CHECK(md.find("| training loss (last 10 steps) | ") != std::string::npos);
    // Every line of the sample table is one row with the same number of cells, whatever the
    // captions hold (line breaks, pipes).
    const auto at = md.find("| image | reference |");
    REQUIRE(at != std::string::npos);
    std::istringstream rows(md.substr(at));
    int n = 0;
    for (std::string line; std::getline(rows, line) && !line.empty(); ++n) {
      size_t bars = 0;
      for (size_t i = 0; i < line.size(); ++i) bars += line[i] == '|' && (i == 0 || line[i - 1] != '\\');
      CHECK_MESSAGE(bars == 4, line);
    }
    CHECK(n == 2 + 3);  // header, rule, 3 images
  }
}

TEST_CASE("eval run: the blind control gives every sample another input, a permutation of each dataset") {
  TrainedSetup s;
  const auto b = s.eval(s.eval_recipe("blind.yaml", "out: blind\ncontrol: blind\nseed: 5"));
  REQUIRE_MESSAGE(b.exit_code == 0, diagnose(b));
  const json captions = read_json(s.dir / "blind/captions_predictions.json");
  CHECK(captions.size() == static_cast<size_t>(s.samples));
  std::set<std::string> donors;
  for (const auto& e : captions) {
    const auto id = e["image_id"].get<std::string>(), from = e["features_from"].get<std::string>();
    CHECK(from != id);
    donors.insert(from);
  }
  CHECK(donors.size() == captions.size());  // a permutation of the images
  // QA: two questions per input; a question never gets its own input's features (nor its twin's).
  const json qa = read_json(s.dir / "blind/qa_predictions.json");
  std::set<std::string> qa_donors;
  for (const auto& e : qa) {
    const auto id = e["question_id"].get<std::string>(), from = e["features_from"].get<std::string>();
    CHECK(from.substr(0, from.size() - 1) != id.substr(0, id.size() - 1));  // "q3a" / "q3b" share input 3
    qa_donors.insert(from);
  }
  CHECK(qa_donors.size() == qa.size());
  CHECK(read_json(s.dir / "blind/metrics.json")["control"] == "blind");
  CHECK(read_file(s.dir / "blind/report.md").find("features from") != std::string::npos);
}

TEST_CASE("eval: with the blind control each caption is the one its donor's image gets (SmolLM2, EfficientNet)") {
  // The tiny random LLM answers the same whatever the input; SmolLM2 with EfficientNet-Lite0's
  // real features (from the model cache) already does not with an untrained linear aligner.
  TempDir dir;
  json captions = json::array();
  std::filesystem::create_directories(dir / "img");
  for (int i = 0; i < 8; ++i) {
    const int w = 40 + 8 * i, h = 30;
    media::Image im{
        .width = w, .height = h, .channels = 3, .rgb = std::vector<uint8_t>(static_cast<size_t>(w * h * 3))};
    for (size_t k = 0; k < im.rgb.size(); ++k) im.rgb[k] = static_cast<uint8_t>((k * (7 + i)) % 251);
    media::write_image(im, dir / fmt::format("img/{}.png", i));
    captions.push_back({{"image", fmt::format("img/{}.png", i)}, {"caption", kWords[i]}, {"image_id", i}});
  }
  std::ofstream(dir / "captions.json") << captions.dump();
  dir.write("eval.yaml", R"(kind: eval
model:
  llm: {plugin: llama, path: smollm2-135m-instruct}
  modalities:
    image:
      encoder: {type: efficientnet_lite0}
      processor: {size: 128}
      aligner: {type: linear, queries: 2}
data:
  test: [{reader: caption, path: captions.json, modality: image}]
batch_size: 1
threads: 1
generate:
  caption: {num_beams: 2, max_new_tokens: 6, min_new_tokens: 2}
)");
  // Batches of one: an answer depends on its features and its instruction only, and the
  // instruction is the same for every caption.
  const auto a = run_xib({"run", (dir / "eval.yaml").string(), "--set", "out=plain"});
  REQUIRE_MESSAGE(a.exit_code == 0, diagnose(a));
  const auto b = run_xib({"run", (dir / "eval.yaml").string(), "--set", "out=blind", "--set", "control=blind"});
  REQUIRE_MESSAGE(b.exit_code == 0, diagnose(b));
  const auto plain = captions_by_id(dir / "plain/captions_predictions.json");
  std::set<std::string> distinct;
  for (const auto& [id, text] : plain) distinct.insert(text);
  MESSAGE(distinct.size() << " distinct captions of " << plain.size() << " images");
  REQUIRE(distinct.size() >= 3);  // the captions depend on the image: the check below means something
  const json blind = read_json(dir / "blind/captions_predictions.json");
  REQUIRE(blind.size() == plain.size());
  int changed = 0;
  for (const auto& e : blind) {
    const auto id = e["image_id"].get<std::string>(), from = e["features_from"].get<std::string>();
    CHECK(from != id);
    CHECK_MESSAGE(e["caption"] == plain.at(from), id << " ← " << from);
    changed += e["caption"] != plain.at(id);
  }
  CHECK(changed > 0);
}

TEST_CASE("eval run: relative model paths of a run resolve against its training recipe's folder") {
  // recipes/train.yaml names the LLM ../lm and writes runs/a/r: from the run folder, ../lm
  // would be runs/a/lm (absent); from the recipe's folder it is the LLM.
  TempDir dir;
  write_tiny_llama(dir / "lm", 7);
  write_segments_world(dir.path(), 4);
  std::string recipe = train_recipe("linear", "steps: 1\n  warmup_steps: 1\n  threads: 1", 4, "../lm");
  const auto replace = [&](const std::string& from, const std::string& to) {
    const auto at = recipe.find(from);
    REQUIRE(at != std::string::npos);
    recipe.replace(at, from.size(), to);
  };
  replace("path: captions.json", "path: ../captions.json");
  replace("out: run", "out: ../runs/a/r");
  dir.write("recipes/train.yaml", recipe);
  const auto t = run_xib({"run", (dir / "recipes/train.yaml").string(), "--plugin-dir", engine_plugin_dir().string()});
  REQUIRE_MESSAGE(t.exit_code == 0, diagnose(t));
  const auto ckpt = train::read_checkpoint(*train::find_latest_checkpoint(dir / "runs/a/r"), "model/");
  CHECK(ckpt.meta["recipe_dir"] == (dir / "recipes").string());
  const auto e = quick_caption_eval(dir, "runs/a/r");
  CHECK_MESSAGE(e.exit_code == 0, diagnose(e));
  for (const auto& [name, tensor] : ckpt.tensors) CHECK(name.rfind("model/", 0) == 0);  // only what was asked for
}

TEST_CASE("eval run: a run loads without the weights its aligner was initialised from") {
  TempDir dir;
  write_tiny_llama(dir / "lm", 7);
  write_segments_world(dir.path(), 4);
  dir.write("train.yaml", train_recipe("linear", "steps: 1\n  warmup_steps: 1\n  threads: 1"));
  const auto train = [&](std::vector<std::string> sets) {
    std::vector<std::string> args = {"run", (dir / "train.yaml").string(), "--plugin-dir",
                                     engine_plugin_dir().string()};
    for (auto& s : sets) args.insert(args.end(), {"--set", s});
    return run_xib(args);
  };
  // A first run's aligner is the second run's starting point (format xib, its checkpoint names).
  const auto a = train({"run.out=a"});
  REQUIRE_MESSAGE(a.exit_code == 0, diagnose(a));
  std::filesystem::copy_file(*train::find_latest_checkpoint(dir / "a") / "state.safetensors", dir / "init.safetensors");
  const auto b = train({"run.out=b", "model.modalities.segments.aligner.init.path=init.safetensors",
                        "model.modalities.segments.aligner.init.format=xib",
                        "model.modalities.segments.aligner.init.prefix=model/segments."});
  REQUIRE_MESSAGE(b.exit_code == 0, diagnose(b));
  CHECK(read_file(dir / "b" / "config.yaml").find("init.safetensors") != std::string::npos);
  // The starting weights are gone; the checkpoint holds every aligner tensor, so evaluation loads.
  std::filesystem::remove(dir / "init.safetensors");
  const auto e = quick_caption_eval(dir, "b");
  CHECK_MESSAGE(e.exit_code == 0, diagnose(e));
  CHECK(std::filesystem::exists(dir / "out" / "metrics.json"));
}

TEST_CASE("eval run: bad input is a clear error") {
  TrainedSetup s(8);
  const auto recipe = s.eval_recipe("eval.yaml", "out: out");
  SUBCASE("no run folder") {
    const auto r = s.eval(recipe, {"run=nowhere"});
    CHECK(r.exit_code == 1);
    CHECK_MESSAGE(r.err.find("run folder not found") != std::string::npos, r.err);
    CHECK(r.err.find("nowhere") != std::string::npos);
  }
  SUBCASE("a run folder without checkpoints") {
    std::filesystem::create_directories(s.dir / "empty");
    std::filesystem::copy_file(s.run() / "config.yaml", s.dir / "empty/config.yaml");
    const auto r = s.eval(recipe, {"run=empty"});
    CHECK(r.exit_code == 1);
    CHECK_MESSAGE(r.err.find("no complete checkpoint") != std::string::npos, r.err);
  }
  SUBCASE("a checkpoint missing an aligner tensor") {
    const auto dir = train::find_latest_checkpoint(s.run());
    REQUIRE(dir);
    auto ckpt = train::read_checkpoint(*dir);
    std::string dropped;
    train::NamedTensors kept;
    for (auto& [name, t] : ckpt.tensors) {
      if (dropped.empty() && name.rfind("model/", 0) == 0) {
        dropped = name.substr(6);
        continue;
      }
      kept.emplace_back(name, t);
    }
    train::write_checkpoint(s.run(), ckpt.step + 1, kept, ckpt.meta);
    const auto r = s.eval(recipe);
    CHECK(r.exit_code == 1);
    CHECK_MESSAGE(r.err.find("missing") != std::string::npos, r.err);
    CHECK_MESSAGE(r.err.find(dropped) != std::string::npos, r.err);
    // An earlier step is still there to evaluate.
    const auto ok = s.eval(recipe, {"step=" + std::to_string(ckpt.step)});
    CHECK_MESSAGE(ok.exit_code == 0, diagnose(ok));
  }
  SUBCASE("another LLM than the run was trained with") {
    write_tiny_llama(s.dir / "lm2", 8);  // same shapes, other weights and name
    std::string config = read_file(s.run() / "config.yaml");
    const auto at = config.find("path: lm");
    REQUIRE(at != std::string::npos);
    config.replace(at, 8, "path: lm2");
    std::filesystem::create_directories(s.dir / "other");
    std::ofstream(s.dir / "other/config.yaml") << config;
    std::filesystem::copy(s.run() / "checkpoints", s.dir / "other/checkpoints",
                          std::filesystem::copy_options::recursive);
    const auto r = s.eval(recipe, {"run=other"});
    CHECK(r.exit_code != 0);
    CHECK_MESSAGE(r.err.find("frozen models differ") != std::string::npos, r.err);
    CHECK(r.err.find("/llm/name") != std::string::npos);
  }
  SUBCASE("an unknown control, a task it cannot score, an out folder in the checkpoints") {
    const auto c = s.eval(recipe, {"control=blinde"});
    CHECK(c.exit_code == 2);
    CHECK_MESSAGE(c.err.find("blind") != std::string::npos, c.err);
    const auto t = s.eval(recipe, {"data.test.0.task=retrieval", "data.test.0.instructions=[describe]"});
    CHECK(t.exit_code == 2);
    CHECK_MESSAGE(t.err.find("caption, qa") != std::string::npos, t.err);
    const auto o = s.eval(recipe, {"out=run/checkpoints/x"});
    CHECK(o.exit_code == 2);
    CHECK_FALSE(std::filesystem::exists(s.run() / "checkpoints/x"));
  }
  SUBCASE("a device spelled wrong, and one this machine does not have") {
    const auto g = s.eval(recipe, {"device=gpu"});
    CHECK(g.exit_code == 2);
    CHECK_MESSAGE(g.err.find("cpu, cuda or cuda:N") != std::string::npos, g.err);
    const std::string missing = "cuda:" + std::to_string(available_devices().size() - 1);
    const auto m = s.eval(recipe, {"device=" + missing});
    CHECK(m.exit_code == 2);
    CHECK_MESSAGE(m.err.find(missing) != std::string::npos, m.err);
    CHECK_FALSE(std::filesystem::exists(s.dir / "out"));
  }
}
