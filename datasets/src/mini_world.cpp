// The miniature image world (xib/datasets/mini_world.h): scenes, their rendering, captions and
// questions. Files are written by mini_world_files.cpp.
#include "xib/datasets/mini_world.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <set>

#include "xib/error.h"

namespace xib::datasets {
namespace {

struct Rgb {
  uint8_t r, g, b;
};

const std::map<std::string, Rgb>& colour_values() {
  static const std::map<std::string, Rgb> m = {
      {"red", {215, 40, 40}},     {"green", {40, 165, 60}},   {"blue", {45, 85, 220}},
      {"yellow", {240, 205, 35}}, {"purple", {140, 60, 180}}, {"orange", {245, 135, 25}},
      {"white", {242, 242, 242}}, {"black", {22, 22, 22}},    {"gray", {128, 128, 128}},
  };
  return m;
}

const char* const kCountWords[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"};

template <class T>
const T& pick(const std::vector<T>& v, Rng& rng) {
  return v[rng.below(v.size())];
}

template <class T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}

bool inside(const SceneObject& o, double x, double y) {
  const double dx = x - o.cx, dy = y - o.cy, r = o.radius;
  if (o.shape == "circle") return dx * dx + dy * dy <= r * r;
  if (o.shape == "square") return std::abs(dx) <= 0.85 * r && std::abs(dy) <= 0.85 * r;
  if (o.shape == "diamond") return std::abs(dx) + std::abs(dy) <= r;
  // triangle, apex up: from (0, -r) to the base at dy = 0.8 r with half-width 0.95 r
  if (dy < -r || dy > 0.8 * r) return false;
  return std::abs(dx) <= 0.95 * r * (dy + r) / (1.8 * r);
}

std::string with_article(const std::string& phrase) {
  static const std::string vowels = "aeiou";
  return (vowels.find(phrase[0]) != std::string::npos ? "an " : "a ") + phrase;
}

std::string object_phrase(const SceneObject& o) { return with_article(o.size + " " + o.colour + " " + o.shape); }

std::string where_phrase(int cell) {
  const std::string p = place_words(cell);
  if (p == "center") return "in the center";
  if (p == "left" || p == "right") return "on the " + p;
  if (p == "top" || p == "bottom") return "at the " + p;
  return "in the " + p;
}

std::string join_and(const std::vector<std::string>& parts) {
  if (parts.empty()) return "";
  if (parts.size() == 1) return parts[0];
  std::string s;
  for (size_t i = 0; i + 1 < parts.size(); ++i) s += (i ? ", " : "") + parts[i];
  return s + " and " + parts.back();
}

std::string count_word(size_t n) { return n < 10 ? kCountWords[n] : std::to_string(n); }

}  // namespace

const std::vector<std::string>& world_shapes() {
  static const std::vector<std::string> v = {"circle", "square", "triangle", "diamond"};
  return v;
}
const std::vector<std::string>& world_colours() {
  static const std::vector<std::string> v = {"red", "green", "blue", "yellow", "purple", "orange", "white", "black"};
  return v;
}
const std::vector<std::string>& world_backgrounds() {
  static const std::vector<std::string> v = {"gray", "black", "white"};
  return v;
}

std::string place_words(int cell) {
  static const char* const rows[] = {"top", "", "bottom"};
  static const char* const cols[] = {"left", "", "right"};
  const std::string r = rows[cell / 3], c = cols[cell % 3];
  if (r.empty() && c.empty()) return "center";
  if (r.empty()) return c;
  if (c.empty()) return r;
  return r + " " + c;
}

Scene sample_scene(Rng& rng, int64_t min_objects, int64_t max_objects) {
  Scene s;
  s.background = pick(world_backgrounds(), rng);
  const auto n = static_cast<size_t>(min_objects + static_cast<int64_t>(rng.below(max_objects - min_objects + 1)));
  std::vector<int> cells = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  shuffle(cells, rng);
  cells.resize(n);
  std::sort(cells.begin(), cells.end());  // reading order: captions list objects as one reads
  std::vector<std::string> colours;
  for (const auto& c : world_colours()) {
    if (c != s.background) colours.push_back(c);
  }
  for (int cell : cells) {
    SceneObject o;
    o.shape = pick(world_shapes(), rng);
    o.colour = pick(colours, rng);
    o.size = rng.below(2) ? "large" : "small";
    o.cell = cell;
    o.radius = o.size == "large" ? 0.14 : 0.085;
    const double slack = 1.0 / 6 - o.radius - 0.01;
    o.cx = (cell % 3 + 0.5) / 3 + (rng.uniform() * 2 - 1) * std::max(0.0, slack);
    o.cy = (cell / 3 + 0.5) / 3 + (rng.uniform() * 2 - 1) * std::max(0.0, slack);
    s.objects.push_back(o);
  }
  return s;
}

media::Image render_scene(const Scene& scene, int size) {
  media::Image img;
  img.width = img.height = size;
  img.rgb.resize(static_cast<size_t>(size) * size * 3);
  const Rgb bg = colour_values().at(scene.background);
  constexpr int kSub = 4;
  for (int y = 0; y < size; ++y) {
    for (int x = 0; x < size; ++x) {
      double acc[3] = {0, 0, 0};
      for (int sy = 0; sy < kSub; ++sy) {
        for (int sx = 0; sx < kSub; ++sx) {
          const double u = (x + (sx + 0.5) / kSub) / size, v = (y + (sy + 0.5) / kSub) / size;
          Rgb c = bg;
          for (const auto& o : scene.objects) {
            if (inside(o, u, v)) c = colour_values().at(o.colour);
          }
          acc[0] += c.r;
          acc[1] += c.g;
          acc[2] += c.b;
        }
      }
      for (int ch = 0; ch < 3; ++ch) {
        img.rgb[(static_cast<size_t>(y) * size + x) * 3 + ch] =
            static_cast<uint8_t>(std::lround(acc[ch] / (kSub * kSub)));
      }
    }
  }
  return img;
}

std::vector<std::string> describe_scene(const Scene& scene, Rng& rng, int64_t n) {
  std::vector<std::string> objs, placed, shapes;
  for (const auto& o : scene.objects) {
    objs.push_back(object_phrase(o));
    placed.push_back(object_phrase(o) + " " + where_phrase(o.cell));
    shapes.push_back(with_article(o.shape));
  }
  const size_t k = scene.objects.size();
  const std::string bg = scene.background;
  std::vector<std::string> all = {
      join_and(objs) + " on a " + bg + " background",
      "a " + bg + " background with " + join_and(objs),
      join_and(placed),
      count_word(k) + (k == 1 ? " object" : " objects") + " on " + bg + ": " + join_and(shapes),
      join_and(placed) + " on a " + bg + " background",
      std::string(k == 1 ? "there is " : "there are ") + join_and(objs) + " on a " + bg + " background",
      "a picture of " + join_and(objs),
  };
  shuffle(all, rng);
  all.resize(std::min<size_t>(all.size(), static_cast<size_t>(std::max<int64_t>(n, 0))));
  return all;
}

std::vector<QaPair> ask_about_scene(const Scene& scene, Rng& rng, int64_t n) {
  std::map<std::string, int> shape_count, colour_count;
  for (const auto& o : scene.objects) {
    ++shape_count[o.shape];
    ++colour_count[o.colour];
  }
  std::vector<QaPair> qs;
  const size_t k = scene.objects.size();
  qs.push_back({rng.below(2) ? "how many objects are there?" : "how many shapes are in the picture?", count_word(k)});
  qs.push_back({"what colour is the background?", scene.background});
  for (const auto& o : scene.objects) {
    if (shape_count[o.shape] == 1) {
      qs.push_back({"what colour is the " + o.shape + "?", o.colour});
      qs.push_back({"where is the " + o.shape + "?", place_words(o.cell)});
      qs.push_back({"is the " + o.shape + " large or small?", o.size});
    }
    if (colour_count[o.colour] == 1) qs.push_back({"what shape is the " + o.colour + " object?", o.shape});
  }
  const std::string s = pick(world_shapes(), rng);
  qs.push_back({"is there " + with_article(s) + "?", shape_count.count(s) ? "yes" : "no"});
  std::vector<std::string> colours = world_colours();
  colours.erase(std::remove(colours.begin(), colours.end(), scene.background), colours.end());
  const std::string c = pick(colours, rng);
  qs.push_back({"is there anything " + c + "?", colour_count.count(c) ? "yes" : "no"});
  shuffle(qs, rng);
  qs.resize(std::min<size_t>(qs.size(), static_cast<size_t>(std::max<int64_t>(n, 0))));
  return qs;
}

nlohmann::json scene_json(const Scene& scene) {
  nlohmann::json objs = nlohmann::json::array();
  for (const auto& o : scene.objects) {
    objs.push_back({{"shape", o.shape},
                    {"colour", o.colour},
                    {"size", o.size},
                    {"place", place_words(o.cell)},
                    {"center", {o.cx, o.cy}},
                    {"radius", o.radius}});
  }
  return {{"background", scene.background}, {"objects", objs}};
}

}  // namespace xib::datasets
