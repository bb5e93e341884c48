// The image processor against PIL + torchvision (fixtures: tools/make_processor_fixtures.py):
// eval Resize(224)+CenterCrop(224), LAVIS's squash, resized crops, and the float output after
// ToTensor+Normalize; RandomResizedCrop's box rules; skipping undecodable files.
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "image_processor.h"
#include "resize.h"
#include "test_support.h"
#include "torch_doctest.h"  // LibTorch + doctest, in the order that works
#include "xib/error.h"
#include "xib/media/image.h"

namespace fs = std::filesystem;
using namespace xib;
using namespace xib::image;

namespace {

fs::path data() { return fs::path(XIB_IMAGE_TEST_DATA) / "processor"; }

int max_diff(const media::Image& a, const media::Image& b) {
  REQUIRE(a.width == b.width);
  REQUIRE(a.height == b.height);
  int worst = 0;
  for (size_t i = 0; i < a.rgb.size(); ++i) worst = std::max(worst, std::abs(int(a.rgb[i]) - int(b.rgb[i])));
  return worst;
}

std::string stem(const std::string& name) { return name.substr(0, name.rfind('.')); }

nlohmann::json expected() { return nlohmann::json::parse(xib::test::read_file(data() / "expected.json")); }

}  // namespace

TEST_CASE("processor: eval geometry equals torchvision Resize(224) + CenterCrop(224) on PIL") {
  // Pillow 13 sometimes runs the vertical pass first (the 230x1000 portrait here), which moves
  // a few pixels by one step of 1/255; the others match exactly.
  ImageProcessor proc({}, "eva_vit_g");
  const auto want = expected();  // alive for the loop: items() refers into it
  int checked = 0, exact = 0;
  for (const auto& [name, e] : want["images"].items()) {
    CAPTURE(name);
    const media::Image src = media::read_image(data() / name);
    CHECK(src.width == e["width"].get<int>());
    const media::Image ours = proc.prepare(src, false);
    const int diff = max_diff(ours, media::read_image(data() / ("eval_" + stem(name) + ".png")));
    CHECK(diff <= 1);
    exact += diff == 0;
    ++checked;
  }
  CHECK(checked == 5);  // 4x downscale, portrait, 6x upscale, odd crop offset, no resize
  CHECK(exact >= 4);
}

TEST_CASE("processor: squash geometry equals LAVIS's Resize((224, 224))") {
  ProcessorOptions o;
  o.resize = "squash";
  ImageProcessor proc(o, "eva_vit_g");
  const auto want = expected();
  int checked = 0;
  for (const auto& [name, e] : want["images"].items()) {
    if (!e.contains("squash")) continue;
    CAPTURE(name);
    const media::Image ours = proc.prepare(media::read_image(data() / name), false);
    CHECK(max_diff(ours, media::read_image(data() / ("squash_" + stem(name) + ".png"))) == 0);
    ++checked;
  }
  CHECK(checked == 2);
}

TEST_CASE("resize: a given crop box resized to 224 equals torchvision's resized_crop") {
  const auto want = expected();
  int checked = 0;
  for (const auto& [name, e] : want["images"].items()) {
    if (!e.contains("crop")) continue;
    CAPTURE(name);
    const auto& c = e["crop"];
    const CropBox box{.top = c["top"].get<int>(),
                      .left = c["left"].get<int>(),
                      .height = c["height"].get<int>(),
                      .width = c["width"].get<int>()};
    const media::Image ours = resize_bicubic(crop(media::read_image(data() / name), box), 224, 224);
    CHECK(max_diff(ours, media::read_image(data() / ("crop_" + stem(name) + ".png"))) <= 1);
    ++checked;
  }
  CHECK(checked == 3);
}

TEST_CASE("processor: float output equals ToTensor + Normalize(EVA-CLIP mean, std)") {
  ProcessorOptions o;
  o.size = 32;
  ImageProcessor proc(o, "eva_vit_g");
  const torch::Tensor ours = proc.load(data() / "big_rgb.png", false);
  CHECK(ours.sizes() == torch::IntArrayRef{3, 32, 32});
  CHECK(ours.dtype() == torch::kFloat32);
  const std::string raw = xib::test::read_file(data() / "norm32_big_rgb.f32");
  REQUIRE(raw.size() == 3 * 32 * 32 * 4);
  const torch::Tensor want = torch::from_blob(const_cast<char*>(raw.data()), {3, 32, 32}, torch::kFloat32).clone();
  CHECK(torch::allclose(ours, want, 0, 1e-6));
  CHECK(proc.mean() == std::vector<double>{0.48145466, 0.4578275, 0.40821073});
  ImageProcessor imagenet({}, "efficientnet_lite0");
  CHECK(imagenet.stddev() == std::vector<double>{0.229, 0.224, 0.225});
}

TEST_CASE("resize: torchvision's size and centre-crop rounding") {
  CHECK(shorter_side_size(1200, 900, 224) == std::pair{298, 224});  // int(224 * 1200 / 900) = 298
  CHECK(shorter_side_size(301, 225, 224) == std::pair{299, 224});
  CHECK(shorter_side_size(230, 1000, 224) == std::pair{224, 973});
  CHECK(center_crop_box(225, 225, 224) == CropBox{0, 0, 224, 224});   // round(0.5) = 0 (half to even)
  CHECK(center_crop_box(227, 227, 224) == CropBox{2, 2, 224, 224});   // round(1.5) = 2
  CHECK(center_crop_box(299, 224, 224) == CropBox{0, 38, 224, 224});  // round(37.5) = 38
  CHECK_THROWS_AS(resize_bicubic(media::Image{}, 4, 4), xib::UsageError);
  CHECK_THROWS_AS(crop(media::Image{.width = 4, .height = 4, .rgb = std::vector<uint8_t>(48)}, {0, 2, 3, 3}),
                  xib::UsageError);
}

TEST_CASE("random resized crop: boxes respect scale and ratio and follow the seed") {
  const RandomResizedCropOptions o;
  Rng a(5), b(5), c(6);
  bool differs = false;
  for (int i = 0; i < 500; ++i) {
    const CropBox x = random_resized_crop_box(640, 480, o, a);
    CHECK(x == random_resized_crop_box(640, 480, o, b));
    differs = differs || !(x == random_resized_crop_box(640, 480, o, c));
    CHECK(x.top >= 0);
    CHECK(x.left >= 0);
    CHECK(x.top + x.height <= 480);
    CHECK(x.left + x.width <= 640);
    const double area = double(x.width) * x.height / (640.0 * 480.0);
    CHECK(area >= 0.9 - 0.01);
    CHECK(area <= 1.0);
    const double ratio = double(x.width) / x.height;
    CHECK(ratio >= 0.75 - 0.01);
    CHECK(ratio <= 4.0 / 3.0 + 0.01);
  }
  CHECK(differs);
  // No draw fits a 1000x10 strip: torchvision's fallback, the central crop at ratio 4/3.
  Rng r(1);
  CHECK(random_resized_crop_box(1000, 10, o, r) == CropBox{0, 493, 10, 13});
}

TEST_CASE("processor: training output is [3, 224, 224] and seeded") {
  ProcessorOptions o;
  o.seed = 3;
  ImageProcessor p1(o, "efficientnet_lite0"), p2(o, "efficientnet_lite0");
  const torch::Tensor a = p1.load(data() / "big_rgb.png", true), b = p2.load(data() / "big_rgb.png", true);
  CHECK(a.sizes() == torch::IntArrayRef{3, 224, 224});
  CHECK(torch::equal(a, b));
  const torch::Tensor c = p1.load(data() / "big_rgb.png", true);
  CHECK_FALSE(torch::equal(a, c));
}

TEST_CASE("processor: batches skip and count undecodable files when asked, never unreadable ones") {
  xib::test::TempDir tmp;
  const fs::path bad = tmp.write("broken.png", "\x89PNG\r\n\x1a\nnot really");
  const fs::path bad2 = tmp.write("text.jpg", "just text");
  const std::vector<fs::path> files = {data() / "exact.png", bad, data() / "small_rgba.png", bad2};
  ProcessorOptions o;
  o.skip_undecodable = true;
  ImageProcessor proc(o, "efficientnet_lite0");
  const ImageBatch batch = proc.load_batch(files, false);
  CHECK(batch.pixels.sizes() == torch::IntArrayRef{2, 3, 224, 224});
  CHECK(batch.kept == std::vector<size_t>{0, 2});
  CHECK(torch::equal(batch.pixels[1], proc.load(data() / "small_rgba.png", false)));
  const SkipReport r = proc.skipped();
  CHECK(r.count == 2);
  REQUIRE(r.examples.size() == 2);
  CHECK(r.examples[0].find("broken.png") != std::string::npos);
  proc.reset_skipped();
  CHECK(proc.skipped().count == 0);

  ImageProcessor strict({}, "efficientnet_lite0");
  CHECK_THROWS_AS(strict.load_batch(files, false), xib::FormatError);
  CHECK_THROWS_AS(strict.load(tmp / "missing.jpg", false), xib::IoError);
  // A file that cannot be read is an error also when skipping: it is not undecodable content.
  const std::vector<fs::path> unreadable = {data() / "exact.png", tmp / "missing.jpg", tmp.path()};
  for (size_t i = 1; i < unreadable.size(); ++i) {
    CHECK_THROWS_AS(proc.load_batch(std::vector<fs::path>{unreadable[0], unreadable[i]}, false), xib::IoError);
  }
}

TEST_CASE("processor: config() names the eval geometry and the effective normalisation (feature caches key on it)") {
  ImageProcessor eva({}, "eva_vit_g");
  const auto c = eva.config();
  CHECK(c["type"] == "image");
  CHECK(c["size"] == 224);
  CHECK(c["resize"] == "crop");
  CHECK(c["mean"].get<std::vector<double>>() == eva.mean());
  CHECK(c["std"].get<std::vector<double>>() == eva.stddev());
  ProcessorOptions small;
  small.size = 128;
  small.resize = "squash";
  const auto s = ImageProcessor(small, "eva_vit_g").config();
  CHECK(s["size"] == 128);
  CHECK(s["resize"] == "squash");
  CHECK(s != c);
  CHECK(ImageProcessor({}, "efficientnet_lite0").config()["mean"] != c["mean"]);  // the encoder's normalisation
  // Training-only settings do not change what a cache stores.
  ProcessorOptions augmented;
  augmented.scale_min = 0.5;
  augmented.seed = 7;
  CHECK(ImageProcessor(augmented, "eva_vit_g").config() == c);
}
