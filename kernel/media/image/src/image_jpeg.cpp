// JPEG through libjpeg-turbo. libjpeg's default error_exit calls exit(); ours records the
// message and longjmps back to the function that called setjmp (no C++ object with a
// destructor lives in the skipped frames), which frees libjpeg's state and throws. Warnings are
// ignored as PIL ignores them, except "premature end of data": a truncated file is an error.
// clang-format off
#include <cstddef>
#include <cstdio>  // jpeglib.h needs size_t and FILE declared first
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

#include <fmt/format.h>

#include <algorithm>
#include <csetjmp>
#include <cstdlib>

#include "image_codecs.h"
#include "xib/error.h"

namespace xib::media {

namespace {

struct ErrorManager {
  jpeg_error_mgr pub;  // first member: libjpeg hands us a jpeg_error_mgr*
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX + 64] = {};
};

void error_exit_cb(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  if (err->message[0] == '\0') (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void emit_message_cb(j_common_ptr cinfo, int level) {
  // level -1: a warning. A missing end of data means a truncated file: fail instead of
  // returning an image padded with grey (PIL raises "image file is truncated" too).
  if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
    auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
    (*cinfo->err->format_message)(cinfo, err->message);
    std::longjmp(err->jump, 1);
  }
}

void install(ErrorManager& err) {
  jpeg_std_error(&err.pub);
  err.pub.error_exit = error_exit_cb;
  err.pub.emit_message = emit_message_cb;
}

/// PIL's MULDIV255: a * b / 255 rounded the way Pillow's Convert.c does.
inline int muldiv255(int a, int b) {
  const int t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

}  // namespace

namespace image_detail {

Image decode_jpeg(std::span<const uint8_t> bytes, const std::string& source, int64_t max_pixels) {
  jpeg_decompress_struct cinfo{};
  ErrorManager err;
  install(err);
  cinfo.err = &err.pub;
  Image img;
  std::vector<uint8_t> row;  // declared before setjmp: a longjmp must skip no destructor
  bool too_large = false;
  unsigned long w = 0, h = 0;  // NOLINT(google-runtime-int): libjpeg's JDIMENSION
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    decode_failed("jpeg", source, err.message);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));  // NOLINT(google-runtime-int)
  jpeg_read_header(&cinfo, TRUE);
  w = cinfo.image_width;
  h = cinfo.image_height;
  if (w == 0 || h == 0 || static_cast<uint64_t>(w) * h > static_cast<uint64_t>(max_pixels)) {
    too_large = true;
  } else {
    const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    // libjpeg's defaults (islow IDCT, fancy upsampling) are what PIL uses too.
    jpeg_start_decompress(&cinfo);
    const int nc = cinfo.output_components;
    img.width = static_cast<int>(w);
    img.height = static_cast<int>(h);
    img.rgb.resize(static_cast<size_t>(w) * h * 3);
    row.resize(static_cast<size_t>(w) * nc);
    while (cinfo.output_scanline < cinfo.output_height) {
      const size_t y = cinfo.output_scanline;
      JSAMPROW rp = row.data();
      jpeg_read_scanlines(&cinfo, &rp, 1);
      uint8_t* out = img.rgb.data() + y * w * 3;
      if (nc == 3) {
        std::copy(row.begin(), row.end(), out);
      } else {
        // Adobe CMYK JPEGs store inverted inks; PIL reads them as "CMYK;I" and converts
        // R = (255 - K) - C·(255 - K)/255 with inverted back C, K.
        for (size_t x = 0; x < w; ++x) {
          const int k = 255 - row[x * 4 + 3], nk = 255 - k;
          for (int c = 0; c < 3; ++c) out[x * 3 + c] = static_cast<uint8_t>(nk - muldiv255(255 - row[x * 4 + c], nk));
        }
      }
    }
    jpeg_finish_decompress(&cinfo);
  }
  jpeg_destroy_decompress(&cinfo);
  if (too_large) check_dimensions("jpeg", source, w, h, max_pixels);
  return img;
}

}  // namespace image_detail

std::vector<uint8_t> encode_jpeg(const Image& image, int quality) {
  image_detail::check_image(image, "JPEG");
  if (quality < 1 || quality > 100) {
    throw UsageError({.what = "cannot encode JPEG: bad quality", .expected = "1…100", .got = std::to_string(quality)});
  }
  jpeg_compress_struct cinfo{};
  ErrorManager err;
  install(err);
  cinfo.err = &err.pub;
  unsigned char* buffer = nullptr;
  unsigned long size = 0;  // NOLINT(google-runtime-int): jpeg_mem_dest's type
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    std::free(buffer);  // NOLINT(cppcoreguidelines-no-malloc): jpeg_mem_dest allocates with malloc
    throw IoError({.what = "cannot encode JPEG", .got = err.message});
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(image.width);
  cinfo.image_height = static_cast<JDIMENSION>(image.height);
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    auto* rp = const_cast<JSAMPROW>(image.rgb.data() + static_cast<size_t>(cinfo.next_scanline) * image.width * 3);
    jpeg_write_scanlines(&cinfo, &rp, 1);
  }
  jpeg_finish_compress(&cinfo);
  std::vector<uint8_t> out(buffer, buffer + size);
  jpeg_destroy_compress(&cinfo);
  std::free(buffer);  // NOLINT(cppcoreguidelines-no-malloc)
  return out;
}

}  // namespace xib::media
