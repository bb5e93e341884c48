// The image processor's geometry, torch-free, on 8-bit RGB images (xib/media/image.h):
// PIL's bicubic resampling and torchvision's Resize / CenterCrop / RandomResizedCrop rules, so
// that xib's pixels match what upstream's PIL + torchvision pipeline feeds the encoder.
#pragma once

#include <utility>

#include "xib/media/image.h"
#include "xib/runtime.h"

namespace xib::image {

/// PIL's Image.resize((width, height), Image.BICUBIC): separable (horizontal pass first, its
/// result rounded to 8 bits), a = −0.5, support 2 scaled by the downscale factor (antialiased),
/// weights normalised per output pixel and rounded to 22-bit fixed point, as Pillow's
/// Resample.c does. width, height ≥ 1.
media::Image resize_bicubic(const media::Image& in, int width, int height);

/// A rectangle of an image (torchvision's order: top, left, height, width).
struct CropBox {
  int top = 0, left = 0, height = 0, width = 0;
  bool operator==(const CropBox&) const = default;
};

/// The pixels inside `box` (which must lie inside the image).
media::Image crop(const media::Image& in, const CropBox& box);

/// torchvision Resize(size) with an int: the shorter side becomes `size`, the longer
/// int(size · long / short). Returns {width, height}.
std::pair<int, int> shorter_side_size(int width, int height, int size);

/// torchvision CenterCrop(size) on an image at least size×size: offsets int(round((d − size) / 2))
/// with Python's round-half-to-even.
CropBox center_crop_box(int width, int height, int size);

struct RandomResizedCropOptions {
  double scale_min = 0.9, scale_max = 1.0;              ///< fraction of the image area
  double ratio_min = 3.0 / 4.0, ratio_max = 4.0 / 3.0;  ///< width / height
};

/// torchvision RandomResizedCrop.get_params with draws from `rng`: 10 tries of a random area
/// and log-uniform aspect ratio, else the central crop clamped to the ratio range.
CropBox random_resized_crop_box(int width, int height, const RandomResizedCropOptions& options, Rng& rng);

/// Eval geometry: resize the shorter side to `size` (bicubic) + centre crop size×size.
media::Image resize_and_center_crop(const media::Image& in, int size);
/// The upstream LAVIS eval geometry: squash to size×size (bicubic), aspect ratio not kept.
media::Image resize_squash(const media::Image& in, int size);
/// Train geometry: a random crop (random_resized_crop_box) resized to size×size (bicubic).
media::Image random_resized_crop(const media::Image& in, int size, const RandomResizedCropOptions& options, Rng& rng);

}  // namespace xib::image
