// PNG through libpng's low-level API. libpng reports errors by calling our error function,
// which longjmps back into the function that called setjmp; no C++ object with a destructor
// lives in the frames it skips (only libpng's C frames and the callback). The message is kept
// and turned into a FormatError once libpng's state is freed.
#include <fmt/format.h>
#include <png.h>

#include <csetjmp>
#include <cstring>

#include "image_codecs.h"
#include "xib/error.h"

namespace xib::media {

namespace {

struct PngReadState {
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  char message[256] = {};
};

void png_error_cb(png_structp png, png_const_charp msg) {
  auto* st = static_cast<PngReadState*>(png_get_error_ptr(png));
  if (st != nullptr && st->message[0] == '\0') std::snprintf(st->message, sizeof st->message, "%s", msg);
  png_longjmp(png, 1);
}

void png_warning_cb(png_structp, png_const_charp) {}

void png_read_cb(png_structp png, png_bytep out, png_size_t n) {
  auto* st = static_cast<PngReadState*>(png_get_io_ptr(png));
  if (n > st->size - st->pos) {
    std::snprintf(st->message, sizeof st->message, "truncated: the data ends after %zu bytes", st->size);
    png_longjmp(png, 1);
  }
  std::memcpy(out, st->data + st->pos, n);
  st->pos += n;
}

struct PngWriteState {
  std::vector<uint8_t>* out = nullptr;
  char message[256] = {};
};

void png_write_cb(png_structp png, png_bytep data, png_size_t n) {
  auto* st = static_cast<PngWriteState*>(png_get_io_ptr(png));
  st->out->insert(st->out->end(), data, data + n);
}

void png_write_error_cb(png_structp png, png_const_charp msg) {
  auto* st = static_cast<PngWriteState*>(png_get_error_ptr(png));
  if (st != nullptr && st->message[0] == '\0') std::snprintf(st->message, sizeof st->message, "%s", msg);
  png_longjmp(png, 1);
}

void png_flush_cb(png_structp) {}

}  // namespace

namespace image_detail {

void check_image(const Image& image, const char* format) {
  if (image.width <= 0 || image.height <= 0 || image.channels != 3 ||
      image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3) {
    throw UsageError({.what = fmt::format("cannot encode {}: the image is malformed", format),
                      .expected = "width, height > 0, channels 3 and width*height*3 bytes",
                      .got = fmt::format("{}x{}, {} channels, {} bytes", image.width, image.height, image.channels,
                                         image.rgb.size())});
  }
}

Image decode_png(std::span<const uint8_t> bytes, const std::string& source, int64_t max_pixels) {
  PngReadState st;
  st.data = bytes.data();
  st.size = bytes.size();
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &st, png_error_cb, png_warning_cb);
  if (png == nullptr) throw IoError({.what = "cannot create a PNG decoder", .where = source});
  png_infop info = png_create_info_struct(png);
  Image img;
  std::vector<png_bytep> rows;  // declared before setjmp: a longjmp must skip no destructor
  bool too_large = false;
  png_uint_32 w = 0, h = 0;
  if (info == nullptr || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, info != nullptr ? &info : nullptr, nullptr);
    if (st.message[0] == '\0') std::snprintf(st.message, sizeof st.message, "out of memory");
    decode_failed("png", source, st.message);
  }
  png_set_read_fn(png, &st, png_read_cb);
  png_set_user_limits(png, 1u << 20, 1u << 20);
  png_read_info(png, info);
  w = png_get_image_width(png, info);
  h = png_get_image_height(png, info);
  if (w == 0 || h == 0 || static_cast<uint64_t>(w) * h > static_cast<uint64_t>(max_pixels)) {
    too_large = true;
  } else {
    const int color = png_get_color_type(png, info);
    const int depth = png_get_bit_depth(png, info);
    // Everything to 8-bit RGB the way PIL's convert("RGB") does: alpha and tRNS dropped,
    // palettes looked up, low-depth gray scaled up, 16-bit to its high byte.
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_strip_16(png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != static_cast<size_t>(w) * 3) png_error(png, "unexpected row layout");
    img.width = static_cast<int>(w);
    img.height = static_cast<int>(h);
    img.rgb.resize(static_cast<size_t>(w) * h * 3);
    rows.resize(h);
    for (png_uint_32 y = 0; y < h; ++y) rows[y] = img.rgb.data() + static_cast<size_t>(y) * w * 3;
    png_read_image(png, rows.data());
    png_read_end(png, nullptr);
  }
  png_destroy_read_struct(&png, &info, nullptr);
  if (too_large) check_dimensions("png", source, w, h, max_pixels);
  return img;
}

}  // namespace image_detail

std::vector<uint8_t> encode_png(const Image& image) {
  image_detail::check_image(image, "PNG");
  std::vector<uint8_t> out;
  PngWriteState st;
  st.out = &out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &st, png_write_error_cb, png_warning_cb);
  if (png == nullptr) throw IoError("cannot create a PNG encoder");
  png_infop info = png_create_info_struct(png);
  std::vector<png_bytep> rows(static_cast<size_t>(image.height));
  if (info == nullptr || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, info != nullptr ? &info : nullptr);
    throw IoError({.what = "cannot encode PNG", .got = st.message[0] != '\0' ? st.message : "out of memory"});
  }
  png_set_write_fn(png, &st, png_write_cb, png_flush_cb);
  png_set_IHDR(png, info, static_cast<png_uint_32>(image.width), static_cast<png_uint_32>(image.height), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < image.height; ++y) {
    rows[static_cast<size_t>(y)] = const_cast<png_bytep>(image.rgb.data()) + static_cast<size_t>(y) * image.width * 3;
  }
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

}  // namespace xib::media
