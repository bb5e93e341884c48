// SHA-256 (FIPS 180-4), torch-free: model cache verification, weight ids, cache staleness.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace xib {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  /// Finishes the hash; the object must not be updated afterwards.
  std::array<uint8_t, 32> digest();
  std::string hex_digest();

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
  bool done_ = false;
};

std::string sha256_hex(std::string_view data);
/// Hash of a whole file, streamed; IoError if it cannot be read.
std::string sha256_file(const std::filesystem::path& file);

}  // namespace xib
