// Device spellings and the autocast scope (xib/device.h).
#include "xib/device.h"

#include <ATen/autocast_mode.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <cctype>
#include <optional>

#include "xib/error.h"
#include "xib/language_model.h"

// PyTorch 2.4 made the autocast calls take the device type; 1.13 has one call per device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define XIB_AUTOCAST_BY_DEVICE_TYPE 1
#else
#define XIB_AUTOCAST_BY_DEVICE_TYPE 0
#endif

namespace xib {

namespace {

constexpr const char* kSpellings = "cpu, cuda or cuda:N (N = 0, 1, …)";

/// The CUDA index in "cuda" / "cuda:N" (-1 for "cpu"); nullopt for any other spelling.
std::optional<int> cuda_index(const std::string& s) {
  if (s == "cpu") return -1;
  if (s == "cuda") return 0;
  if (s.rfind("cuda:", 0) != 0 || s.size() == 5 || s.size() > 8) return std::nullopt;
  int n = 0;
  for (size_t i = 5; i < s.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
    n = n * 10 + (s[i] - '0');
  }
  return n;
}

bool autocast_enabled(c10::DeviceType type) {
#if XIB_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::is_autocast_enabled(type);
#else
  return type == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

void set_autocast_enabled(c10::DeviceType type, bool on) {
#if XIB_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_enabled(type, on);
#else
  if (type == c10::DeviceType::CUDA) {
    at::autocast::set_enabled(on);
  } else {
    at::autocast::set_cpu_enabled(on);
  }
#endif
}

c10::ScalarType autocast_dtype(c10::DeviceType type) {
#if XIB_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::get_autocast_dtype(type);
#else
  return type == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype()
                                       : at::autocast::get_autocast_cpu_dtype();
#endif
}

void set_autocast_dtype(c10::DeviceType type, c10::ScalarType dtype) {
#if XIB_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_dtype(type, dtype);
#else
  if (type == c10::DeviceType::CUDA) {
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
#endif
}

}  // namespace

bool is_device_spelling(const std::string& spelling) { return cuda_index(spelling).has_value(); }

std::vector<std::string> available_devices() {
  std::vector<std::string> out = {"cpu"};
  const int n = torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
  for (int i = 0; i < n; ++i) out.push_back(fmt::format("cuda:{}", i));
  return out;
}

c10::Device parse_device(const std::string& spelling, const std::string& where) {
  const std::optional<int> index = cuda_index(spelling);
  if (!index) {
    throw ConfigError({.what = "unknown device",
                       .where = where,
                       .expected = kSpellings,
                       .got = spelling,
                       .hint = fmt::format("this machine has: {}", fmt::join(available_devices(), ", "))});
  }
  if (*index < 0) return c10::Device(c10::DeviceType::CPU);
  const auto devices = available_devices();
  const int cuda_devices = static_cast<int>(devices.size()) - 1;
  if (*index >= cuda_devices) {
    throw ConfigError({.what = cuda_devices == 0 ? "no CUDA device is available" : "no such CUDA device",
                       .where = where,
                       .expected = fmt::format("one of: {}", fmt::join(devices, ", ")),
                       .got = spelling,
                       .hint = cuda_devices == 0
                                   ? "use cpu, or build xib against a CUDA LibTorch (CMAKE_ARGS=-DTorch_DIR=…) and "
                                     "run it on a machine with an NVIDIA GPU"
                                   : "CUDA_VISIBLE_DEVICES may hide devices; count from 0"});
  }
  return c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(*index));
}

AutocastScope::AutocastScope(c10::DeviceType type, c10::ScalarType dtype, bool enabled) : type_(type) {
  if (!enabled) return;
  if (type != c10::DeviceType::CPU && type != c10::DeviceType::CUDA) {
    throw UsageError({.what = "autocast covers CPU and CUDA only",
                      .where = "AutocastScope",
                      .got = c10::DeviceTypeName(type),
                      .hint = "run with precision f32 on this device"});
  }
  if (dtype != c10::ScalarType::BFloat16 && dtype != c10::ScalarType::Half) {
    throw UsageError({.what = "autocast lowers precision to bf16 or f16 only",
                      .where = "AutocastScope",
                      .got = c10::toString(dtype)});
  }
  was_enabled_ = autocast_enabled(type);
  was_dtype_ = autocast_dtype(type);
  set_autocast_enabled(type, true);
  set_autocast_dtype(type, dtype);
  at::autocast::increment_nesting();
  enabled_ = true;
}

AutocastScope::~AutocastScope() {
  if (!enabled_) return;
  // The casts of the parameters are cached while any scope is open; the outermost one drops them.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast_enabled(type_, was_enabled_);
  set_autocast_dtype(type_, was_dtype_);
}

bool AutocastScope::active(c10::DeviceType type) { return autocast_enabled(type); }

// LanguageModel's defaults: a model that does not override them runs on the CPU only.
void LanguageModel::to(const c10::Device& device) {
  if (device.is_cpu()) return;
  throw UsageError({.what = "this language model runs on the CPU only",
                    .where = name(),
                    .expected = "cpu",
                    .got = device.str(),
                    .hint = "its plugin does not implement LanguageModel::to(); set run.device=cpu"});
}

c10::Device LanguageModel::device() const { return c10::Device(c10::DeviceType::CPU); }

}  // namespace xib
