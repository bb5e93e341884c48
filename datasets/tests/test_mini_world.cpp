// The miniature image world: determinism, ground truth that the pixels and texts agree on, and
// files the caption/qa readers accept.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <set>

#include "dataset_test_support.h"
#include "test_support.h"
#include "xib/datasets/mini_world.h"
#include "xib/media/image.h"

using namespace xib;
using namespace xib::datasets;

namespace {

WorldOptions small_world(const std::filesystem::path& out) {
  WorldOptions o;
  o.out = out;
  o.train = 12;
  o.val = 4;
  o.test = 4;
  o.size = 64;
  o.seed = 5;
  return o;
}

}  // namespace

TEST_CASE("mini world: the same seed writes the same files, another seed another world") {
  test::TempDir a, b, c;
  write_world(small_world(a.path()));
  write_world(small_world(b.path()));
  auto other = small_world(c.path());
  other.seed = 6;
  write_world(other);
  for (const char* f : {"caption_train.json", "qa_val.json", "images/train_00003.png", "images/test_00001.png"}) {
    CHECK_MESSAGE(test::read_file(a / f) == test::read_file(b / f), f);
  }
  CHECK(test::read_file(a / "caption_train.json") != test::read_file(c / "caption_train.json"));
}

TEST_CASE("mini world: every object is drawn where the scene says, in its colour") {
  Rng rng(11);
  for (int i = 0; i < 40; ++i) {
    const Scene s = sample_scene(rng, 1, 4);
    REQUIRE(!s.objects.empty());
    const media::Image img = render_scene(s, 96);
    std::set<int> cells;
    for (const auto& o : s.objects) {
      CHECK(cells.insert(o.cell).second);  // one object per cell
      CHECK(o.colour != s.background);
      const int x = static_cast<int>(o.cx * 96), y = static_cast<int>(o.cy * 96 + (o.shape == "triangle" ? 4 : 0));
      const media::Image probe =
          render_scene(Scene{.background = o.colour == "black" ? "white" : "black", .objects = {o}}, 96);
      // The pixel at the object's centre has the object's colour in the scene as in a lone drawing.
      for (int ch = 0; ch < 3; ++ch) CHECK(img.at(x, y, ch) == probe.at(x, y, ch));
    }
  }
}

TEST_CASE("mini world: captions name every object and questions are answered by the scene") {
  Rng rng(2);
  for (int i = 0; i < 40; ++i) {
    const Scene s = sample_scene(rng, 1, 3);
    const auto caps = describe_scene(s, rng, 5);
    CHECK(caps.size() == 5);
    CHECK(std::set<std::string>(caps.begin(), caps.end()).size() == 5);
    for (const auto& c : caps) {
      for (const auto& o : s.objects) {
        CHECK_MESSAGE(c.find(o.shape) != std::string::npos, c);
      }
    }
    for (const auto& qa : ask_about_scene(s, rng, 20)) {
      if (qa.question.rfind("how many", 0) == 0) {
        const char* words[] = {"zero", "one", "two", "three"};
        CHECK(qa.answer == words[s.objects.size()]);
      } else if (qa.question == "what colour is the background?") {
        CHECK(qa.answer == s.background);
      } else if (qa.question.rfind("what colour is the ", 0) == 0) {
        bool found = false;
        for (const auto& o : s.objects)
          found |= qa.question == "what colour is the " + o.shape + "?" && qa.answer == o.colour;
        CHECK_MESSAGE(found, qa.question);
      } else if (qa.question.rfind("is there a", 0) == 0 && qa.question.find("anything") == std::string::npos) {
        bool present = false;
        for (const auto& o : s.objects) present |= qa.question.find(" " + o.shape + "?") != std::string::npos;
        CHECK(qa.answer == (present ? "yes" : "no"));
      }
    }
  }
}

TEST_CASE("mini world: the files are LAVIS annotations the readers accept, and a different world is not overwritten") {
  test::register_test_prompts();  // the image plugin, which owns the templates, is not loaded here
  test::TempDir dir;
  const auto summary = write_world(small_world(dir.path()));
  CHECK(summary.images == 20);
  CHECK(summary.caption_entries == 12 * 5 + 8);
  CHECK(summary.qa_entries == 20 * 3);
  const auto src = ConfigSource::from_string("{reader: caption, path: caption_train.json}", "r.yaml", dir.path());
  const LavisDataset train(bind<LavisReaderOptions>(src->section()));
  CHECK(train.size() == 60);
  const auto src2 = ConfigSource::from_string("{reader: qa, path: qa_test.json}", "r.yaml", dir.path());
  const LavisDataset qa(bind<LavisReaderOptions>(src2->section()));
  CHECK(qa.size() == 12);
  const auto val = nlohmann::json::parse(std::ifstream(dir / "caption_val.json"));
  CHECK(val[0]["caption"].size() == 5);
  const media::Image img = media::read_image(dir / "images/val_00000.png");
  CHECK(img.width == 64);

  CHECK_NOTHROW(write_world(small_world(dir.path())));  // the same world: kept as it is
  auto other = small_world(dir.path());
  other.seed = 9;
  CHECK_THROWS_AS(write_world(other), UsageError);
  other.overwrite = true;
  CHECK_NOTHROW(write_world(other));
}

TEST_CASE("mini world: validation and test scenes and captions never occur in an earlier split") {
  test::TempDir d;
  WorldOptions o = small_world(d.path());
  o.train = 600;  // enough that chance repeats would be many (one-object scenes are few)
  o.val = 60;
  o.test = 60;
  o.size = 16;
  write_world(o);
  const auto scenes = nlohmann::json::parse(test::read_file(d / "scenes.json"));
  auto key = [&](const std::string& id) {
    const auto& s = scenes.at(id);
    std::string k = s["background"].get<std::string>();
    for (const auto& obj : s["objects"])
      k += "|" + obj["size"].get<std::string>() + obj["colour"].get<std::string>() + obj["shape"].get<std::string>() +
           obj["place"].get<std::string>();
    return k;
  };
  std::map<std::string, std::set<std::string>> split_scenes, split_captions;
  for (const std::string split : {"train", "val", "test"}) {
    for (const auto& e : nlohmann::json::parse(test::read_file(d / ("caption_" + split + ".json")))) {
      split_scenes[split].insert(key(e["image_id"].get<std::string>()));
      if (e["caption"].is_string()) {
        split_captions[split].insert(e["caption"].get<std::string>());
      } else {
        CHECK(e["caption"].size() == 5);
        for (const auto& c : e["caption"]) split_captions[split].insert(c.get<std::string>());
      }
    }
  }
  auto overlap = [](const std::set<std::string>& a, const std::set<std::string>& b) {
    int64_t n = 0;
    for (const auto& x : a) n += b.count(x);
    return n;
  };
  CHECK(split_scenes["train"].size() > 300);
  CHECK(overlap(split_scenes["val"], split_scenes["train"]) == 0);
  CHECK(overlap(split_scenes["test"], split_scenes["train"]) == 0);
  CHECK(overlap(split_scenes["test"], split_scenes["val"]) == 0);
  CHECK(overlap(split_captions["val"], split_captions["train"]) == 0);
  CHECK(overlap(split_captions["test"], split_captions["train"]) == 0);
  CHECK(overlap(split_captions["test"], split_captions["val"]) == 0);
  CHECK(split_scenes["test"].size() == 60);  // and no two test images are the same scene

  // A world of the same settings written by the older generator (format 1) is written again.
  auto marker = nlohmann::json::parse(test::read_file(d / "world.json"));
  marker["identity"]["format"] = 1;
  d.write("world.json", marker.dump());
  CHECK_NOTHROW(write_world(o));
  CHECK(nlohmann::json::parse(test::read_file(d / "world.json"))["identity"]["format"] == 2);
}
