// Gathering strided views into contiguous bytes: transposes, slices, steps, broadcasts (stride
// 0), empty and 0-d tensors, and views that leave their storage.
#include <doctest/doctest.h>

#include <cstring>
#include <numeric>

#include "xib/error.h"
#include "xib/io/strided_copy.h"

using namespace xib::io;

namespace {

/// 0, 1, 2, … as int32 storage.
std::vector<std::byte> iota_storage(int n) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  std::vector<std::byte> out(v.size() * 4);
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

std::vector<int32_t> as_ints(const std::vector<std::byte>& b) {
  std::vector<int32_t> v(b.size() / 4);
  std::memcpy(v.data(), b.data(), b.size());
  return v;
}

TensorRecord view(const std::vector<std::byte>& s, std::vector<int64_t> shape, std::vector<int64_t> strides,
                  int64_t offset = 0) {
  return {.name = "t",
          .dtype = DType::i32,
          .shape = std::move(shape),
          .strides = std::move(strides),
          .storage_offset = offset,
          .data = s.data(),
          .storage_bytes = s.size()};
}

}  // namespace

TEST_CASE("strided copy: views gather row-major") {
  const auto s = iota_storage(20);  // a [4, 5] matrix
  using V = std::vector<int32_t>;
  // Contiguous, with and without explicit strides, and with an offset.
  CHECK(as_ints(contiguous_bytes(view(s, {2, 3}, {}))) == V{0, 1, 2, 3, 4, 5});
  CHECK(as_ints(contiguous_bytes(view(s, {2, 3}, {3, 1}, 7))) == V{7, 8, 9, 10, 11, 12});
  // Transpose [5, 4] of the [4, 5] matrix.
  const auto t = as_ints(contiguous_bytes(view(s, {5, 4}, {1, 5})));
  REQUIRE(t.size() == 20);
  CHECK(V(t.begin(), t.begin() + 8) == V{0, 5, 10, 15, 1, 6, 11, 16});
  // A column slice (inner stride 1, outer stride 5), a step, a broadcast, a 3-d permute.
  CHECK(as_ints(contiguous_bytes(view(s, {4, 2}, {5, 1}, 1))) == V{1, 2, 6, 7, 11, 12, 16, 17});
  CHECK(as_ints(contiguous_bytes(view(s, {7}, {3}, 1))) == V{1, 4, 7, 10, 13, 16, 19});
  CHECK(as_ints(contiguous_bytes(view(s, {2, 3}, {0, 1}))) == V{0, 1, 2, 0, 1, 2});
  CHECK(as_ints(contiguous_bytes(view(s, {2, 2, 3}, {1, 10, 2}))) == V{0, 2, 4, 10, 12, 14, 1, 3, 5, 11, 13, 15});
  // 0-d, empty, size-1 dimensions with odd strides.
  CHECK(as_ints(contiguous_bytes(view(s, {}, {}, 19))) == V{19});
  CHECK(contiguous_bytes(view(s, {0, 3}, {3, 1})).empty());
  CHECK(contiguous_bytes(view({}, {3, 0}, {1, 1})).empty());
  CHECK(as_ints(contiguous_bytes(view(s, {1, 3}, {999, 2}))) == V{0, 2, 4});

  const auto buf = contiguous_bytes(view(s, {5, 4}, {1, 5}));
  const TensorRecord r = contiguous_record(view(s, {5, 4}, {1, 5}), buf);
  CHECK(r.contiguous());
  CHECK(r.strides.empty());
  CHECK(r.data == buf.data());
  CHECK(r.nbytes() == 80);
}

TEST_CASE("strided copy: views outside their storage are refused") {
  const auto s = iota_storage(20);
  CHECK_THROWS_AS(contiguous_bytes(view(s, {5, 4}, {1, 6})), xib::FormatError);                  // last element 27
  CHECK_THROWS_AS(contiguous_bytes(view(s, {2, 3}, {3, 1}, 15)), xib::FormatError);              // offset + 5 = 20
  CHECK_THROWS_AS(contiguous_bytes(view(s, {2}, {-1})), xib::FormatError);                       // negative stride
  CHECK_THROWS_AS(contiguous_bytes(view(s, {-2}, {1})), xib::FormatError);                       // negative size
  CHECK_THROWS_AS(contiguous_bytes(view(s, {2}, {1}, -1)), xib::FormatError);                    // negative offset
  CHECK_THROWS_AS(contiguous_bytes(view(s, {2, 2}, {1})), xib::FormatError);                     // rank mismatch
  CHECK_THROWS_AS(contiguous_bytes(view(s, {2, 1ll << 62}, {1ll << 62, 1})), xib::FormatError);  // overflow
  CHECK_THROWS_AS(contiguous_bytes(view({}, {}, {})), xib::FormatError);                         // no storage at all
  CHECK_NOTHROW(check_view(view(s, {20}, {1})));
  std::vector<std::byte> small(3);
  CHECK_THROWS_AS(copy_contiguous(view(s, {2}, {1}), small), xib::ShapeError);
}
