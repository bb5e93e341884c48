// EXIF orientation: finding the Orientation tag (0x0112) in a JPEG's APP1 "Exif" segment, and
// applying the 8 orientations. The parser reads only inside the bytes it is given: every offset
// from the file is checked before it is used, and anything malformed means "no orientation".
#include <cstddef>
#include <optional>

#include "xib/media/image.h"

namespace xib::media {

namespace {

/// A bounds-checked view of the TIFF structure inside the Exif segment.
struct Tiff {
  std::span<const uint8_t> b;
  bool little = true;

  std::optional<uint32_t> u16(size_t at) const {
    if (at > b.size() || b.size() - at < 2) return std::nullopt;
    return little ? uint32_t(b[at]) | uint32_t(b[at + 1]) << 8 : uint32_t(b[at]) << 8 | uint32_t(b[at + 1]);
  }
  std::optional<uint32_t> u32(size_t at) const {
    const auto lo = u16(little ? at : at + 2), hi = u16(little ? at + 2 : at);
    if (!lo || !hi) return std::nullopt;
    return *lo | *hi << 16;
  }
};

int orientation_in_tiff(std::span<const uint8_t> tiff) {
  if (tiff.size() < 8) return 1;
  Tiff t{tiff, tiff[0] == 'I'};
  if (!((tiff[0] == 'I' && tiff[1] == 'I') || (tiff[0] == 'M' && tiff[1] == 'M'))) return 1;
  if (t.u16(2) != 42u) return 1;
  const auto ifd0 = t.u32(4);
  if (!ifd0) return 1;
  const auto count = t.u16(*ifd0);
  if (!count) return 1;
  for (uint32_t i = 0; i < *count; ++i) {
    const size_t entry = size_t{*ifd0} + 2 + size_t{i} * 12;
    const auto tag = t.u16(entry), type = t.u16(entry + 2), n = t.u32(entry + 4), value = t.u16(entry + 8);
    if (!tag || !type || !n || !value) return 1;
    if (*tag == 0x0112) {
      // SHORT (type 3), one value, stored left-justified in the value field.
      if (*type != 3 || *n != 1 || *value < 1 || *value > 8) return 1;
      return static_cast<int>(*value);
    }
  }
  return 1;
}

}  // namespace

int jpeg_exif_orientation(std::span<const uint8_t> j) {
  if (j.size() < 4 || j[0] != 0xff || j[1] != 0xd8) return 1;
  size_t pos = 2;
  while (pos + 4 <= j.size()) {
    if (j[pos] != 0xff) return 1;
    const uint8_t marker = j[pos + 1];
    if (marker == 0xff) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0xda || marker == 0xd9) return 1;              // start of scan / end of image: no more headers
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {  // markers without a length
      pos += 2;
      continue;
    }
    const size_t len = size_t{j[pos + 2]} << 8 | j[pos + 3];
    if (len < 2 || len > j.size() - pos - 2) return 1;
    const auto payload = j.subspan(pos + 4, len - 2);
    static constexpr uint8_t kExif[6] = {'E', 'x', 'i', 'f', 0, 0};
    if (marker == 0xe1 && payload.size() >= 6 && std::equal(kExif, kExif + 6, payload.begin())) {
      return orientation_in_tiff(payload.subspan(6));
    }
    pos += 2 + len;
  }
  return 1;
}

Image apply_orientation(const Image& in, int orientation) {
  if (orientation < 2 || orientation > 8) return in;
  const int w = in.width, h = in.height;
  const bool swap = orientation >= 5;
  Image out;
  out.width = swap ? h : w;
  out.height = swap ? w : h;
  out.rgb.resize(in.rgb.size());
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      int sx = x, sy = y;  // the source pixel shown at (x, y)
      switch (orientation) {
        case 2:
          sx = w - 1 - x;
          break;  // mirror left-right
        case 3:
          sx = w - 1 - x, sy = h - 1 - y;
          break;  // rotate 180
        case 4:
          sy = h - 1 - y;
          break;  // mirror top-bottom
        case 5:
          sx = y, sy = x;
          break;  // transpose
        case 6:
          sx = y, sy = h - 1 - x;
          break;  // rotate 90 clockwise
        case 7:
          sx = w - 1 - y, sy = h - 1 - x;
          break;  // transverse
        case 8:
          sx = w - 1 - y, sy = x;
          break;  // rotate 90 counter-clockwise
        default:
          break;
      }
      const size_t d = (static_cast<size_t>(y) * out.width + x) * 3, s = (static_cast<size_t>(sy) * w + sx) * 3;
      out.rgb[d] = in.rgb[s];
      out.rgb[d + 1] = in.rgb[s + 1];
      out.rgb[d + 2] = in.rgb[s + 2];
    }
  }
  return out;
}

}  // namespace xib::media
