// Weights-loading benchmark helper (scripts/bench_weights.sh; not a test).
//
//   bench_weights generate OUT.safetensors MB   write ~MB megabytes of f32/f16 tensors (our writer)
//   bench_weights mmap FILE                     SafetensorsFile (mmap) + read every byte
//   bench_weights read FILE                     read(2) the whole file into memory, parse, read every byte
//
// The measuring modes print one line: "seconds=<load+touch> rss_mb=<peak RSS> checksum=<sum>".
// Every byte is summed (as 64-bit words) so the pages are really mapped/read.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "xib/error.h"
#include "xib/io/safetensors.h"

namespace {

using xib::io::TensorRecord;

uint64_t sum_bytes(const std::byte* p, size_t n) {
  uint64_t s = 0, w = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::memcpy(&w, p + i, 8);
    s += w;
  }
  for (; i < n; ++i) s += static_cast<uint64_t>(p[i]);
  return s;
}

uint64_t sum_records(const std::vector<TensorRecord>& records) {
  uint64_t s = 0;
  for (const auto& r : records) s += sum_bytes(r.data, r.nbytes());
  return s;
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

int generate(const std::string& out, size_t mb) {
  // Tensors of 16 MiB: three f32 for every f16, deterministic content (xorshift).
  const size_t tensor_bytes = size_t{16} << 20;
  const size_t count = std::max<size_t>(1, (mb << 20) / tensor_bytes);
  std::vector<std::vector<std::byte>> buffers(count);
  std::vector<TensorRecord> records;
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < count; ++i) {
    const bool half = i % 4 == 3;
    buffers[i].resize(tensor_bytes);
    for (size_t k = 0; k + 8 <= tensor_bytes; k += 8) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      // Keep f32/f16 exponents away from NaN/Inf so every loader treats them as plain numbers.
      const uint64_t v = x & (half ? 0x3bff3bff3bff3bffull : 0x3f7fffff3f7fffffull);
      std::memcpy(buffers[i].data() + k, &v, 8);
    }
    const int64_t cols = 4096, esize = half ? 2 : 4;
    records.push_back(
        {.name = "layers." + std::to_string(i / 4) + (half ? ".norm.weight" : ".w" + std::to_string(i % 4)),
         .dtype = half ? xib::io::DType::f16 : xib::io::DType::f32,
         .shape = {static_cast<int64_t>(tensor_bytes) / esize / cols, cols},
         .data = buffers[i].data(),
         .storage_bytes = tensor_bytes});
  }
  xib::io::write_safetensors(out, records, {{"format", "pt"}, {"source", "bench_weights generate"}});
  std::cout << "wrote " << out << ": " << count << " tensors, " << count * tensor_bytes << " bytes\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() == 3 && args[0] == "generate") return generate(args[1], std::stoul(args[2]));
    if (args.size() != 2 || (args[0] != "mmap" && args[0] != "read")) {
      std::cerr << "usage: bench_weights generate OUT MB | mmap FILE | read FILE\n";
      return 2;
    }
    const auto t0 = std::chrono::steady_clock::now();
    uint64_t checksum = 0;
    if (args[0] == "mmap") {
      const xib::io::SafetensorsFile f(args[1]);
      checksum = sum_records(f.records());
    } else {
      // One buffer, not zero-filled (like Python's readers), filled with read(2).
      const int fd = ::open(args[1].c_str(), O_RDONLY | O_CLOEXEC);
      struct stat st {};
      if (fd < 0 || ::fstat(fd, &st) != 0) throw xib::IoError("cannot open " + args[1]);
      const auto size = static_cast<size_t>(st.st_size);
      std::unique_ptr<std::byte[]> buffer(new std::byte[size]);
      for (size_t done = 0; done < size;) {
        const ssize_t n = ::read(fd, buffer.get() + done, std::min<size_t>(size - done, size_t{1} << 30));
        if (n <= 0) throw xib::IoError("short read of " + args[1]);
        done += static_cast<size_t>(n);
      }
      ::close(fd);
      const std::span<const std::byte> bytes(buffer.get(), size);
      const auto f = xib::io::SafetensorsFile::from_buffer(bytes, args[1]);
      checksum = sum_records(f.records());
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("seconds=%.4f rss_mb=%.1f checksum=%llu\n", s, peak_rss_mb(),
                static_cast<unsigned long long>(checksum));
    return 0;
  } catch (const xib::Error& e) {
    std::cerr << "bench_weights: " << e.report() << "\n";
    return 1;
  }
}
