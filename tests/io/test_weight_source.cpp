// open_weights(): format sniffing by content, folders and indexes, prefixes, strict mode, and
// the errors for missing files and formats xib does not read. Fixtures: tests/io/data/.
#include <doctest/doctest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "xib/error.h"
#include "xib/io/strided_copy.h"
#include "xib/io/weight_source.h"
#include "xib/sha256.h"

namespace fs = std::filesystem;
using namespace xib::io;
using xib::test::TempDir;

namespace {

fs::path data_dir() { return xib::test::source_dir() / "tests/io/data"; }

nlohmann::json torch_expected() {
  return nlohmann::json::parse(xib::test::read_file(data_dir() / "torch/expected.json"))["state_dict"];
}

std::string sha_of(const TensorRecord& t) {
  const auto b = contiguous_bytes(t);
  return xib::sha256_hex(std::string(reinterpret_cast<const char*>(b.data()), b.size()));
}

template <class E>
std::string error_of(auto&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.report();
  }
  return "no error";
}

std::vector<std::string> names_of(const WeightSource& s) {
  std::vector<std::string> out;
  for (const auto& t : s.tensors()) out.push_back(t.name);
  return out;
}

}  // namespace

TEST_CASE("open_weights: safetensors file, index and folder") {
  const auto f = open_weights(data_dir() / "safetensors/basic.safetensors");
  CHECK(f->format() == "safetensors");
  CHECK(f->path() == data_dir() / "safetensors/basic.safetensors");
  CHECK(f->metadata().at("format") == "pt");
  CHECK(f->files() == std::vector<fs::path>{data_dir() / "safetensors/basic.safetensors"});
  const auto want = nlohmann::json::parse(xib::test::read_file(data_dir() / "safetensors/expected.json"));
  const auto& tensors = want["basic.safetensors"]["tensors"];
  REQUIRE(f->tensors().size() == tensors.size());
  for (const auto& t : f->tensors()) {
    CAPTURE(t.name);
    CHECK(sha_of(t) == tensors.at(t.name)["sha256"].get<std::string>());
    CHECK(f->find(t.name) == &t);
  }
  CHECK(f->find("nope") == nullptr);

  for (const fs::path& p : {data_dir() / "safetensors/sharded", data_dir() / "safetensors/sharded/",
                            data_dir() / "safetensors/sharded/model.safetensors.index.json"}) {
    CAPTURE(p);
    const auto s = open_weights(p);
    CHECK(s->format() == "safetensors (2 shards)");
    CHECK(s->path() == p);
    CHECK(s->files().size() == 2);
    CHECK(s->metadata().at("total_size") == "68");
    CHECK(names_of(*s) == std::vector<std::string>{"layers.0.weight", "layers.0.bias", "embed.ids", "layers.1.weight"});
  }
  // A single shard is a plain safetensors file.
  CHECK(open_weights(data_dir() / "safetensors/sharded/model-00001-of-00002.safetensors")->format() == "safetensors");
}

TEST_CASE("open_weights: a folder with model.safetensors or a single *.safetensors") {
  TempDir tmp;
  const std::string bytes = xib::test::read_file(data_dir() / "safetensors/basic.safetensors");
  tmp.write("a/model.safetensors", bytes);
  tmp.write("a/other.safetensors", bytes);
  CHECK(open_weights(tmp / "a")->files() == std::vector<fs::path>{tmp / "a/model.safetensors"});
  tmp.write("b/weights.safetensors", bytes);
  tmp.write("b/README.md", "hi");
  CHECK(open_weights(tmp / "b")->files() == std::vector<fs::path>{tmp / "b/weights.safetensors"});
  // Two candidates, or none: a NotFoundError saying what is there.
  tmp.write("c/x.safetensors", bytes);
  tmp.write("c/y.safetensors", bytes);
  CHECK(error_of<xib::NotFoundError>([&] { (void)open_weights(tmp / "c"); }).find("x.safetensors, y.safetensors") !=
        std::string::npos);
  tmp.write("d/pytorch_model.bin", "x");
  const std::string err = error_of<xib::NotFoundError>([&] { (void)open_weights(tmp / "d"); });
  CHECK(err.find("pytorch_model.bin") != std::string::npos);
  CHECK(err.find("pass the file itself") != std::string::npos);
  // The extension does not matter: content decides.
  const auto renamed = open_weights(tmp.write("weights.bin", bytes));
  CHECK(renamed->format() == "safetensors");
}

TEST_CASE("open_weights: PyTorch checkpoints, zip and legacy, with and without a prefix") {
  const auto want = torch_expected();
  for (const char* file : {"state_dict_zip.pt", "state_dict_legacy.pt", "nested_zip.pt", "nested_legacy.pt"}) {
    CAPTURE(file);
    const std::string name = file;
    const bool nested = name.starts_with("nested");
    const auto s = open_weights(data_dir() / "torch" / file, {.prefix = nested ? "model" : ""});
    CHECK(s->format() == (name.find("zip") != std::string::npos ? "pytorch zip" : "pytorch legacy"));
    CHECK(s->prefix() == (nested ? "model" : ""));
    REQUIRE(s->tensors().size() == want.size());
    for (const auto& t : s->tensors()) {
      CAPTURE(t.name);
      CHECK(sha_of(t) == want.at(t.name)["sha256"].get<std::string>());
    }
    CHECK(s->find("shared.transposed") != nullptr);
    CHECK(!s->find("shared.transposed")->contiguous());
    if (nested) {
      CHECK(s->metadata() == std::map<std::string, std::string>{
                                 {"args", "opaque argparse.Namespace"}, {"epoch", "int 3"}, {"note", "str 'text'"}});
      // Without a prefix the names carry it; a trailing dot is accepted.
      CHECK(open_weights(data_dir() / "torch" / file)->find("model.f32") != nullptr);
      CHECK(open_weights(data_dir() / "torch" / file, {.prefix = "model."})->find("f32") != nullptr);
      // Strict refuses the pickled argparse.Namespace.
      CHECK(error_of<xib::FormatError>([&] {
              (void)open_weights(data_dir() / "torch" / file, {.strict = true});
            }).find("argparse.Namespace") != std::string::npos);
    } else {
      CHECK(s->metadata().empty());
      CHECK_NOTHROW(open_weights(data_dir() / "torch" / file, {.strict = true}));
    }
  }
  // A deeper prefix keeps what is under it.
  const auto shared = open_weights(data_dir() / "torch/nested_zip.pt", {.prefix = "model.shared"});
  CHECK(names_of(*shared) == std::vector<std::string>{"full", "transposed", "slice", "strided"});
}

TEST_CASE("open_weights: an unknown prefix lists what is there") {
  const std::string ck = error_of<xib::NotFoundError>(
      [] { (void)open_weights(data_dir() / "torch/nested_legacy.pt", {.prefix = "modle"}); });
  CHECK(ck.find("no tensors under prefix 'modle'") != std::string::npos);
  CHECK(ck.find("state-dict paths") != std::string::npos);
  CHECK(ck.find("did you mean 'model'?") != std::string::npos);
  const std::string st =
      error_of<xib::NotFoundError>([] { (void)open_weights(data_dir() / "safetensors/sharded", {.prefix = "layer"}); });
  CHECK(st.find("top-level names") != std::string::npos);
  CHECK(st.find("layers, embed") != std::string::npos);
}

TEST_CASE("open_weights: missing files and unsupported formats") {
  TempDir tmp;
  const std::string missing = error_of<xib::IoError>([&] { (void)open_weights(tmp / "missing.pt"); });
  CHECK(missing.find("no such file") != std::string::npos);

  auto format_error = [&](const std::string& name, const std::string& bytes) {
    return error_of<xib::FormatError>([&] { (void)open_weights(tmp.write(name, bytes)); });
  };
  const std::string gguf = format_error("m.gguf", std::string("GGUF\x03\0\0\0\0\0\0\0", 12));
  CHECK(gguf.find("file ends inside tensor count") != std::string::npos);  // a truncated GGUF file
  CHECK(gguf.find("m.gguf") != std::string::npos);
  const std::string text = format_error("notes.pt", "hello, these are not weights\n");
  CHECK(text.find("is text") != std::string::npos);
  CHECK(text.find("\"hello, these are") != std::string::npos);
  CHECK(format_error("empty.safetensors", "").find("is empty") != std::string::npos);
  CHECK(format_error("config.json", "{\"a\": 1}").find("JSON") != std::string::npos);
  const std::string pickle = format_error("plain.pkl", std::string("\x80\x04K\x01.", 5));
  CHECK(pickle.find("plain pickle") != std::string::npos);
  const std::string binary = format_error("junk.bin", std::string("\x01\x02\x03\xff\xfe", 5));
  CHECK(binary.find("unknown format") != std::string::npos);
  CHECK(binary.find("01 02 03 ff fe") != std::string::npos);
  // Formats that sniff right but are malformed get their reader's error.
  CHECK_THROWS_AS(open_weights(tmp.write("bad.index.json", "{\"weight_map\": 3}")), xib::FormatError);
  CHECK_THROWS_AS(open_weights(tmp.write("bad.pt", std::string("PK\x03\x04", 4) + std::string(40, '\0'))),
                  xib::FormatError);
}
