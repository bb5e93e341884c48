// The feature cache's file side (xib/feature_cache.h): round trips, h5py reading what xib wrote
// (tests/io/h5py_feature_cache.py with /usr/bin/python3 and Debian's python3-h5py), and every
// refusal: stale identities, entries from other files, non-HDF5 and foreign HDF5 files.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "feature_cache_fixtures.h"
#include "test_support.h"
#include "xib/build_info.h"
#include "xib/error.h"
#include "xib/feature_cache.h"
#include "xib/feature_cache_seal.h"

namespace fs = std::filesystem;
using nlohmann::json;
using xib::FeatureArray;
using xib::FeatureCache;
using xib::FeatureIdentity;
using xib::Sample;
using xib::test::TempDir;

using xib::test::error_of;
using xib::test::h5py;
using xib::test::identity;
using xib::test::normal;
using xib::test::sample;
using xib::test::values;

TEST_CASE("feature cache: ids are escaped for HDF5 and come back unchanged") {
  CHECK(xib::escape_feature_key("coco:391895") == "coco:391895");
  CHECK(xib::escape_feature_key("a/b%c") == "a%2Fb%25c");
  CHECK(xib::escape_feature_key(".hidden.x") == "%2Ehidden.x");
  for (const std::string id : {"coco:1", "a/b/c", "100%", "%2F", ".", "..", "x.y", "ünï/cødé"}) {
    CHECK(xib::unescape_feature_key(xib::escape_feature_key(id)) == id);
    CHECK(xib::escape_feature_key(id).find('/') == std::string::npos);
  }
  CHECK_THROWS_AS(xib::escape_feature_key(""), xib::UsageError);
}

TEST_CASE("feature cache: written entries read back exactly, after commit, from a reopened file") {
  TempDir dir;
  const fs::path path = dir / "features.h5";
  const Sample a = sample(dir, "coco:1", "img/1.png"), b = sample(dir, "vg/2%", "img/2.png");
  {
    FeatureCache c = FeatureCache::open(path, FeatureCache::Mode::build);
    c.bind(identity());
    CHECK_FALSE(c.has("image", a));
    c.write("image", a, values(1));
    c.write("image", b, values(-2));
    CHECK(c.has("image", a));
    CHECK(c.has_uncommitted_writes());
    CHECK_FALSE(fs::exists(path));  // nothing is published before commit()
    c.commit();
    CHECK_FALSE(c.has_uncommitted_writes());
    CHECK(fs::exists(path));
    CHECK(c.read("image", b).values == values(-2).values);  // still readable after commit
  }
  FeatureCache c = FeatureCache::open(path, FeatureCache::Mode::read);
  c.bind(identity());
  CHECK(c.has("image", a));
  const FeatureArray got = c.read("image", a);
  CHECK(got.shape == std::vector<int64_t>{3, 2});
  CHECK(got.values == values(1).values);
  CHECK(c.read("image", b).values == values(-2).values);
  auto ids = c.ids("image");
  std::sort(ids.begin(), ids.end());
  CHECK(ids == std::vector<std::string>{"coco:1", "vg/2%"});
  const auto stored = c.stored_identity("image");
  REQUIRE(stored);
  CHECK(stored->preprocessing == identity().preprocessing);
  CHECK(stored->feature_shape == identity().feature_shape);
  for (const auto& e : fs::directory_iterator(dir.path())) {
    CHECK_MESSAGE(e.path().filename().string().find("partial") == std::string::npos, e.path());
  }
}

TEST_CASE("feature cache: writes without commit leave the existing cache as it was") {
  TempDir dir;
  const fs::path path = dir / "features.h5";
  const Sample a = sample(dir, "coco:1", "1.png"), b = sample(dir, "coco:2", "2.png");
  {
    FeatureCache c = FeatureCache::open(path, FeatureCache::Mode::build);
    c.bind(identity());
    c.write("image", a, values(1));
  }
  CHECK_FALSE(fs::exists(path));  // a new cache is only published by commit()
  {
    FeatureCache c = FeatureCache::open(path, FeatureCache::Mode::build);
    c.bind(identity());
    c.write("image", a, values(1));
    c.commit();
  }
  const std::string before = xib::test::read_file(path);
  {
    FeatureCache c = FeatureCache::open(path, FeatureCache::Mode::build);
    c.bind(identity());
    c.write("image", b, values(2));
    c.write("image", a, values(7));  // replaced in the copy only
  }                                  // dropped: as a crash before commit()
  CHECK(xib::test::read_file(path) == before);
  FeatureCache c = FeatureCache::open(path, FeatureCache::Mode::read);
  c.bind(identity());
  CHECK_FALSE(c.has("image", b));
  CHECK(c.read("image", a).values == values(1).values);
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path())) ++files;
  CHECK(files == 3);  // 1.png, 2.png, features.h5: no temporary left behind
}

TEST_CASE("feature cache: samples of one file share one stored array") {
  TempDir dir;
  const fs::path path = dir / "features.h5";
  const Sample q1 = sample(dir, "vqa:1", "same.png"), q2 = sample(dir, "vqa:2", "same.png");
  FeatureCache c = FeatureCache::open(path, FeatureCache::Mode::build);
  c.bind(identity());
  CHECK_FALSE(c.link_same_file("image", q2));  // nothing stored from that file yet
  c.write("image", q1, values(3));
  CHECK(c.link_same_file("image", q2));
  CHECK(c.read("image", q2).values == values(3).values);
  c.commit();
  FeatureCache r = FeatureCache::open(path, FeatureCache::Mode::build);
  r.bind(identity());
  const Sample q3 = sample(dir, "vqa:3", "same.png");
  CHECK(r.link_same_file("image", q3));  // found through the stored file attributes
  CHECK(r.read("image", q3).values == values(3).values);
}

TEST_CASE("feature cache: h5py reads a cache written by xib — attributes, values, shared entries") {
  TempDir dir;
  const fs::path path = dir / "features.h5";
  FeatureIdentity seq{.modality = "audio",
                      .encoder = "beats",
                      .weights_id = "fixed:2",
                      .preprocessing = json::object(),
                      .feature_shape = {-1, 2, 2}};
  const Sample a = sample(dir, "coco:1", "1.png"), b = sample(dir, "x/y", "2.png"), b2 = sample(dir, "x/z", "2.png");
  Sample s;
  s.id = "clip:7";
  s.inputs["audio"] = {dir.write("7.wav", "wave")};
  const FeatureArray sv{.shape = {3, 2, 2}, .values = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12.5f}};
  {
    FeatureCache c = FeatureCache::open(path, FeatureCache::Mode::build);
    c.bind(identity());
    c.bind(seq);
    c.write("image", a, values(1));
    c.write("image", b, values(2));
    CHECK(c.link_same_file("image", b2));
    c.write("audio", s, sv);
    c.commit();
  }
  auto entry = [](const std::string& key, const FeatureArray& v, const fs::path& file) {
    return json{{"key", key}, {"shape", v.shape}, {"values", v.values}, {"file", normal(file)}};
  };
  const FeatureIdentity im = identity();
  const json expected = {
      {"root", {{"xib_format", "xib.feature_cache"}, {"format_version", 2}, {"xib_version", XIB_VERSION}}},
      {"groups",
       {{"image",
         {{"modality", "image"},
          {"encoder", im.encoder},
          {"weights_id", im.weights_id},
          {"preprocessing", im.preprocessing},
          {"feature_shape", im.feature_shape},
          {"entries",
           {entry("coco:1", values(1), a.inputs.at("image")[0]), entry("x%2Fy", values(2), b.inputs.at("image")[0]),
            entry("x%2Fz", values(2), b.inputs.at("image")[0])}},
          {"same_object", json::array({json::array({"x%2Fy", "x%2Fz"})})}}},
        {"audio",
         {{"modality", "audio"},
          {"encoder", "beats"},
          {"weights_id", "fixed:2"},
          {"preprocessing", json::object()},
          {"feature_shape", {-1, 2, 2}},
          {"entries", {entry("clip:7", sv, s.inputs.at("audio")[0])}}}}}}};
  dir.write("expected.json", expected.dump());
  const auto r = h5py({"read", path.string(), (dir / "expected.json").string()});
  INFO(r.out, r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("ok: 4 entries") != std::string::npos);
}

TEST_CASE("feature cache: a cache of another encoder, weights or preprocessing is refused, naming the attribute") {
  TempDir dir;
  const fs::path path = dir / "features.h5";
  {
    FeatureCache c = FeatureCache::open(path, FeatureCache::Mode::build);
    c.bind(identity());
    c.write("image", sample(dir, "coco:1", "1.png"), values(1));
    c.commit();
  }
  struct Case {
    const char* attribute;
    FeatureIdentity id;
    std::string expected, got;
  };
  FeatureIdentity weights = identity(), encoder = identity(), pre = identity();
  weights.weights_id = "sha256:ffff";
  encoder.encoder = "eva_vit_g";
  pre.preprocessing["size"] = 224;
  for (const auto& [attribute, id, expected, got] :
       {Case{"weights_id", weights, "sha256:ffff", "sha256:0123abcd"},
        Case{"encoder", encoder, "eva_vit_g", "efficientnet_lite0"}, Case{"preprocessing", pre, "224", "128"}}) {
    for (auto mode : {FeatureCache::Mode::read, FeatureCache::Mode::build}) {
      CAPTURE(attribute);
      FeatureCache c = FeatureCache::open(path, mode);
      const std::string report = error_of<xib::StaleCacheError>([&] { c.bind(id); });
      CHECK(report.find(std::string("its ") + attribute + " differs") != std::string::npos);
      CHECK(report.find(std::string("attribute ") + attribute) != std::string::npos);
      CHECK(report.find(expected) != std::string::npos);
      CHECK(report.find(got) != std::string::npos);
      CHECK(report.find("delete the file") != std::string::npos);
      CHECK_FALSE(c.has_uncommitted_writes());
    }
  }
  // Several differences are all named.
  FeatureIdentity both = weights;
  both.feature_shape = {5, 2};
  FeatureCache c = FeatureCache::open(path, FeatureCache::Mode::read);
  const std::string report = error_of<xib::StaleCacheError>([&] { c.bind(both); });
  CHECK(report.find("weights_id and feature_shape differ") != std::string::npos);
  CHECK(report.find("[5, 2]") != std::string::npos);
}

TEST_CASE("feature cache: an entry made from another file, or from a file that changed, is refused") {
  TempDir dir;
  const fs::path path = dir / "features.h5";
  FeatureCache c = FeatureCache::open(path, FeatureCache::Mode::build);
  c.bind(identity());
  c.write("image", sample(dir, "coco:1", "old.png"), values(1));
  c.commit();
  const Sample moved = sample(dir, "coco:1", "new.png");
  std::string report = error_of<xib::StaleCacheError>([&] { c.has("image", moved); });
  CHECK(report.find("was made from another file") != std::string::npos);
  CHECK(report.find(normal(dir / "old.png")) != std::string::npos);
  CHECK(report.find(normal(dir / "new.png")) != std::string::npos);
  const Sample changed = sample(dir, "coco:1", "old.png", "now longer");
  report = error_of<xib::StaleCacheError>([&] { c.has("image", changed); });
  CHECK(report.find("older version of its file") != std::string::npos);
  CHECK(report.find("file_bytes") != std::string::npos);
}

TEST_CASE("feature cache: a file that is not HDF5 is refused and left untouched") {
  TempDir dir;
  const fs::path path = dir.write("features.h5", "these are my notes, not a cache\n");
  for (auto mode : {FeatureCache::Mode::read, FeatureCache::Mode::build}) {
    const std::string report = error_of<xib::FormatError>([&] { FeatureCache::open(path, mode); });
    CHECK(report.find("is not an HDF5 file") != std::string::npos);
    CHECK(report.find("never overwrites") != std::string::npos);
  }
  CHECK(xib::test::read_file(path) == "these are my notes, not a cache\n");
  const std::string missing =
      error_of<xib::IoError>([&] { FeatureCache::open(dir / "absent.h5", FeatureCache::Mode::read); });
  CHECK(missing.find("does not exist") != std::string::npos);
  CHECK_THROWS_AS(FeatureCache::open(dir.path(), FeatureCache::Mode::build), xib::IoError);
}

TEST_CASE("feature cache: an HDF5 file written by h5py without xib's attributes is refused") {
  TempDir dir;
  const fs::path path = dir / "foreign.h5";
  REQUIRE(h5py({"foreign", path.string()}).exit_code == 0);
  const std::string before = xib::test::read_file(path);
  for (auto mode : {FeatureCache::Mode::read, FeatureCache::Mode::build}) {
    // Without xib's seal libhdf5 never sees it.
    const std::string report = error_of<xib::FormatError>([&] { FeatureCache::open(path, mode); });
    CHECK(report.find("is an HDF5 file but not a sealed xib feature cache") != std::string::npos);
    CHECK(report.find("never overwrites") != std::string::npos);
  }
  CHECK(xib::test::read_file(path) == before);
  // Sealed (as if xib had written it), its attributes are checked.
  const fs::path sealed = dir / "foreign-sealed.h5";
  REQUIRE(h5py({"foreign", sealed.string(), "--userblock"}).exit_code == 0);
  xib::seal_feature_cache(sealed);
  for (auto mode : {FeatureCache::Mode::read, FeatureCache::Mode::build}) {
    const std::string report = error_of<xib::FormatError>([&] { FeatureCache::open(sealed, mode); });
    CHECK(report.find("is an HDF5 file but not an xib feature cache") != std::string::npos);
    CHECK(report.find("root attributes: creator") != std::string::npos);
  }
  const fs::path future = dir / "future.h5";
  REQUIRE(h5py({"future", future.string(), "--userblock"}).exit_code == 0);
  xib::seal_feature_cache(future);
  const std::string report = error_of<xib::FormatError>([&] { FeatureCache::open(future, FeatureCache::Mode::build); });
  CHECK(report.find("format version this xib cannot read") != std::string::npos);
  CHECK(report.find("99") != std::string::npos);
  CHECK(report.find("9.9.9") != std::string::npos);
  // A file without a user block cannot be sealed (the seal would overwrite its superblock).
  const std::string unsealable = error_of<xib::FormatError>([&] { xib::seal_feature_cache(path); });
  CHECK(unsealable.find("user block") != std::string::npos);
  CHECK(xib::test::read_file(path) == before);
}

TEST_CASE("feature cache: misuse is reported — read-only writes, unbound or absent modalities, wrong shapes") {
  TempDir dir;
  const fs::path path = dir / "features.h5";
  const Sample a = sample(dir, "coco:1", "1.png");
  {
    FeatureCache c = FeatureCache::open(path, FeatureCache::Mode::build);
    CHECK_THROWS_AS(c.has("image", a), xib::UsageError);  // not bound
    c.bind(identity());
    CHECK_THROWS_AS(c.write("image", a, FeatureArray{.shape = {4, 2}, .values = std::vector<float>(8)}),
                    xib::ShapeError);
    CHECK_THROWS_AS(c.write("image", a, FeatureArray{.shape = {3, 2}, .values = std::vector<float>(5)}),
                    xib::ShapeError);
    Sample two = a;
    two.inputs["image"].push_back(dir / "2.png");
    CHECK_THROWS_AS(c.has("image", two), xib::UsageError);
    c.write("image", a, values(1));
    Sample empty = a;  // found by make fuzz: an empty path threw std::filesystem's error
    empty.inputs["image"] = {fs::path()};
    CHECK_THROWS_AS(c.has("image", empty), xib::UsageError);
    c.commit();
  }
  FeatureCache c = FeatureCache::open(path, FeatureCache::Mode::read);
  FeatureIdentity audio = identity();
  audio.modality = "audio";
  const std::string report = error_of<xib::NotFoundError>([&] { c.bind(audio); });
  CHECK(report.find("no features of modality 'audio'") != std::string::npos);
  CHECK(report.find("groups image") != std::string::npos);
  c.bind(identity());
  CHECK_THROWS_AS(c.write("image", a, values(2)), xib::UsageError);
  CHECK_THROWS_AS(c.read("image", sample(dir, "coco:9", "9.png")), xib::NotFoundError);
}
