// Image files: sniffing, reading, writing by extension, and the error helpers the codecs share.
#include "xib/media/image.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "image_codecs.h"
#include "xib/error.h"
#include "xib/files.h"

namespace xib::media {

namespace image_detail {

void decode_failed(const std::string& format, const std::string& source, const std::string& message, std::string hint) {
  throw FormatError({.what = fmt::format("cannot decode {} image", format),
                     .where = source,
                     .expected = fmt::format("a complete, valid {} file", format),
                     .got = message,
                     .hint = hint.empty() ? "the file is corrupt or truncated; re-download or re-encode it" : hint});
}

void check_dimensions(const std::string& format, const std::string& source, uint64_t width, uint64_t height,
                      int64_t max_pixels) {
  if (width == 0 || height == 0) {
    decode_failed(format, source, fmt::format("a {}x{} image", width, height), "an image needs at least one pixel");
  }
  if (width * height > static_cast<uint64_t>(max_pixels)) {
    throw FormatError(
        {.what = fmt::format("{} image is too large", format),
         .where = source,
         .expected = fmt::format("at most {} pixels", max_pixels),
         .got = fmt::format("{}x{} = {} pixels", width, height, width * height),
         .hint = "if the image is genuine, raise max_pixels (a recipe: the image processor's processor.max_pixels)"});
  }
}

}  // namespace image_detail

const char* image_format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::png:
      return "png";
    case ImageFormat::jpeg:
      return "jpeg";
    case ImageFormat::unknown:
      break;
  }
  return "unknown";
}

ImageFormat sniff_image_format(std::span<const uint8_t> b) {
  static constexpr uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (b.size() >= 8 && std::equal(kPng, kPng + 8, b.begin())) return ImageFormat::png;
  if (b.size() >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) return ImageFormat::jpeg;
  return ImageFormat::unknown;
}

namespace {

std::string describe_start(std::span<const uint8_t> b) {
  if (b.empty()) return "an empty file";
  std::string hex;
  for (size_t i = 0; i < std::min<size_t>(b.size(), 8); ++i) hex += fmt::format("{:02x} ", b[i]);
  const bool gif = b.size() >= 4 && b[0] == 'G' && b[1] == 'I' && b[2] == 'F';
  const bool bmp = b.size() >= 2 && b[0] == 'B' && b[1] == 'M';
  const bool webp = b.size() >= 12 && std::equal(b.begin() + 8, b.begin() + 12, "WEBP");
  const char* kind = gif ? " (a GIF)" : bmp ? " (a BMP)" : webp ? " (a WebP)" : "";
  return fmt::format("{} bytes starting {}{}", b.size(), hex, kind);
}

}  // namespace

Image decode_image(std::span<const uint8_t> bytes, const std::string& source, const ImageReadOptions& options) {
  switch (sniff_image_format(bytes)) {
    case ImageFormat::png:
      return image_detail::decode_png(bytes, source, options.max_pixels);
    case ImageFormat::jpeg: {
      Image img = image_detail::decode_jpeg(bytes, source, options.max_pixels);
      if (options.apply_exif_orientation) img = apply_orientation(img, jpeg_exif_orientation(bytes));
      return img;
    }
    case ImageFormat::unknown:
      break;
  }
  throw FormatError({.what = "not an image xib can read",
                     .where = source,
                     .expected = "a PNG or JPEG file (recognised by its content, not its name)",
                     .got = describe_start(bytes),
                     .hint = "convert it, e.g. `convert in.gif out.png`"});
}

Image read_image(const std::filesystem::path& file, const ImageReadOptions& options) {
  if (auto why = unreadable_reason(file)) {
    throw IoError({.what = "cannot read image",
                   .where = file.string(),
                   .expected = "an image file",
                   .got = *why,
                   .hint = "check the file's permissions"});
  }
  errno = 0;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw IoError({.what = "cannot read image",
                   .where = file.string(),
                   .got = errno ? std::strerror(errno) : "it cannot be opened",
                   .hint = "check the file's permissions"});
  }
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw IoError({.what = "cannot read image", .where = file.string(), .got = "a read error (EIO)"});
  return decode_image(bytes, file.string(), options);
}

void write_image(const Image& image, const std::filesystem::path& file, int jpeg_quality) {
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  std::vector<uint8_t> bytes;
  if (ext == ".png") {
    bytes = encode_png(image);
  } else if (ext == ".jpg" || ext == ".jpeg") {
    bytes = encode_jpeg(image, jpeg_quality);
  } else {
    throw UsageError({.what = "cannot choose an image format for this file name",
                      .where = file.string(),
                      .expected = "an extension .png, .jpg or .jpeg",
                      .got = ext.empty() ? "no extension" : ext});
  }
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw IoError({.what = "cannot write image", .where = file.string(), .got = "a write error"});
}

}  // namespace xib::media
