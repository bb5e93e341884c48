// Writing the miniature world to disk and the `mini_world` recipe kind.
#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <set>

#include "xib/datasets/mini_world.h"
#include "xib/error.h"
#include "xib/files.h"
#include "xib/json_text.h"
#include "xib/log.h"
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

/// 2: validation and test scenes and captions disjoint from the splits before them.
constexpr int kWorldFormat = 2;

nlohmann::json identity(const WorldOptions& o) {
  return {{"format", kWorldFormat},
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

/// What makes two scenes the same picture for a reader: the background and each object's shape,
/// colour, size and cell (the small jitter of positions is not content).
std::string scene_key(const Scene& s) {
  std::string k = s.background;
  for (const auto& o : s.objects) k += fmt::format("|{} {} {} {}", o.size, o.colour, o.shape, o.cell);
  return k;
}

/// One image of a split: its scene and reference captions. Held-out splits (val, test) draw
/// until the scene is new to every split before them and to its own, and `n` of its captions
/// never occurred in an earlier split, so nothing of the evaluation data is seen in training (or
/// in selection, for test) verbatim.
struct Drawn {
  Scene scene;
  std::vector<std::string> refs;
};

Drawn draw_image(Rng& rng, const WorldOptions& o, bool held_out, const std::set<std::string>& seen_scenes,
                 const std::set<std::string>& split_scenes, const std::set<std::string>& seen_captions) {
  constexpr int kAttempts = 100000;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    Drawn d{sample_scene(rng, o.min_objects, o.max_objects), {}};
    if (!held_out) {
      d.refs = describe_scene(d.scene, rng, o.captions);
      return d;
    }
    const std::string key = scene_key(d.scene);
    if (seen_scenes.count(key) || split_scenes.count(key)) continue;  // also: each held-out scene once
    for (const auto& c : describe_scene(d.scene, rng, 7)) {           // every phrasing, in a random order
      if (!seen_captions.count(c) && static_cast<int64_t>(d.refs.size()) < o.captions) d.refs.push_back(c);
    }
    if (static_cast<int64_t>(d.refs.size()) == o.captions) return d;
  }
  throw UsageError({.what = "cannot draw a held-out scene unlike every earlier one",
                    .where = o.out.string(),
                    .expected = fmt::format("a scene and {} captions not seen in earlier splits", o.captions),
                    .got = fmt::format("{} attempts failed", kAttempts),
                    .hint = "lower val/test, raise max_objects, or ask for fewer captions"});
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
    const nlohmann::json old = existing.value("identity", nlohmann::json());
    if (old == identity(o) && !o.overwrite) {
      const auto s = existing.value("summary", nlohmann::json::object());
      return {s.value("images", int64_t{0}), s.value("caption_entries", int64_t{0}), s.value("qa_entries", int64_t{0})};
    }
    // A world written by an older generator with the same settings is ours to replace.
    nlohmann::json old_same = old;
    const bool older = old.is_object() && old.value("format", 0) < kWorldFormat;
    if (older) old_same["format"] = kWorldFormat;
    if (older && old_same == identity(o)) {
      log::info("{}: written by an older generator (format {}); writing it again", marker.string(),
                old.value("format", 0));
    } else if (!o.overwrite) {
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
  // Scenes and captions of the splits written so far (train, then val): the later splits avoid them.
  std::set<std::string> seen_scenes, seen_captions;
  for (size_t si = 0; si < 3; ++si) {
    const auto [split, count] = splits[si];
    nlohmann::json captions = nlohmann::json::array(), qa = nlohmann::json::array();
    std::set<std::string> split_scenes, split_captions;
    for (int64_t i = 0; i < count; ++i) {
      Rng rng = root.fork(si * 1'000'003 + static_cast<uint64_t>(i));
      const auto [scene, refs] = draw_image(rng, o, si > 0, seen_scenes, split_scenes, seen_captions);
      split_scenes.insert(scene_key(scene));
      split_captions.insert(refs.begin(), refs.end());
      const std::string id = fmt::format("{}_{:05}", split, i);
      const std::string rel = "images/" + id + ".png";
      media::write_image(render_scene(scene, static_cast<int>(o.size)), o.out / rel);
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
    seen_scenes.insert(split_scenes.begin(), split_scenes.end());
    seen_captions.insert(split_captions.begin(), split_captions.end());
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
