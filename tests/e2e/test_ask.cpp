// `xib ask`: answers about a file with a trained run (streamed, greedy equal to kind: eval, beam
// search, the --MODALITY shorthand), any PNG or JPEG through an image run, and bad input.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "e2e_support.h"
#include "test_support.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "trained_setup.h"
#include "xib/eval/eval_files.h"
#include "xib/media/image.h"

using namespace xib;
using namespace xib::test;
using nlohmann::json;

TEST_CASE("xib ask: answers about a file with a trained run, streaming, and bad input is a clear error") {
  TrainedSetup s(8);
  const std::string run = s.run().string(), file = (s.dir / "segments/3.txt").string();
  SUBCASE("greedy, streamed: the answer kind: eval gives the same question with the same settings") {
    const auto r = s.xib({"ask", "--run", run, "--input", "segments=" + file, "what comes first?", "--min-new-tokens",
                          "3", "--max-new-tokens", "3", "--threads", "1"});
    REQUIRE_MESSAGE(r.exit_code == 0, diagnose(r));
    std::string answer = r.out;
    while (!answer.empty() && (answer.back() == '\n' || answer.back() == ' ')) answer.pop_back();
    CHECK_FALSE(answer.empty());
    const auto e = s.eval(s.eval_recipe("greedy.yaml", "out: greedy\nbatch_size: 1"),
                          {"generate.qa={num_beams: 1, max_new_tokens: 3, min_new_tokens: 3}"});
    REQUIRE_MESSAGE(e.exit_code == 0, diagnose(e));
    CHECK(eval::read_vqa_predictions(s.dir / "greedy/qa_predictions.json").at("q3a") == answer);
  }
  SUBCASE("beam search, and no question (describe the input)") {
    const auto b = s.xib({"ask", "--run", run, "--input", file, "what comes first?", "--beams", "3", "--stats"});
    REQUIRE_MESSAGE(b.exit_code == 0, diagnose(b));
    CHECK(b.err.find("3 beams") != std::string::npos);
    const auto d = s.xib({"ask", "--run", run, "--input", file});
    REQUIRE_MESSAGE(d.exit_code == 0, diagnose(d));
    CHECK(d.out.find('\n') != std::string::npos);
  }
  SUBCASE("errors") {
    s.dir.write("bad.txt", "0.1 oops\n");
    const auto bad = s.xib({"ask", "--run", run, "--input", (s.dir / "bad.txt").string(), "what?"});
    CHECK(bad.exit_code == 1);
    CHECK_MESSAGE(bad.err.find("bad.txt") != std::string::npos, bad.err);
    CHECK(bad.err.find("not a number") != std::string::npos);
    const auto image = s.xib({"ask", "--run", run, "--image", file, "what?"});
    CHECK(image.exit_code == 1);
    CHECK_MESSAGE(image.err.find("segments") != std::string::npos, image.err);  // the known modalities
    const auto missing = s.xib({"ask", "--run", run, "--input", (s.dir / "nope.txt").string()});
    CHECK(missing.exit_code == 1);
    CHECK(missing.err.find("nope.txt") != std::string::npos);
    const auto norun = s.xib({"ask", "--run", (s.dir / "nowhere").string(), "--input", file});
    CHECK(norun.exit_code == 1);
    CHECK(norun.err.find("run folder not found") != std::string::npos);
    const auto noinput = s.xib({"ask", "--run", run});
    CHECK(noinput.exit_code == 2);
    const auto beams = s.xib({"ask", "--run", run, "--input", file, "--beams", "0"});
    CHECK(beams.exit_code == 2);
    const auto twice = s.xib({"ask", "--run", run, "--input", "segments=" + file, "--segments", file, "what?"});
    CHECK(twice.exit_code == 2);
    CHECK_MESSAGE(twice.err.find("given twice") != std::string::npos, twice.err);
    const auto unknown = s.xib({"ask", "--run", run, "--input", "thermal=" + file, "what?"});
    CHECK(unknown.exit_code == 1);
    CHECK_MESSAGE(unknown.err.find("unknown modality 'thermal'") != std::string::npos, unknown.err);
  }
  SUBCASE("the --MODALITY shorthand of a loaded modality, and the help that lists it") {
    const auto r = s.xib({"ask", "--run", run, "--segments", file, "what comes first?", "--max-new-tokens", "2"});
    CHECK_MESSAGE(r.exit_code == 0, diagnose(r));
    const auto help = s.xib({"ask", "--help"});
    CHECK(help.exit_code == 0);
    CHECK_MESSAGE(help.out.find("--segments") != std::string::npos, help.out);
    CHECK(help.out.find("shorthand of --input segments=FILE") != std::string::npos);
  }
}

TEST_CASE("xib ask --image: any PNG or JPEG is answered, whatever its size, and a corrupt image is a clear error") {
  // A tiny image run: EfficientNet-Lite0 with random weights (no model files needed), 32-pixel
  // inputs, a linear aligner, two training steps on four pictures.
  TempDir dir;
  write_tiny_llama(dir / "lm", 7);
  const auto picture = [](int w, int h, int seed) {
    media::Image im{
        .width = w, .height = h, .channels = 3, .rgb = std::vector<uint8_t>(static_cast<size_t>(w * h * 3))};
    for (size_t i = 0; i < im.rgb.size(); ++i) im.rgb[i] = static_cast<uint8_t>((i * (7 + seed)) % 251);
    return im;
  };
  json captions = json::array();
  std::filesystem::create_directories(dir / "img");
  for (int i = 0; i < 4; ++i) {
    media::write_image(picture(40 + 8 * i, 30, i), dir / fmt::format("img/{}.png", i));
    captions.push_back({{"image", fmt::format("img/{}.png", i)}, {"caption", kWords[i]}, {"image_id", i}});
  }
  std::ofstream(dir / "captions.json") << captions.dump();
  dir.write("train.yaml", R"(kind: train
model:
  llm: {plugin: llama, path: lm}
  modalities:
    image:
      encoder: {type: efficientnet_lite0, random_init: true}
      processor: {size: 32}
      aligner: {type: linear, queries: 2}
data:
  train: [{reader: caption, path: captions.json, modality: image, instructions: ["a short description"]}]
  batch_size: 2
run: {out: run, steps: 2, warmup_steps: 1, threads: 1}
)");
  const auto t = run_xib({"run", (dir / "train.yaml").string()});
  REQUIRE_MESSAGE(t.exit_code == 0, diagnose(t));

  media::write_image(picture(97, 61, 9), dir / "other.jpg");  // not from the training set, another size
  media::write_image(picture(20, 50, 5), dir / "tall.png");
  for (const char* f : {"other.jpg", "tall.png"}) {
    const auto r = run_xib({"ask", "--run", (dir / "run").string(), "--image", (dir / f).string(), "what is this?",
                            "--min-new-tokens", "2", "--max-new-tokens", "4", "--threads", "1"});
    CHECK_MESSAGE(r.exit_code == 0, f << ": " << diagnose(r));
    CHECK_MESSAGE(r.out.size() > 1, f << ": '" << r.out << "'");
  }
  dir.write("broken.png", "\x89PNG\r\n\x1a\n this is not really a PNG");
  const auto bad = run_xib({"ask", "--run", (dir / "run").string(), "--image", (dir / "broken.png").string(), "what?"});
  CHECK(bad.exit_code == 1);
  CHECK_MESSAGE(bad.err.find("broken.png") != std::string::npos, bad.err);
}
