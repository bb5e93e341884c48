#include <doctest/doctest.h>

#include <string>

#include "test_support.h"
#include "xib/error.h"
#include "xib/sha256.h"

using xib::test::TempDir;

namespace {
// FIPS 180-2, appendix B (and the two-block 896-bit message of the NIST examples).
const std::string kMsg448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
const std::string kMsg896 =
    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
}  // namespace

TEST_CASE("sha256: FIPS 180-2 test vectors") {
  CHECK(xib::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(xib::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(xib::sha256_hex(kMsg448) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(xib::sha256_hex(kMsg896) == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  CHECK(xib::sha256_hex(std::string(1000000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256: padding boundaries and split updates agree with one-shot hashing") {
  // Lengths around the 55/56/64-byte padding edges, fed in every pair of pieces.
  for (size_t len : {55, 56, 57, 63, 64, 65, 119, 120, 128}) {
    std::string msg;
    for (size_t i = 0; i < len; ++i) msg += static_cast<char>('A' + i * 7 % 26);
    const std::string whole = xib::sha256_hex(msg);
    for (size_t cut = 0; cut <= len; ++cut) {
      xib::Sha256 h;
      h.update(std::string_view(msg).substr(0, cut));
      h.update(std::string_view(msg).substr(cut));
      REQUIRE_MESSAGE(h.hex_digest() == whole, "len ", len, " cut ", cut);
    }
  }
  // One million 'a' in uneven pieces.
  xib::Sha256 h;
  const std::string piece(997, 'a');
  size_t left = 1000000;
  for (; left >= piece.size(); left -= piece.size()) h.update(piece);
  h.update(std::string(left, 'a'));
  CHECK(h.hex_digest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256: digest is stable and the hash is sealed afterwards") {
  xib::Sha256 h;
  h.update("abc");
  const auto d = h.digest();
  CHECK(d[0] == 0xba);
  CHECK(d[31] == 0xad);
  CHECK(h.digest() == d);
  CHECK(h.hex_digest() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK_THROWS_AS(h.update("more"), xib::Error);
}

TEST_CASE("sha256: file hash equals the hash of its bytes") {
  TempDir dir;
  CHECK(xib::sha256_file(dir.write("abc.txt", "abc")) == xib::sha256_hex("abc"));
  CHECK(xib::sha256_file(dir.write("empty", "")) == xib::sha256_hex(""));
  // Larger than the 1 MiB read chunk, and not a multiple of it or of the 64-byte block.
  std::string big(3 * (1 << 20) + 17, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
  CHECK(xib::sha256_file(dir.write("big.bin", big)) == xib::sha256_hex(big));
}

TEST_CASE("sha256: unreadable files are IoErrors naming the file") {
  TempDir dir;
  try {
    xib::sha256_file(dir / "nope.bin");
    FAIL("hashed a missing file");
  } catch (const xib::IoError& e) {
    CHECK(std::string(e.what()).find("nope.bin") != std::string::npos);
  }
  CHECK_THROWS_AS(xib::sha256_file(dir.path()), xib::IoError);  // a folder
}
