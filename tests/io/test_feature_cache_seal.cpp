// The feature cache's seal (xib/feature_cache_seal.h): a cache damaged, cut short, extended or
// changed by another program is refused before libhdf5 reads it, and the file is left as it was;
// the header parser refuses every malformed header; re-sealing on purpose makes an edit usable.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "feature_cache_fixtures.h"
#include "test_support.h"
#include "xib/error.h"
#include "xib/feature_cache.h"
#include "xib/feature_cache_seal.h"

namespace fs = std::filesystem;
using xib::FeatureCache;
using xib::test::error_of;
using xib::test::h5py;
using xib::test::identity;
using xib::test::sample;
using xib::test::TempDir;
using xib::test::values;

namespace {

/// A committed cache of one entry.
fs::path make_cache(const TempDir& dir, const std::string& name = "features.h5",
                    const xib::FeatureIdentity& id = identity()) {
  const fs::path path = dir / name;
  FeatureCache c = FeatureCache::open(path, FeatureCache::Mode::build);
  c.bind(id);
  c.write("image", sample(dir, "coco:1", "1.png"), values(1));
  c.commit();
  return path;
}

void write_bytes(const fs::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string seal_text(const std::string& body) {
  std::string s = "xib feature cache\n" + body;
  s.resize(xib::kFeatureCacheUserBlock, '\0');
  return s;
}

}  // namespace

TEST_CASE("feature cache seal: xib's caches start with a header whose checksum and size match") {
  TempDir dir;
  const fs::path path = make_cache(dir);
  const std::string bytes = xib::test::read_file(path);
  REQUIRE(bytes.size() > xib::kFeatureCacheUserBlock);
  CHECK(bytes.substr(xib::kFeatureCacheUserBlock, 4) == "\x89HDF");  // the HDF5 part follows
  const auto seal = xib::parse_feature_cache_seal(bytes.substr(0, xib::kFeatureCacheUserBlock), "c");
  CHECK(seal.algorithm == "xxh3-128");
  CHECK(seal.bytes == bytes.size() - xib::kFeatureCacheUserBlock);
  const auto now = xib::compute_feature_cache_seal(path);
  CHECK(now.digest == seal.digest);
  CHECK(xib::format_feature_cache_seal(seal) == bytes.substr(0, xib::kFeatureCacheUserBlock));
  xib::verify_feature_cache(path, path);
  // Adding entries later keeps it sealed.
  {
    FeatureCache c = FeatureCache::open(path, FeatureCache::Mode::build);
    c.bind(identity());
    c.write("image", sample(dir, "coco:2", "2.png"), values(2));
    c.commit();
  }
  xib::verify_feature_cache(path, path);
  FeatureCache c = FeatureCache::open(path, FeatureCache::Mode::read);
  c.bind(identity());
  CHECK(c.read("image", sample(dir, "coco:2", "2.png")).values == values(2).values);
}

TEST_CASE("feature cache seal: damaged, cut short, extended or edited caches are refused and left as they were") {
  TempDir dir;
  const fs::path path = make_cache(dir);
  const std::string good = xib::test::read_file(path);
  auto refused = [&](const std::string& bytes) {
    write_bytes(path, bytes);
    std::string report;
    for (auto mode : {FeatureCache::Mode::read, FeatureCache::Mode::build}) {
      report = error_of<xib::FormatError>([&] { FeatureCache::open(path, mode); });
    }
    CHECK(xib::test::read_file(path) == bytes);  // refused, untouched
    return report;
  };
  SUBCASE("one flipped byte in the HDF5 part") {
    std::string bad = good;
    bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 0x10);
    const std::string r = refused(bad);
    CHECK(r.find("does not match its checksum") != std::string::npos);
    CHECK(r.find("xxh3-128") != std::string::npos);
  }
  SUBCASE("cut short") {
    const std::string r = refused(good.substr(0, good.size() - 100));
    CHECK(r.find("shorter than when xib sealed it") != std::string::npos);
    CHECK(r.find("interrupted copy") != std::string::npos);
  }
  SUBCASE("cut inside the header") {
    CHECK(refused(good.substr(0, 100)).find("shorter than its header") != std::string::npos);
  }
  SUBCASE("extended") { CHECK(refused(good + "more").find("longer than when xib sealed it") != std::string::npos); }
  SUBCASE("a header line changed") {
    std::string bad = good;
    bad.replace(bad.find("bytes: "), 7, "bites: ");
    const std::string r = refused(bad);
    CHECK(r.find("malformed seal") != std::string::npos);
    CHECK(r.find("bites") != std::string::npos);
  }
  SUBCASE("an unknown checksum") {
    std::string bad = good;
    bad.replace(bad.find("xxh3-128"), 8, "md5-0128");
    CHECK(refused(bad).find("unknown checksum") != std::string::npos);
  }
}

TEST_CASE("feature cache seal: an edit with h5py is refused until it is sealed again on purpose") {
  TempDir dir;
  const fs::path path = make_cache(dir);
  REQUIRE(h5py({"modify", path.string()}).exit_code == 0);
  const std::string r = error_of<xib::FormatError>([&] { FeatureCache::open(path, FeatureCache::Mode::read); });
  CHECK_MESSAGE(r.find("changed by another program") != std::string::npos, r);  // its size or its checksum differs
  xib::seal_feature_cache(path);
  FeatureCache c = FeatureCache::open(path, FeatureCache::Mode::read);
  const auto stored = c.stored_identity("image");
  REQUIRE(stored);
  CHECK(stored->encoder == "edited by hand");
  CHECK_THROWS_AS(c.bind(identity()), xib::StaleCacheError);  // and the edit is then judged as usual
}

TEST_CASE("feature cache: an entry claiming more values than the file holds is refused, not allocated") {
  // Found by make fuzz (fuzz_feature_cache): a chunked entry of [2^30, 2] with nothing stored
  // made read() ask for 8 GiB (and a shape whose size overflows for a wrapped-around few).
  TempDir dir;
  xib::FeatureIdentity any_rows = identity();
  any_rows.feature_shape = {-1, 2};
  const fs::path path = make_cache(dir, "features.h5", any_rows);
  REQUIRE(h5py({"sparse", path.string(), "coco:1"}).exit_code == 0);
  xib::seal_feature_cache(path);  // as if xib had written it
  FeatureCache c = FeatureCache::open(path, FeatureCache::Mode::read);
  c.bind(any_rows);
  const std::string r = error_of<xib::FormatError>([&] { c.read("image", sample(dir, "coco:1", "1.png")); });
  CHECK(r.find("claims more values than the file holds") != std::string::npos);
  CHECK(r.find("1073741824") != std::string::npos);
}

TEST_CASE("feature cache seal: the header parser refuses every malformed header") {
  const std::string digest(32, 'a');
  const auto ok = xib::parse_feature_cache_seal(seal_text("checksum: xxh3-128 " + digest + "\nbytes: 42\n"), "c");
  CHECK(ok.digest == digest);
  CHECK(ok.bytes == 42);
  auto report = [](const std::string& block) {
    return error_of<xib::FormatError>([&] { xib::parse_feature_cache_seal(block, "cache.h5"); });
  };
  CHECK(report("not a cache").find("no 'xib feature cache' line") != std::string::npos);
  CHECK(report(seal_text("bytes: 42\n")).find("no 'checksum:' line") != std::string::npos);
  CHECK(report(seal_text("checksum: xxh3-128 " + digest + "\n")).find("no 'bytes:' line") != std::string::npos);
  CHECK(report(seal_text("checksum: xxh3-128 " + digest + "\nbytes: 42")).find("unfinished line") != std::string::npos);
  CHECK(report(seal_text("checksum: xxh3-128 ABC\nbytes: 1\n")).find("checksum 'ABC'") != std::string::npos);
  CHECK(report(seal_text("checksum: xxh3-128 " + std::string(32, 'A') + "\nbytes: 1\n")).find("checksum") !=
        std::string::npos);
  CHECK(report(seal_text("checksum: xxh3-128 " + digest + "\nbytes: -1\n")).find("bytes '-1'") != std::string::npos);
  CHECK(report(seal_text("checksum: xxh3-128 " + digest + "\nbytes: 99999999999999999999999\n")).find("bytes '") !=
        std::string::npos);
  CHECK(report(seal_text("checksum: xxh3-128 " + digest + "\nbytes: 1\nbytes: 2\n")).find("the line 'bytes: 2'") !=
        std::string::npos);
  CHECK(report(seal_text("checksum: xxh3-128 " + digest + "\nbytes: 1\n\x01\xff\n")).find("\\x01\\xff") !=
        std::string::npos);
  // 512 bytes of header text without the '\0' padding: read to the end, the last line unfinished.
  std::string full = "xib feature cache\n";
  full.resize(xib::kFeatureCacheUserBlock, 'x');
  CHECK(report(full).find("unfinished line") != std::string::npos);
}
