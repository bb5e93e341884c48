// The miniature image world: a seeded generator of simple scenes (shapes of several colours,
// sizes and positions on a plain background) with captions and question–answer pairs derived
// from the scene, written as ordinary files — PNG images and LAVIS-style JSON annotations — so
// the same readers serve it and real datasets. Torch-free.
//
//   out/images/train_00012.png
//   out/caption_train.json   [{"image": "images/train_00012.png", "caption": "…", "image_id": "train_00012"}, …]
//   out/caption_val.json     [{"image": …, "caption": ["…" × 5], "image_id": …}, …]   (references)
//   out/qa_train.json        [{"image": …, "question": "…", "answer": ["…"], "question_id": …}, …]
//   out/scenes.json          the ground truth of every image
//
//   xib run recipes/mini/world.yaml        (kind: mini_world)
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xib/config.h"
#include "xib/media/image.h"
#include "xib/registry.h"
#include "xib/runtime.h"

namespace xib::datasets {

struct WorldOptions {
  std::filesystem::path out = "data/mini";
  int64_t train = 1200;  ///< images per split
  int64_t val = 100;
  int64_t test = 100;
  int64_t seed = 1;
  int64_t size = 128;  ///< image side in pixels
  int64_t min_objects = 1;
  int64_t max_objects = 3;
  int64_t captions = 5;    ///< reference captions per image (training uses each as an entry)
  int64_t questions = 3;   ///< QA pairs per image
  bool overwrite = false;  ///< replace an existing world in `out`

  template <class V>
  void fields(V& v) {
    v("out", out, "folder the world is written to");
    v("train", train, "training images");
    v("val", val, "validation images");
    v("test", test, "test images");
    v("seed", seed, "seed of the scenes (same seed, same world)");
    v("size", size, "image side in pixels");
    v("min_objects", min_objects, "fewest objects in a scene");
    v("max_objects", max_objects, "most objects in a scene (at most 9)");
    v("captions", captions, "reference captions per image");
    v("questions", questions, "question-answer pairs per image");
    v("overwrite", overwrite, "replace an existing world in the folder");
  }
  void validate(Validator& v) const;
};

struct SceneObject {
  std::string shape;                  ///< circle | square | triangle | diamond
  std::string colour;                 ///< red | green | blue | yellow | purple | orange | white | black
  std::string size;                   ///< small | large
  int cell = 0;                       ///< 0..8, row-major 3×3 grid
  double cx = 0, cy = 0, radius = 0;  ///< in [0, 1] image units
};

struct Scene {
  std::string background;  ///< gray | black | white
  std::vector<SceneObject> objects;
};

struct QaPair {
  std::string question;
  std::string answer;
};

/// The words of the world, for tests and documentation.
const std::vector<std::string>& world_shapes();
const std::vector<std::string>& world_colours();
const std::vector<std::string>& world_backgrounds();

/// A random scene: distinct cells, colours differing from the background.
Scene sample_scene(Rng& rng, int64_t min_objects, int64_t max_objects);
/// The scene drawn antialiased (4×4 samples per pixel) at `size` × `size`.
media::Image render_scene(const Scene& scene, int size);
/// Where an object is, in words: "top left", "center", "bottom", ….
std::string place_words(int cell);
/// `n` different captions of the scene (fewer when the templates run out).
std::vector<std::string> describe_scene(const Scene& scene, Rng& rng, int64_t n);
/// `n` question–answer pairs whose answers follow from the scene.
std::vector<QaPair> ask_about_scene(const Scene& scene, Rng& rng, int64_t n);
nlohmann::json scene_json(const Scene& scene);

struct WorldSummary {
  int64_t images = 0, caption_entries = 0, qa_entries = 0;
};
/// Writes the whole world. UsageError when `out` already holds one and !overwrite.
WorldSummary write_world(const WorldOptions& options);

/// Registers the recipe kind `mini_world`.
void register_mini_world(Registrations& reg);

}  // namespace xib::datasets
