// Image decoding against PIL: every PNG mode exactly, JPEG within a tolerance (PIL's bundled
// libjpeg-turbo and the system's may round the IDCT differently), EXIF orientations 1–8 as
// PIL's ImageOps.exif_transpose applies them. Fixtures: tools/fixtures/make_image_fixtures.py.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "xib/media/image.h"

namespace fs = std::filesystem;
using namespace xib::media;

namespace {

fs::path image_dir() { return xib::test::source_dir() / "kernel/media/image/tests/data"; }

nlohmann::json expected() { return nlohmann::json::parse(xib::test::read_file(image_dir() / "expected.json")); }

int max_abs_diff(const Image& img, const std::string& want) {
  int worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    worst = std::max(worst, std::abs(int(img.rgb[i]) - int(static_cast<uint8_t>(want[i]))));
  }
  return worst;
}

std::vector<uint8_t> bytes_of(const fs::path& f) {
  const std::string s = xib::test::read_file(f);
  return {s.begin(), s.end()};
}

}  // namespace

TEST_CASE("read_image: every fixture decodes to PIL's RGB pixels") {
  const auto want = expected()["images"];
  REQUIRE(want.size() >= 25);
  int png = 0, jpeg = 0;
  for (const auto& [name, e] : want.items()) {
    CAPTURE(name);
    CAPTURE(e["mode"].get<std::string>());
    const Image img = read_image(image_dir() / name);
    CHECK(img.channels == 3);
    REQUIRE(img.width == e["width"].get<int>());
    REQUIRE(img.height == e["height"].get<int>());
    const std::string ref = xib::test::read_file(image_dir() / (name + ".rgb"));
    REQUIRE(img.rgb.size() == ref.size());
    const int diff = max_abs_diff(img, ref);
    if (e["exact"].get<bool>()) {
      CHECK(diff == 0);
      ++png;
    } else {
      CHECK(diff <= 2);  // JPEG: same algorithm, possibly another libjpeg-turbo build
      ++jpeg;
    }
  }
  CHECK(png >= 12);
  CHECK(jpeg >= 12);
}

TEST_CASE("read_image: EXIF orientations 1 to 8, little- and big-endian") {
  for (int o = 1; o <= 8; ++o) {
    CAPTURE(o);
    const auto file = image_dir() / ("orient" + std::to_string(o) + ".jpg");
    CHECK(jpeg_exif_orientation(bytes_of(file)) == o);
    const Image shown = read_image(file);
    CHECK(shown.width == (o >= 5 ? 8 : 12));
    const Image stored = read_image(file, {.apply_exif_orientation = false});
    CHECK(stored.width == 12);
    CHECK(stored.height == 8);
    // Applying the orientation to the stored pixels gives what read_image shows.
    CHECK(apply_orientation(stored, o).rgb == shown.rgb);
  }
  CHECK(jpeg_exif_orientation(bytes_of(image_dir() / "orient6_mm.jpg")) == 6);
  CHECK(read_image(image_dir() / "orient6_mm.jpg").width == 8);
}

TEST_CASE("read_image: malformed EXIF is ignored, never read out of bounds") {
  for (const char* name : {"exif_bad_offset.jpg", "exif_short_ifd.jpg", "exif_orient9.jpg"}) {
    CAPTURE(name);
    CHECK(jpeg_exif_orientation(bytes_of(image_dir() / name)) == 1);
    CHECK(read_image(image_dir() / name).width == 12);
  }
  // Every prefix of a file with EXIF: the parser stays inside the bytes it is given.
  const auto b = bytes_of(image_dir() / "orient6.jpg");
  for (size_t n = 0; n < std::min<size_t>(b.size(), 200); ++n) {
    const int o = jpeg_exif_orientation(std::span<const uint8_t>(b.data(), n));
    CHECK((o == 1 || o == 6));
  }
  CHECK(jpeg_exif_orientation(bytes_of(image_dir() / "rgb.png")) == 1);
}

TEST_CASE("apply_orientation: the eight transforms on a 3x2 image") {
  Image img{.width = 3, .height = 2};
  for (int i = 0; i < 6; ++i) img.rgb.insert(img.rgb.end(), {uint8_t(i), 0, 0});
  auto reds = [](const Image& m) {
    std::vector<int> r;
    for (int y = 0; y < m.height; ++y)
      for (int x = 0; x < m.width; ++x) r.push_back(m.at(x, y, 0));
    return r;
  };
  // 0 1 2 / 3 4 5 displayed per EXIF (PIL: FLIP_LEFT_RIGHT, ROTATE_180, FLIP_TOP_BOTTOM,
  // TRANSPOSE, ROTATE_270, TRANSVERSE, ROTATE_90).
  CHECK(reds(apply_orientation(img, 1)) == std::vector<int>{0, 1, 2, 3, 4, 5});
  CHECK(reds(apply_orientation(img, 2)) == std::vector<int>{2, 1, 0, 5, 4, 3});
  CHECK(reds(apply_orientation(img, 3)) == std::vector<int>{5, 4, 3, 2, 1, 0});
  CHECK(reds(apply_orientation(img, 4)) == std::vector<int>{3, 4, 5, 0, 1, 2});
  CHECK(reds(apply_orientation(img, 5)) == std::vector<int>{0, 3, 1, 4, 2, 5});
  CHECK(reds(apply_orientation(img, 6)) == std::vector<int>{3, 0, 4, 1, 5, 2});
  CHECK(reds(apply_orientation(img, 7)) == std::vector<int>{5, 2, 4, 1, 3, 0});
  CHECK(reds(apply_orientation(img, 8)) == std::vector<int>{2, 5, 1, 4, 0, 3});
  CHECK(apply_orientation(img, 6).width == 2);
}

TEST_CASE("sniff_image_format: by content, not by file name") {
  CHECK(sniff_image_format(bytes_of(image_dir() / "rgb.png")) == ImageFormat::png);
  CHECK(sniff_image_format(bytes_of(image_dir() / "rgb.jpg")) == ImageFormat::jpeg);
  CHECK(sniff_image_format(bytes_of(image_dir() / "not_an_image.png")) == ImageFormat::unknown);
  CHECK(std::string(image_format_name(ImageFormat::jpeg)) == "jpeg");
  xib::test::TempDir tmp;
  fs::copy_file(image_dir() / "rgb.png", tmp / "really_a_png.jpg");
  const Image a = read_image(tmp / "really_a_png.jpg"), b = read_image(image_dir() / "rgb.png");
  CHECK(a.rgb == b.rgb);
}
