// PIL-exact bicubic resampling (after Pillow's libImaging/Resample.c: the same coefficient
// computation, 22-bit fixed point and two passes) and torchvision's crop arithmetic.
#include "resize.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "xib/error.h"

namespace xib::image {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double bicubic(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

/// Per output pixel: the first input index, the number of taps, and fixed-point weights.
struct Coefficients {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> k;  // out_size × ksize
};

Coefficients precompute(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 2.0 * filterscale;
  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.k.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> w(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      w[x] = bicubic((x + xmin - center + 0.5) * ss);
      ww += w[x];
    }
    for (int x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? w[x] / ww : w[x];
      c.k[static_cast<size_t>(xx) * c.ksize + x] =
          static_cast<int32_t>(v < 0 ? -0.5 + v * (1 << kPrecisionBits) : 0.5 + v * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

inline uint8_t clip8(int32_t v) { return static_cast<uint8_t>(std::clamp(v >> kPrecisionBits, 0, 255)); }

media::Image horizontal(const media::Image& in, int out_w) {
  const Coefficients c = precompute(in.width, out_w);
  media::Image out{.width = out_w, .height = in.height};
  out.rgb.resize(static_cast<size_t>(out_w) * in.height * 3);
  for (int y = 0; y < in.height; ++y) {
    const uint8_t* row = in.rgb.data() + static_cast<size_t>(y) * in.width * 3;
    uint8_t* o = out.rgb.data() + static_cast<size_t>(y) * out_w * 3;
    for (int xx = 0; xx < out_w; ++xx) {
      const int32_t* k = c.k.data() + static_cast<size_t>(xx) * c.ksize;
      int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
      const uint8_t* p = row + static_cast<size_t>(c.first[xx]) * 3;
      for (int x = 0; x < c.count[xx]; ++x) {
        s0 += p[x * 3] * k[x];
        s1 += p[x * 3 + 1] * k[x];
        s2 += p[x * 3 + 2] * k[x];
      }
      o[xx * 3] = clip8(s0);
      o[xx * 3 + 1] = clip8(s1);
      o[xx * 3 + 2] = clip8(s2);
    }
  }
  return out;
}

media::Image vertical(const media::Image& in, int out_h) {
  const Coefficients c = precompute(in.height, out_h);
  media::Image out{.width = in.width, .height = out_h};
  out.rgb.resize(static_cast<size_t>(in.width) * out_h * 3);
  const size_t stride = static_cast<size_t>(in.width) * 3;
  for (int yy = 0; yy < out_h; ++yy) {
    const int32_t* k = c.k.data() + static_cast<size_t>(yy) * c.ksize;
    uint8_t* o = out.rgb.data() + static_cast<size_t>(yy) * stride;
    for (size_t xc = 0; xc < stride; ++xc) {
      int32_t s = 1 << (kPrecisionBits - 1);
      const uint8_t* p = in.rgb.data() + static_cast<size_t>(c.first[yy]) * stride + xc;
      for (int y = 0; y < c.count[yy]; ++y) s += p[static_cast<size_t>(y) * stride] * k[y];
      o[xc] = clip8(s);
    }
  }
  return out;
}

/// Python's round(): halves go to the even neighbour.
int round_half_even(double v) { return static_cast<int>(std::nearbyint(v)); }

}  // namespace

media::Image resize_bicubic(const media::Image& in, int width, int height) {
  if (width < 1 || height < 1 || in.empty()) {
    throw UsageError({.what = "cannot resize image",
                      .expected = "a non-empty image and a target of at least 1x1",
                      .got = std::to_string(in.width) + "x" + std::to_string(in.height) + " → " +
                             std::to_string(width) + "x" + std::to_string(height)});
  }
  // Pillow skips a pass whose size does not change.
  media::Image tmp = width != in.width ? horizontal(in, width) : in;
  return height != in.height ? vertical(tmp, height) : tmp;
}

media::Image crop(const media::Image& in, const CropBox& b) {
  if (b.top < 0 || b.left < 0 || b.width < 1 || b.height < 1 || b.left + b.width > in.width ||
      b.top + b.height > in.height) {
    throw UsageError({.what = "crop box outside the image",
                      .expected = "inside " + std::to_string(in.width) + "x" + std::to_string(in.height),
                      .got = "top " + std::to_string(b.top) + ", left " + std::to_string(b.left) + ", " +
                             std::to_string(b.width) + "x" + std::to_string(b.height)});
  }
  media::Image out{.width = b.width, .height = b.height};
  out.rgb.resize(static_cast<size_t>(b.width) * b.height * 3);
  for (int y = 0; y < b.height; ++y) {
    const auto* src = in.rgb.data() + (static_cast<size_t>(b.top + y) * in.width + b.left) * 3;
    std::copy(src, src + static_cast<size_t>(b.width) * 3, out.rgb.data() + static_cast<size_t>(y) * b.width * 3);
  }
  return out;
}

std::pair<int, int> shorter_side_size(int width, int height, int size) {
  const bool portrait = width <= height;
  const int shorter = portrait ? width : height, longer = portrait ? height : width;
  const int new_long = static_cast<int>(static_cast<double>(size) * longer / shorter);
  return portrait ? std::pair{size, new_long} : std::pair{new_long, size};
}

CropBox center_crop_box(int width, int height, int size) {
  return {.top = round_half_even((height - size) / 2.0),
          .left = round_half_even((width - size) / 2.0),
          .height = size,
          .width = size};
}

CropBox random_resized_crop_box(int width, int height, const RandomResizedCropOptions& o, Rng& rng) {
  const double area = static_cast<double>(width) * height;
  const double log_lo = std::log(o.ratio_min), log_hi = std::log(o.ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * (o.scale_min + (o.scale_max - o.scale_min) * rng.uniform());
    const double ratio = std::exp(log_lo + (log_hi - log_lo) * rng.uniform());
    const int w = round_half_even(std::sqrt(target * ratio));
    const int h = round_half_even(std::sqrt(target / ratio));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const int top = static_cast<int>(rng.below(static_cast<uint64_t>(height - h + 1)));
      const int left = static_cast<int>(rng.below(static_cast<uint64_t>(width - w + 1)));
      return {.top = top, .left = left, .height = h, .width = w};
    }
  }
  const double in_ratio = static_cast<double>(width) / height;
  int w = width, h = height;
  if (in_ratio < o.ratio_min) {
    h = round_half_even(w / o.ratio_min);
  } else if (in_ratio > o.ratio_max) {
    w = round_half_even(h * o.ratio_max);
  }
  return {.top = (height - h) / 2, .left = (width - w) / 2, .height = h, .width = w};
}

media::Image resize_and_center_crop(const media::Image& in, int size) {
  const auto [w, h] = shorter_side_size(in.width, in.height, size);
  media::Image r = resize_bicubic(in, w, h);
  return crop(r, center_crop_box(r.width, r.height, size));
}

media::Image resize_squash(const media::Image& in, int size) { return resize_bicubic(in, size, size); }

media::Image random_resized_crop(const media::Image& in, int size, const RandomResizedCropOptions& options, Rng& rng) {
  return resize_bicubic(crop(in, random_resized_crop_box(in.width, in.height, options, rng)), size, size);
}

}  // namespace xib::image
