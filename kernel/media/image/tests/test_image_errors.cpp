// Image files that must be refused (corrupt, truncated, unsupported, missing, too large), and
// encoding: PNG round-trips exactly, JPEG closely; bad encoder arguments are usage errors.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "test_skip.h"
#include "test_support.h"
#include "xib/error.h"
#include "xib/media/image.h"

namespace fs = std::filesystem;
using namespace xib::media;

namespace {

fs::path image_dir() { return xib::test::source_dir() / "kernel/media/image/tests/data"; }

template <class E>
std::string error_of(auto&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.report();
  } catch (const std::exception& e) {
    return std::string("wrong error: ") + e.what();
  }
  return "no error";
}

Image gradient(int w, int h) {
  Image img{.width = w, .height = h};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      img.rgb.insert(img.rgb.end(), {uint8_t(x * 255 / (w - 1)), uint8_t(y * 255 / (h - 1)), uint8_t((x + y) * 4)});
  return img;
}

}  // namespace

TEST_CASE("read_image: corrupt and truncated files are FormatErrors naming the file") {
  const auto refused = nlohmann::json::parse(xib::test::read_file(image_dir() / "expected.json"))["refused"];
  REQUIRE(refused.size() >= 9);
  for (const auto& n : refused) {
    const std::string name = n.get<std::string>();
    CAPTURE(name);
    const std::string report = error_of<xib::FormatError>([&] { read_image(image_dir() / name); });
    CHECK(report.find(name) != std::string::npos);
    CHECK(report.find("wrong error") == std::string::npos);
    CHECK(report.find("no error") == std::string::npos);
  }
  CHECK(error_of<xib::FormatError>([] { read_image(image_dir() / "truncated.jpg"); }).find("Premature end") !=
        std::string::npos);
  CHECK(error_of<xib::FormatError>([] { read_image(image_dir() / "truncated.png"); }).find("truncated") !=
        std::string::npos);
  CHECK(error_of<xib::FormatError>([] { read_image(image_dir() / "not_an_image.png"); }).find("a GIF") !=
        std::string::npos);
  CHECK(error_of<xib::FormatError>([] { read_image(image_dir() / "empty.png"); }).find("an empty file") !=
        std::string::npos);
}

TEST_CASE("read_image: a missing file, a folder or a FIFO is an IoError saying which, never 'not an image'") {
  CHECK(error_of<xib::IoError>([] { read_image(image_dir() / "nope.png"); }).find("no such file") != std::string::npos);
  CHECK(error_of<xib::IoError>([] { read_image(image_dir()); }).find("a folder") != std::string::npos);
  xib::test::TempDir d;
  const fs::path fifo = d / "pipe.png";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  CHECK(error_of<xib::IoError>([&] { read_image(fifo); }).find("a FIFO") != std::string::npos);  // does not block
}

TEST_CASE("read_image: a file without read permission is an IoError with the reason") {
  if (::geteuid() == 0) return xib::test::skip_test("root reads every file: permissions cannot be tested");
  xib::test::TempDir d;
  const fs::path f = d / "locked.png";
  fs::copy_file(image_dir() / "rgb.png", f);
  fs::permissions(f, fs::perms::none);
  const std::string r = error_of<xib::IoError>([&] { read_image(f); });
  CHECK_MESSAGE(r.find("Permission denied") != std::string::npos, r);
  CHECK(r.find("not an image") == std::string::npos);
}

TEST_CASE("read_image: images above max_pixels are refused before decoding") {
  for (const char* name : {"rgb.png", "rgb.jpg"}) {
    const std::string r = error_of<xib::FormatError>([&] { read_image(image_dir() / name, {.max_pixels = 100}); });
    CHECK(r.find("too large") != std::string::npos);
    CHECK(r.find("23x17") != std::string::npos);
  }
}

namespace {

uint32_t crc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

/// A PNG signature, a valid IHDR chunk claiming w × h, and an empty IDAT chunk: no pixels.
std::vector<uint8_t> png_header(uint32_t w, uint32_t h) {
  std::vector<uint8_t> b = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
  for (uint32_t v : {w, h})
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
  b.insert(b.end(), {8, 2, 0, 0, 0});  // 8-bit RGB
  const uint32_t c = crc32(b.data() + 12, 17);
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(c >> s));
  const uint8_t idat[] = {0, 0, 0, 0, 'I', 'D', 'A', 'T'};
  b.insert(b.end(), std::begin(idat), std::end(idat));
  const uint32_t ci = crc32(idat + 4, 4);
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(ci >> s));
  return b;
}

}  // namespace

TEST_CASE("read_image: the default pixel cap is PIL's decompression-bomb threshold") {
  CHECK(kDefaultMaxPixels == 178'956'970);
  CHECK(ImageReadOptions{}.max_pixels == kDefaultMaxPixels);
  // 13400² = 179.56 M pixels: refused from the header, before any allocation.
  const std::string big = error_of<xib::FormatError>([] { decode_image(png_header(13400, 13400), "big.png"); });
  CHECK_MESSAGE(big.find("too large") != std::string::npos, big);
  // As in PIL, the cap itself is allowed and one pixel more is not (shown on a small cap).
  const std::string at =
      error_of<xib::FormatError>([] { decode_image(png_header(64, 64), "x.png", {.max_pixels = 4096}); });
  CHECK_MESSAGE(at.find("too large") == std::string::npos, at);  // refused only for its missing data
  CHECK(error_of<xib::FormatError>([] {
          decode_image(png_header(64, 65), "x.png", {.max_pixels = 4096});
        }).find("too large") != std::string::npos);
}

TEST_CASE("decode_image: bytes in memory, with the source name in errors") {
  const std::string s = xib::test::read_file(image_dir() / "rgb.png");
  const std::vector<uint8_t> b(s.begin(), s.end());
  CHECK(decode_image(b).width == 23);
  const std::vector<uint8_t> cut(b.begin(), b.begin() + 100);
  CHECK(error_of<xib::FormatError>([&] { decode_image(cut, "upload #3"); }).find("upload #3") != std::string::npos);
}

TEST_CASE("encode_png: round-trips exactly") {
  const Image img = gradient(31, 9);
  const Image back = decode_image(encode_png(img));
  CHECK(back.width == 31);
  CHECK(back.height == 9);
  CHECK(back.rgb == img.rgb);
}

TEST_CASE("encode_jpeg: round-trips closely, quality matters") {
  const Image img = gradient(40, 24);
  double err_hi = 0, err_lo = 0;
  const Image hi = decode_image(encode_jpeg(img, 95)), lo = decode_image(encode_jpeg(img, 10));
  REQUIRE(hi.rgb.size() == img.rgb.size());
  for (size_t i = 0; i < img.rgb.size(); ++i) {
    err_hi += std::abs(int(hi.rgb[i]) - int(img.rgb[i]));
    err_lo += std::abs(int(lo.rgb[i]) - int(img.rgb[i]));
  }
  err_hi /= double(img.rgb.size());
  err_lo /= double(img.rgb.size());
  CHECK(err_hi < 2.0);
  CHECK(err_lo > err_hi);
}

TEST_CASE("write_image: format from the extension") {
  xib::test::TempDir tmp;
  const Image img = gradient(8, 5);
  write_image(img, tmp / "a.png");
  write_image(img, tmp / "b.JPG", 90);
  CHECK(read_image(tmp / "a.png").rgb == img.rgb);
  CHECK(sniff_image_format(encode_jpeg(img)) == ImageFormat::jpeg);
  CHECK(read_image(tmp / "b.JPG").width == 8);
  CHECK(error_of<xib::UsageError>([&] { write_image(img, tmp / "c.gif"); }).find(".gif") != std::string::npos);
  CHECK(error_of<xib::IoError>([&] { write_image(img, tmp / "no/such/dir/d.png"); }).find("cannot write") !=
        std::string::npos);
}

TEST_CASE("encode: malformed images and bad quality are usage errors") {
  Image bad{.width = 4, .height = 4};
  bad.rgb.resize(10);
  CHECK(error_of<xib::UsageError>([&] { encode_png(bad); }).find("malformed") != std::string::npos);
  CHECK(error_of<xib::UsageError>([&] { encode_jpeg(bad); }).find("malformed") != std::string::npos);
  CHECK(error_of<xib::UsageError>([&] { encode_jpeg(gradient(4, 4), 0); }).find("quality") != std::string::npos);
}
