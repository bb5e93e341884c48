// `xib inspect` and `xib convert` end to end on the io fixtures (tests/io/data/): tables, JSON,
// bit-exact conversion of PyTorch checkpoints to safetensors, and their errors.
#include <doctest/doctest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "xib/io/safetensors.h"
#include "xib/sha256.h"

using namespace xib::test;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

fs::path data(const std::string& rel) { return source_dir() / "tests/io/data" / rel; }

nlohmann::json torch_expected() { return nlohmann::json::parse(read_file(data("torch/expected.json")))["state_dict"]; }

}  // namespace

TEST_CASE("xib inspect: a safetensors file as a table and as JSON") {
  const auto r = run_xib({"inspect", data("safetensors/basic.safetensors").string()});
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.out, "format    safetensors\n"));
  CHECK(contains(r.out, "source  make_safetensors_fixtures.py"));
  CHECK(contains(r.out, "NAME"));
  CHECK(contains(r.out, "weights.f32"));
  CHECK(contains(r.out, "total     9 tensors"));
  CHECK(contains(r.out, "by dtype  "));
  CHECK(!contains(r.out, "VIEW"));  // nothing strided in safetensors

  const auto j = run_xib({"inspect", "--json", data("safetensors/basic.safetensors").string()});
  REQUIRE(j.exit_code == 0);
  const auto doc = nlohmann::json::parse(j.out);
  CHECK(doc["format"] == "safetensors");
  CHECK(doc["path"] == data("safetensors/basic.safetensors").string());
  CHECK(doc["metadata"]["format"] == "pt");
  const auto want = nlohmann::json::parse(read_file(data("safetensors/expected.json")))["basic.safetensors"]["tensors"];
  REQUIRE(doc["tensors"].size() == want.size());
  uint64_t total = 0;
  for (const auto& t : doc["tensors"]) {
    CAPTURE(t.dump());
    CHECK(t["shape"] == want.at(t["name"].get<std::string>())["shape"]);
    total += t["bytes"].get<uint64_t>();
  }
  CHECK(doc["total_bytes"] == total);
  CHECK(doc["count"] == want.size());

  const auto sharded = run_xib({"inspect", data("safetensors/sharded").string()});
  CHECK(sharded.exit_code == 0);
  CHECK(contains(sharded.out, "safetensors (2 shards)"));
}

TEST_CASE("xib inspect: PyTorch checkpoints show metadata, views with strides, prefixes") {
  const auto r = run_xib({"inspect", data("torch/nested_zip.pt").string()});
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.out, "format    pytorch zip"));
  CHECK(contains(r.out, "epoch  int 3"));
  CHECK(contains(r.out, "args   opaque argparse.Namespace"));
  CHECK(contains(r.out, "model.shared.transposed"));
  CHECK(contains(r.out, "strides [1, 5]"));
  CHECK(contains(r.out, "strides [3], offset 1"));

  const auto j = run_xib({"inspect", data("torch/nested_legacy.pt").string(), "--json", "--prefix", "model"});
  REQUIRE(j.exit_code == 0);
  const auto doc = nlohmann::json::parse(j.out);
  CHECK(doc["format"] == "pytorch legacy");
  CHECK(doc["prefix"] == "model");
  CHECK(doc["metadata"]["note"] == "str 'text'");
  const auto want = torch_expected();
  REQUIRE(doc["tensors"].size() == want.size());
  for (const auto& t : doc["tensors"]) {
    const auto& w = want.at(t["name"].get<std::string>());
    CHECK(t["dtype"] == w["dtype"]);
    CHECK(t["shape"] == w["shape"]);
    if (t.contains("strides")) CHECK(t["strides"] == w["strides"]);
  }
  CHECK(doc["tensors"][11]["name"] == "shared.transposed");
  CHECK(doc["tensors"][11]["strides"] == nlohmann::json::array({1, 5}));
  CHECK(doc["bytes_by_dtype"]["f32"]["bytes"].get<uint64_t>() > 0);

  const auto strict = run_xib({"inspect", "--strict", data("torch/nested_zip.pt").string()});
  CHECK(strict.exit_code == 1);
  CHECK(contains(strict.err, "argparse.Namespace"));
  const auto bad_prefix = run_xib({"inspect", data("torch/nested_zip.pt").string(), "--prefix", "modle"});
  CHECK(bad_prefix.exit_code == 1);
  CHECK(contains(bad_prefix.err, "did you mean 'model'?"));
}

TEST_CASE("xib convert: PyTorch checkpoints to safetensors, bit-exact") {
  TempDir tmp;
  const auto want = torch_expected();
  for (const char* file : {"nested_zip.pt", "nested_legacy.pt"}) {
    CAPTURE(file);
    const fs::path out = tmp / (std::string(file) + ".safetensors");
    const auto r = run_xib({"convert", data(std::string("torch/") + file).string(), out.string(), "--prefix", "model",
                            "--metadata", "license=mit", "--metadata", "note=a=b"});
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.out, "16 tensors"));
    CHECK(contains(r.out, "2 strided views made contiguous"));
    const xib::io::SafetensorsFile f(out);
    REQUIRE(f.records().size() == want.size());
    for (const auto& t : f.records()) {
      CAPTURE(t.name);
      const auto& w = want.at(t.name);
      CHECK(t.shape == w["shape"].get<std::vector<int64_t>>());
      CHECK(xib::io::dtype_name(t.dtype) == w["dtype"].get<std::string>());
      const std::string bytes(reinterpret_cast<const char*>(t.data), t.nbytes());
      CHECK(xib::sha256_hex(bytes) == w["sha256"].get<std::string>());
    }
    const auto& m = f.metadata();
    CHECK(m.at("source") == file);
    CHECK(m.at("source_format") ==
          (std::string(file).find("zip") != std::string::npos ? "pytorch zip" : "pytorch legacy"));
    CHECK(m.at("source_prefix") == "model");
    CHECK(m.at("converted_by").starts_with("xib "));
    CHECK(m.at("format") == "pt");
    CHECK(m.at("license") == "mit");
    CHECK(m.at("note") == "a=b");
    // The result inspects as safetensors and converts again (safetensors → safetensors keeps metadata).
    const fs::path again = tmp / "again.safetensors";
    REQUIRE(run_xib({"convert", out.string(), again.string()}).exit_code == 0);
    const xib::io::SafetensorsFile g(again);
    CHECK(g.metadata().at("license") == "mit");
    CHECK(g.metadata().at("source_format") == "safetensors");
    CHECK(g.metadata().count("source_prefix") == 0);
    CHECK(g.records().size() == want.size());
  }
  // Without a prefix the names keep "model.".
  const fs::path plain = tmp / "plain.safetensors";
  REQUIRE(run_xib({"convert", data("torch/state_dict_zip.pt").string(), plain.string()}).exit_code == 0);
  CHECK(xib::io::SafetensorsFile(plain).contains("shared.slice"));
}

TEST_CASE("xib convert: strict, bad output names, overwriting the input, unknown and missing files") {
  TempDir tmp;
  const std::string out = (tmp / "out.safetensors").string();
  const auto strict = run_xib({"convert", "--strict", data("torch/nested_zip.pt").string(), out});
  CHECK(strict.exit_code == 1);
  CHECK(contains(strict.err, "argparse.Namespace"));
  CHECK(!fs::exists(out));
  const auto evil = run_xib({"convert", "--strict", data("torch/evil_system_zip.pt").string(), out});
  CHECK(evil.exit_code == 1);
  CHECK(contains(evil.err, "os.system"));

  const auto ext = run_xib({"convert", data("torch/nested_zip.pt").string(), (tmp / "out.bin").string()});
  CHECK(ext.exit_code == 2);
  CHECK(contains(ext.err, "ending in .safetensors"));
  const auto usage = run_xib({"convert", data("torch/nested_zip.pt").string()});
  CHECK(usage.exit_code == 2);
  CHECK(contains(usage.err, "no output file given"));
  const auto bad_meta = run_xib({"convert", data("torch/nested_zip.pt").string(), out, "--metadata", "novalue"});
  CHECK(bad_meta.exit_code == 2);
  CHECK(contains(bad_meta.err, "KEY=VALUE"));

  // The input is never overwritten, also through a folder.
  const fs::path in = tmp.write("m/model.safetensors", read_file(data("safetensors/basic.safetensors")));
  for (const fs::path& p : {in, in.parent_path()}) {
    const auto self = run_xib({"convert", p.string(), in.string()});
    CHECK(self.exit_code == 2);
    CHECK(contains(self.err, "refusing to overwrite the input"));
  }
  CHECK(read_file(in) == read_file(data("safetensors/basic.safetensors")));

  const auto unknown = run_xib({"convert", tmp.write("notes.txt", "just text\n").string(), out});
  CHECK(unknown.exit_code == 1);
  CHECK(contains(unknown.err, "is text"));
  CHECK(contains(unknown.err, "supported: safetensors"));
  const auto gguf = run_xib({"inspect", tmp.write("m.gguf", std::string("GGUF\x03\0\0\0\0\0\0\0", 12)).string()});
  CHECK(gguf.exit_code == 1);
  CHECK(contains(gguf.err, "file ends inside tensor count"));
  const auto missing = run_xib({"convert", (tmp / "missing.pt").string(), out});
  CHECK(missing.exit_code == 1);
  CHECK(contains(missing.err, "no such file"));
  const auto none = run_xib({"inspect"});
  CHECK(none.exit_code == 2);
  // A file without tensors converts to nothing: an error, no output.
  const auto empty =
      run_xib({"convert", tmp.write("empty.safetensors", std::string("\x02\0\0\0\0\0\0\0{}", 10)).string(), out});
  CHECK(empty.exit_code == 1);
  CHECK_MESSAGE(contains(empty.err, "holds no tensors"), empty.err);
  CHECK(!fs::exists(out));
}
