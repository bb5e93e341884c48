// The image processor: file → decoded RGB (xib/media/image.h, EXIF orientation applied) →
// geometry (eval: shorter side to `size` + centre crop, or LAVIS's squash; train: random
// resized crop, scale 0.9–1.0, ratio 3/4–4/3) with PIL's bicubic resampling → float32
// [3, size, size], (x / 255 − mean) / std with the encoder's normalisation.
#pragma once

#include <ATen/core/Tensor.h>  // ImageBatch holds one

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "image_options.h"
#include "xib/media/image.h"
#include "xib/modality.h"
#include "xib/runtime.h"

namespace xib::image {

/// Files a batch could not decode (when skip_undecodable is on).
struct SkipReport {
  uint64_t count = 0;
  std::vector<std::string> examples = {};  ///< the first few "file: reason" lines
};

/// A batch: [B', 3, S, S] for the files that decoded, and which of the inputs they are.
struct ImageBatch {
  Tensor pixels;
  std::vector<size_t> kept = {};  ///< indices into the input list, in order
};

class ImageProcessor : public Processor {
 public:
  /// `mean`/`std` default to the encoder's when the options leave them empty.
  ImageProcessor(ProcessorOptions options, const std::string& encoder_type);

  /** file → [3, size, size] float32. Decoding errors throw (FormatError/IoError naming the file). */
  Tensor load(const std::filesystem::path& file, bool training) override;
  Rng* augmentation_rng() override { return &rng_; }
  /// The eval geometry and normalisation: {type, size, resize, mean, std} (mean/std effective).
  nlohmann::json config() const override;

  /** files → [B', 3, size, size]; with skip_undecodable, files that fail to decode are left out
      and counted (skipped()); otherwise the first failure throws. */
  ImageBatch load_batch(std::span<const std::filesystem::path> files, bool training);

  /// The 8-bit RGB image the encoder will see (before normalisation) — for tests and previews.
  media::Image prepare(const media::Image& image, bool training);
  /** 8-bit RGB [size, size] → [3, size, size] float32, normalised. */
  Tensor normalise(const media::Image& image) const;

  SkipReport skipped() const;
  void reset_skipped();

  /// The augmentation stream (seeded by options.seed); reseed or fork it per worker.
  Rng& rng() { return rng_; }
  const ProcessorOptions& options() const { return options_; }
  const std::vector<double>& mean() const { return mean_; }
  const std::vector<double>& stddev() const { return std_; }

 private:
  void normalise_into(const media::Image& image, float* out) const;

  ProcessorOptions options_;
  std::vector<double> mean_, std_;
  Rng rng_;
  mutable std::mutex mu_;
  SkipReport skipped_;
};

}  // namespace xib::image
