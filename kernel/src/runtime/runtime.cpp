// The one kernel source that talks to LibTorch directly. It includes only the light ATen headers
// it needs (not <torch/torch.h>), so it compiles in seconds without the precompiled header.
#include "xib/runtime.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <exception>

#include "xib/error.h"
#include "xib/log.h"

namespace xib {

namespace {

// SplitMix64 (Steele, Lea, Flood 2014): the seeding generator recommended for xoshiro, since
// it turns any 64-bit seed, zero included, into well-mixed, never all-zero state words.
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

constexpr uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

int affinity_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  // EINVAL: the kernel's CPU mask is larger than cpu_set_t (more than 1024 CPUs); retry with a
  // dynamically sized set.
  for (int n = 2048; n <= (1 << 16); n *= 2) {
    cpu_set_t* dyn = CPU_ALLOC(n);
    if (!dyn) break;
    const size_t size = CPU_ALLOC_SIZE(n);
    CPU_ZERO_S(size, dyn);
    const int rc = sched_getaffinity(0, size, dyn);
    const int count = rc == 0 ? CPU_COUNT_S(size, dyn) : 0;
    CPU_FREE(dyn);
    if (rc == 0) return count;
  }
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<int>(online) : 1;
}

}  // namespace

int available_cores() { return std::max(1, affinity_count()); }

void set_threads(int n) {
  const int cores = available_cores();
  if (n > cores) {
    log::warn("{} threads asked for, but this process may use {} core(s) (its CPU affinity): using {}", n, cores,
              cores);
    n = cores;
  }
  if (n <= 0) n = cores;
  // Also sets OpenMP's count (and MKL's) for the calling thread.
  at::set_num_threads(n);
  // LibTorch accepts the inter-op pool size once, and only before any parallel work has
  // started; later attempts throw. Try on the first call only and keep whatever is in place.
  static std::atomic<bool> interop_tried{false};
  if (!interop_tried.exchange(true)) {
    try {
      at::set_num_interop_threads(n);
    } catch (const std::exception& e) {
      log::debug("inter-op thread count left as is: {}", e.what());
    }
  }
}

int threads() { return at::get_num_threads(); }

void seed_everything(uint64_t seed) {
  // at::manual_seed seeds the CPU generator and, on LibTorch 1.13 and 2.x alike, every visible
  // CUDA device's generator (it skips CUDA when no device is present).
  at::manual_seed(seed);
  Rng::global() = Rng(seed);
}

Rng::Rng(uint64_t seed) : seed_(seed) {
  uint64_t x = seed;
  for (auto& word : s_) word = splitmix64(x);
}

uint64_t Rng::next() {
  // xoshiro256** (Blackman, Vigna 2018).
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() {
  // The top 53 bits fill a double's mantissa exactly: every value is k / 2^53, 1 is never hit.
  return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

uint64_t Rng::below(uint64_t n) {
  if (n == 0) throw Error("Rng::below(0): the range [0, 0) is empty");
  // Lemire's multiply-shift with rejection (2019): unbiased, and almost never rejects, so it
  // costs about one multiplication per draw instead of a division.
  unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
  auto low = static_cast<uint64_t>(m);
  if (low < n) {
    const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    while (low < threshold) {
      m = static_cast<unsigned __int128>(next()) * n;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

Rng Rng::fork(uint64_t stream) const {
  // Mix the seed first so that nearby seeds with nearby streams (seed 1 stream 2, seed 2
  // stream 1) do not collide, then mix again so the child's seed is unrelated to both inputs.
  // Each step is a bijection, so distinct streams of one seed always get distinct seeds.
  uint64_t x = seed_;
  uint64_t key = splitmix64(x) ^ stream;
  return Rng(splitmix64(key));
}

Rng& Rng::global() {
  static Rng rng;
  return rng;
}

}  // namespace xib
