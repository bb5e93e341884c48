// Writing the miniature world to disk and the `mini_world` recipe kind.
#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <iostream>

#include "xib/datasets/mini_world.h"
#include "xib/error.h"
#include "xib/files.h"
#include "xib/json_text.h"
#include "xib/plot.h"
#include "xib/progress.h"
#include "xib/recipe.h"

namespace xib::datasets {

void WorldOptions::validate(Validator& v) const {
  v.require(train >= 0 && val >= 0 && test >= 0 && train + val + test > 0, "train",
            "image counts of 0 or more, not all 0", fmt::format("{}/{}/{}", train, val, test));
  v.require(size >= 16 && size <= 1024, "size", "between 16 and 1024 pixels", size);
  v.require(min_objects >= 1 && min_objects <= max_objects, "min_objects", "1 ≤ min_objects ≤ max_objects",
            min_objects);
  v.require(max_objects <= 9, "max_objects", "at most 9 (one object per cell of a 3×3 grid)", max_objects);
  v.require(captions >= 1 && captions <= 7, "captions", "between 1 and 7", captions);
  v.require(questions >= 1, "questions", "a positive number", questions);
}

namespace {

nlohmann::json identity(const WorldOptions& o) {
  return {{"format", 1},
          {"seed", o.seed},
          {"size", o.size},
          {"train", o.train},
          {"val", o.val},
          {"test", o.test},
          {"min_objects", o.min_objects},
          {"max_objects", o.max_objects},
          {"captions", o.captions},
          {"questions", o.questions}};
}

}  // namespace

WorldSummary write_world(const WorldOptions& o) {
  const auto marker = o.out / "world.json";
  if (std::filesystem::exists(marker)) {
    nlohmann::json existing;
    try {
      existing = nlohmann::json::parse(std::ifstream(marker));
    } catch (const std::exception&) {
    }
    if (existing.value("identity", nlohmann::json()) == identity(o) && !o.overwrite) {
      const auto s = existing.value("summary", nlohmann::json::object());
      return {s.value("images", int64_t{0}), s.value("caption_entries", int64_t{0}), s.value("qa_entries", int64_t{0})};
    }
    if (!o.overwrite) {
      throw UsageError({.what = "the folder already holds a different miniature world",
                        .where = marker.string(),
                        .expected = json_text(identity(o)),
                        .got = json_text(existing.value("identity", nlohmann::json())),
                        .hint = "choose another `out`, or set overwrite: true to replace it"});
    }
  }
  std::filesystem::create_directories(o.out / "images");
  WorldSummary summary;
  nlohmann::json scenes = nlohmann::json::object();
  const Rng root(static_cast<uint64_t>(o.seed));
  const std::pair<const char*, int64_t> splits[] = {{"train", o.train}, {"val", o.val}, {"test", o.test}};
  Progress::Options progress;
  progress.label = "world";
  progress.total = o.train + o.val + o.test;
  progress.unit = "img";
  Progress bar(progress);
  for (size_t si = 0; si < 3; ++si) {
    const auto [split, count] = splits[si];
    nlohmann::json captions = nlohmann::json::array(), qa = nlohmann::json::array();
    for (int64_t i = 0; i < count; ++i) {
      Rng rng = root.fork(si * 1'000'003 + static_cast<uint64_t>(i));
      const Scene scene = sample_scene(rng, o.min_objects, o.max_objects);
      const std::string id = fmt::format("{}_{:05}", split, i);
      const std::string rel = "images/" + id + ".png";
      media::write_image(render_scene(scene, static_cast<int>(o.size)), o.out / rel);
      const auto refs = describe_scene(scene, rng, o.captions);
      if (std::string(split) == "train") {
        for (const auto& c : refs) captions.push_back({{"image", rel}, {"caption", c}, {"image_id", id}});
      } else {
        captions.push_back({{"image", rel}, {"caption", refs}, {"image_id", id}});
      }
      int q = 0;
      for (const auto& p : ask_about_scene(scene, rng, o.questions)) {
        qa.push_back({{"image", rel},
                      {"question", p.question},
                      {"answer", {p.answer}},
                      {"question_id", fmt::format("{}_q{}", id, q++)}});
      }
      scenes[id] = scene_json(scene);
      ++summary.images;
      bar.advance();
    }
    summary.caption_entries += static_cast<int64_t>(captions.size());
    summary.qa_entries += static_cast<int64_t>(qa.size());
    write_text_file(o.out / fmt::format("caption_{}.json", split), json_text(captions, 1));
    write_text_file(o.out / fmt::format("qa_{}.json", split), json_text(qa, 1));
  }
  bar.finish();
  write_text_file(o.out / "scenes.json", json_text(scenes, 1));
  const nlohmann::json done = {
      {"identity", identity(o)},
      {"summary",
       {{"images", summary.images}, {"caption_entries", summary.caption_entries}, {"qa_entries", summary.qa_entries}}}};
  write_text_file(marker, json_text(done, 2));
  return summary;
}

namespace {

int run_world(const WorldOptions& o, const ConfigSource&) {
  const auto t0 = std::chrono::steady_clock::now();
  const WorldSummary s = write_world(o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << fmt::format("mini world in {}: {} images, {} caption entries, {} QA entries ({:.1f}s)\n", o.out.string(),
                           s.images, s.caption_entries, s.qa_entries, secs);
  return 0;
}

}  // namespace

void register_mini_world(Registrations& reg) {
  reg.add<RecipeRunner>("mini_world", recipe_kind<WorldOptions>(&run_world),
                        "generate the miniature image world (PNG + LAVIS-style captions and QA)");
}

}  // namespace xib::datasets
