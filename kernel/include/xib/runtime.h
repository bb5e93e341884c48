// Process-wide run-time settings: thread count and deterministic seeding.
#pragma once

#include <array>
#include <cstdint>

namespace xib {

/// Cores this process may run on (its CPU affinity), at least 1.
int available_cores();
/// Set LibTorch's intra-op thread count (and OpenMP's); n <= 0 means available_cores(), more
/// than available_cores() is clamped to it with a warning.
void set_threads(int n);
/// LibTorch's current intra-op thread count.
int threads();

/// Seed LibTorch's generators (CPU and, when present, CUDA) and the global Rng. Same seed,
/// same inputs, same thread count → same results on CPU.
void seed_everything(uint64_t seed);

/// A small deterministic generator (xoshiro256**) for data-side randomness: shuffling,
/// sampling instruction templates, augmentation parameters. Independent streams come from
/// fork(), so adding a consumer does not shift the others.
class Rng {
 public:
  explicit Rng(uint64_t seed = 42);
  uint64_t next();
  /// Uniform in [0, 1).
  double uniform();
  /// Uniform integer in [0, n); n must be > 0.
  uint64_t below(uint64_t n);
  /// A new generator whose stream depends on this one's seed and `stream` only.
  Rng fork(uint64_t stream) const;
  /// The global generator, reseeded by seed_everything().
  static Rng& global();

  std::array<uint64_t, 4> state() const { return s_; }
  void set_state(const std::array<uint64_t, 4>& s) { s_ = s; }

 private:
  std::array<uint64_t, 4> s_;
  uint64_t seed_;
};

}  // namespace xib
