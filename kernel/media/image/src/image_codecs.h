// The codecs behind xib/media/image.h (private to kernel/src/io): each decodes to 8-bit RGB or
// throws a FormatError naming `source`.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "xib/media/image.h"

namespace xib::media::image_detail {

Image decode_png(std::span<const uint8_t> bytes, const std::string& source, int64_t max_pixels);
Image decode_jpeg(std::span<const uint8_t> bytes, const std::string& source, int64_t max_pixels);

/// Encoders' argument check: a UsageError unless the image is well-formed RGB.
void check_image(const Image& image, const char* format);

/// A FormatError: "cannot decode <format> image" at `source`, with the library's message.
[[noreturn]] void decode_failed(const std::string& format, const std::string& source, const std::string& message,
                                std::string hint = {});
/// The image is larger than `max_pixels` (or has a zero side): a FormatError.
void check_dimensions(const std::string& format, const std::string& source, uint64_t width, uint64_t height,
                      int64_t max_pixels);

}  // namespace xib::media::image_detail
