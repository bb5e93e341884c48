// Where the trainable path runs and in which precision: the device of the language model, the
// aligners and the prompt assembly (the frozen encoders have their own `encoder.device`), and
// bf16 autocast for the forward pass.
//
//   const c10::Device dev = parse_device(o.device, "train.yaml: run.device");   // cpu | cuda | cuda:N
//   model.to(dev);                                                               // LLM + aligners
//   {
//     AutocastScope autocast(dev.type(), c10::ScalarType::BFloat16, o.precision == "bf16");
//     loss = model.loss(samples, features);       // matrix products in bf16, reductions in f32
//   }
//   loss.backward();                              // outside the scope, as autocast asks
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>
#include <vector>

namespace xib {

/// "cpu", "cuda" (device 0) or "cuda:N" → the device. ConfigError naming `where` for another
/// spelling (listing the accepted ones) and for a CUDA device this LibTorch build or this machine
/// does not have (listing the devices there are).
c10::Device parse_device(const std::string& spelling, const std::string& where);

/// The devices this process can use, as parse_device() spells them: "cpu", then "cuda:0", ….
std::vector<std::string> available_devices();

/// Whether the spelling is one parse_device() understands (whether or not the device exists):
/// what option validation checks before anything runs.
bool is_device_spelling(const std::string& spelling);

/// Turns autocast on for one device type (CPU or CUDA) with `dtype` (bf16 or f16) for the
/// scope's lifetime and restores the previous state after: ops autocast lists run in `dtype`
/// (linear, matmul, conv), the ones it keeps in f32 stay there, the parameters stay f32. The
/// casts of parameters are cached within the outermost scope and dropped when it ends. Does
/// nothing when `enabled` is false. UsageError for a device type autocast does not cover.
/// LibTorch 1.13 and 2.x (whose autocast calls take the device type) are both handled.
class AutocastScope {
 public:
  AutocastScope(c10::DeviceType type, c10::ScalarType dtype, bool enabled = true);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

  /// Whether autocast is on for `type` right now.
  static bool active(c10::DeviceType type);

 private:
  c10::DeviceType type_;
  bool enabled_ = false;
  bool was_enabled_ = false;
  c10::ScalarType was_dtype_ = c10::ScalarType::Float;
};

}  // namespace xib
