// The audio file decoder's real-sound fixtures (kernel/media/audio/tests/data/sounds/, written
// by tools/fixtures/audio/make_sound_fixtures.sh) and small signal measures for its tests.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <complex>
#include <cstring>
#include <filesystem>
#include <functional>
#include <numbers>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audio_fixtures.h"
#include "test_support.h"

namespace xib::test {

inline std::filesystem::path sound_dir() { return audio_data_dir() / "sounds"; }
inline std::filesystem::path sound(const std::string& name) { return sound_dir() / name; }

/// sounds/reference.json: facts about each clip from decoders independent of xib.
inline const nlohmann::json& sound_reference() {
  static const nlohmann::json doc = nlohmann::json::parse(read_file(sound("reference.json")));
  return doc;
}

inline std::vector<uint8_t> file_bytes(const std::filesystem::path& file) {
  const std::string s = read_file(file);
  return {s.begin(), s.end()};
}

/// A raw little-endian float32 file.
inline std::vector<float> read_f32(const std::filesystem::path& file) {
  const std::string s = read_file(file);
  std::vector<float> out(s.size() / 4);
  std::memcpy(out.data(), s.data(), out.size() * 4);
  return out;
}

inline double rms(std::span<const float> x) {
  double s = 0;
  for (float v : x) s += static_cast<double>(v) * v;
  return x.empty() ? 0.0 : std::sqrt(s / static_cast<double>(x.size()));
}

/// The amplitude of the `hz` component of x (sampled at `rate`): |DFT at hz| × 2 / n.
inline double tone_amplitude(std::span<const float> x, double hz, double rate) {
  std::complex<double> acc = 0;
  for (size_t n = 0; n < x.size(); ++n)
    acc += static_cast<double>(x[n]) * std::polar(1.0, -2 * std::numbers::pi * hz * n / rate);
  return 2.0 * std::abs(acc) / static_cast<double>(x.size());
}

/// Sign changes from negative to non-negative and back.
inline int zero_crossings(std::span<const float> x) {
  int n = 0;
  for (size_t i = 1; i < x.size(); ++i) n += (x[i - 1] < 0) != (x[i] < 0);
  return n;
}

/// The report of the error `f` throws, if it is an E; "no error" or "wrong error: …" otherwise.
template <class E>
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.report();
  } catch (const std::exception& e) {
    return std::string("wrong error: ") + e.what();
  }
  return "no error";
}

}  // namespace xib::test
