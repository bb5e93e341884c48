// Image files in and out: PNG (libpng) and JPEG (libjpeg-turbo), recognised by content, never
// by extension. Every decoded image is 8-bit RGB, as PIL's Image.open(f).convert("RGB") gives:
// grayscale is replicated, alpha (RGBA, gray+alpha, palette or tRNS transparency) is dropped,
// palettes are looked up. Two deliberate differences from PIL: 16-bit samples keep their high
// byte (PIL clips 16-bit grayscale to 255 instead of scaling it), and a JPEG's EXIF orientation
// is applied (PIL only does so through ImageOps.exif_transpose; switch off with
// ImageReadOptions::apply_exif_orientation). Torch-free.
//
// Errors: a missing or unreadable file is an IoError; corrupt, truncated or unsupported
// content is a FormatError naming the file. The libraries' own error exits are turned into
// these errors; nothing aborts or exits.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace xib::media {

/// An 8-bit RGB image, rows top to bottom, pixels interleaved: rgb[(y * width + x) * 3 + c].
struct Image {
  int width = 0;
  int height = 0;
  int channels = 3;  ///< always 3
  std::vector<uint8_t> rgb = {};

  uint8_t at(int x, int y, int c) const { return rgb[(static_cast<size_t>(y) * width + x) * 3 + c]; }
  bool empty() const { return width == 0 || height == 0; }
};

enum class ImageFormat { unknown, png, jpeg };

/// "png", "jpeg", "unknown".
const char* image_format_name(ImageFormat f);
/// What the first bytes say the content is (PNG signature, JPEG SOI marker).
ImageFormat sniff_image_format(std::span<const uint8_t> bytes);

/// PIL's decompression-bomb threshold: Image.open() refuses more than 2 × MAX_IMAGE_PIXELS
/// (89,478,485) pixels, so the same files are refused here.
inline constexpr int64_t kDefaultMaxPixels = 2 * int64_t{89'478'485};

struct ImageReadOptions {
  bool apply_exif_orientation = true;      ///< JPEG: rotate/flip as the EXIF Orientation tag says
  int64_t max_pixels = kDefaultMaxPixels;  ///< larger images are refused (decompression bombs)
};

/// Decode PNG or JPEG bytes. `source` names the data in error messages (a file name).
Image decode_image(std::span<const uint8_t> bytes, const std::string& source = "<memory>",
                   const ImageReadOptions& options = {});
/// Read and decode a file.
Image read_image(const std::filesystem::path& file, const ImageReadOptions& options = {});

/// Encode as PNG (8-bit RGB, no interlacing).
std::vector<uint8_t> encode_png(const Image& image);
/// Encode as baseline JPEG, 4:2:0, `quality` 1…100.
std::vector<uint8_t> encode_jpeg(const Image& image, int quality = 90);
/// Write a file; the format comes from the extension (.png, .jpg, .jpeg). IoError on failure,
/// UsageError for another extension.
void write_image(const Image& image, const std::filesystem::path& file, int jpeg_quality = 90);

/// The EXIF Orientation (1…8) in a JPEG's APP1 Exif segment; 1 when absent or unreadable.
/// Bounds-checked: malformed EXIF data never reads outside `jpeg`.
int jpeg_exif_orientation(std::span<const uint8_t> jpeg);
/// The image as EXIF orientation `orientation` says it should be displayed (1 = unchanged;
/// 5…8 swap width and height). Same transforms as PIL's ImageOps.exif_transpose.
Image apply_orientation(const Image& image, int orientation);

}  // namespace xib::media
