// The image processor (see image_processor.h). Tensors only at the end (tensor_from_floats).
#include "image_processor.h"

#include <ATen/core/Tensor.h>
#include <fmt/format.h>

#include "encoders.h"
#include "resize.h"
#include "torch_helpers.h"
#include "xib/error.h"

namespace xib::image {

ImageProcessor::ImageProcessor(ProcessorOptions options, const std::string& encoder_type)
    : options_(std::move(options)), rng_(static_cast<uint64_t>(options_.seed)) {
  auto [m, s] = encoder_normalisation(encoder_type);
  mean_ = options_.mean.empty() ? m : options_.mean;
  std_ = options_.std.empty() ? s : options_.std;
}

media::Image ImageProcessor::prepare(const media::Image& image, bool training) {
  const int size = static_cast<int>(options_.size);
  if (training) {
    const RandomResizedCropOptions o{.scale_min = options_.scale_min, .scale_max = options_.scale_max};
    return random_resized_crop(image, size, o, rng_);
  }
  return options_.resize == "squash" ? resize_squash(image, size) : resize_and_center_crop(image, size);
}

void ImageProcessor::normalise_into(const media::Image& image, float* out) const {
  const size_t hw = static_cast<size_t>(image.width) * image.height;
  for (int c = 0; c < 3; ++c) {
    // The same float arithmetic as torchvision: ToTensor's x / 255, then Normalize's (x − m) / s.
    const float m = static_cast<float>(mean_[c]), s = static_cast<float>(std_[c]);
    for (size_t i = 0; i < hw; ++i) out[c * hw + i] = (static_cast<float>(image.rgb[i * 3 + c]) / 255.0f - m) / s;
  }
}

Tensor ImageProcessor::normalise(const media::Image& image) const {
  std::vector<float> out(static_cast<size_t>(image.width) * image.height * 3);
  normalise_into(image, out.data());
  return tensor_from_floats(std::move(out), {3, image.height, image.width});
}

nlohmann::json ImageProcessor::config() const {
  // Decoding (xib/media/image.h: EXIF orientation, every mode → 8-bit RGB) and the bicubic
  // resampling are fixed by the code; "type" names that pipeline.
  return {{"type", "image"}, {"size", options_.size}, {"resize", options_.resize}, {"mean", mean_}, {"std", std_}};
}

Tensor ImageProcessor::load(const std::filesystem::path& file, bool training) {
  return normalise(prepare(media::read_image(file, {.max_pixels = options_.max_pixels}), training));
}

ImageBatch ImageProcessor::load_batch(std::span<const std::filesystem::path> files, bool training) {
  ImageBatch batch;
  std::vector<float> all;
  const size_t per = static_cast<size_t>(options_.size) * options_.size * 3;
  for (size_t i = 0; i < files.size(); ++i) {
    media::Image img;
    try {
      img = prepare(media::read_image(files[i], {.max_pixels = options_.max_pixels}), training);
    } catch (const FormatError& e) {  // content that cannot be decoded; unreadable files are errors
      if (!options_.skip_undecodable) throw;
      std::lock_guard lock(mu_);
      ++skipped_.count;
      if (skipped_.examples.size() < 5) skipped_.examples.push_back(fmt::format("{}: {}", files[i].string(), e.what()));
      continue;
    }
    const size_t at = all.size();
    all.resize(at + per);
    normalise_into(img, all.data() + at);
    batch.kept.push_back(i);
  }
  const auto n = static_cast<int64_t>(batch.kept.size());
  batch.pixels = tensor_from_floats(std::move(all), {n, 3, options_.size, options_.size});
  return batch;
}

SkipReport ImageProcessor::skipped() const {
  std::lock_guard lock(mu_);
  return skipped_;
}

void ImageProcessor::reset_skipped() {
  std::lock_guard lock(mu_);
  skipped_ = {};
}

}  // namespace xib::image
