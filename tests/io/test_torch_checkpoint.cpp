// PyTorch checkpoints: bit-exact tensors in both formats, the restricted unpickler's refusals,
// and malformed input. Fixtures: tools/fixtures/make_torch_fixtures.py.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "xib/error.h"
#include "xib/io/pickle.h"
#include "xib/io/torch_checkpoint.h"
#include "xib/sha256.h"

namespace fs = std::filesystem;
using namespace xib::io;
using xib::test::TempDir;

namespace {

fs::path data_dir() { return xib::test::source_dir() / "tests/io/data/torch"; }

nlohmann::json expected() { return nlohmann::json::parse(xib::test::read_file(data_dir() / "expected.json")); }

/// The view's elements, gathered row-major into contiguous bytes.
std::string contiguous_bytes(const TensorRecord& t) {
  const size_t es = dtype_size(t.dtype);
  std::string out;
  const int64_t n = t.numel();
  if (n == 0) return out;
  std::vector<int64_t> idx(t.shape.size(), 0);
  for (int64_t e = 0; e < n; ++e) {
    int64_t off = t.storage_offset;
    for (size_t d = 0; d < idx.size(); ++d) off += idx[d] * t.strides[d];
    REQUIRE((off + 1) * static_cast<int64_t>(es) <= static_cast<int64_t>(t.storage_bytes));
    out.append(reinterpret_cast<const char*>(t.data) + off * es, es);
    for (size_t d = idx.size(); d-- > 0;) {
      if (++idx[d] < t.shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

void check_state_dict(const std::vector<TensorRecord>& tensors, const std::string& prefix) {
  const auto want = expected()["state_dict"];
  REQUIRE(tensors.size() == want.size());
  for (const TensorRecord& t : tensors) {
    CAPTURE(t.name);
    REQUIRE(t.name.starts_with(prefix));
    const auto& w = want.at(t.name.substr(prefix.size()));
    CHECK(dtype_name(t.dtype) == w["dtype"].get<std::string>());
    CHECK(t.shape == w["shape"].get<std::vector<int64_t>>());
    CHECK(t.strides == w["strides"].get<std::vector<int64_t>>());
    CHECK(t.storage_offset == w["storage_offset"].get<int64_t>());
    CHECK(t.storage_bytes >= w["storage_numel"].get<size_t>() * dtype_size(t.dtype));
    CHECK(xib::sha256_hex(contiguous_bytes(t)) == w["sha256"].get<std::string>());
  }
}

std::string bytes_of(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s += static_cast<char>(c);
  return s;
}

Unpickled unpickle_str(const std::string& s, PickleOptions o = {}) {
  return unpickle({reinterpret_cast<const std::byte*>(s.data()), s.size()}, o);
}

std::string error_of(auto&& f) {
  try {
    f();
  } catch (const xib::FormatError& e) {
    return e.report();
  }
  return "no error";
}

}  // namespace

TEST_CASE("torch checkpoint: state dict tensors are bit-exact in zip and legacy formats") {
  for (const char* file : {"state_dict_zip.pt", "state_dict_legacy.pt"}) {
    CAPTURE(file);
    const Checkpoint ck = Checkpoint::open(data_dir() / file);
    CHECK(ck.format() ==
          (std::string(file).find("zip") != std::string::npos ? Checkpoint::Format::zip : Checkpoint::Format::legacy));
    check_state_dict(ck.tensors(), "");
    check_state_dict(ck.state_dict(), "");
    CHECK(ck.state_dict_paths() == std::vector<std::string>{""});
    CHECK(ck.other_entries().empty());
    // Views share their storage: the transpose and the slice point into "shared.full"'s bytes.
    const auto ts = ck.tensors();
    auto find = [&](const std::string& n) {
      for (const auto& t : ts)
        if (t.name == n) return t;
      FAIL("no tensor " << n);
      return TensorRecord{};
    };
    CHECK(find("shared.transposed").data == find("shared.full").data);
    CHECK(find("shared.slice").data == find("shared.full").data);
    CHECK(!find("shared.transposed").contiguous());
    CHECK(find("scalar").shape.empty());
  }
}

TEST_CASE("torch checkpoint: nested training dict lists opaque args without running them") {
  for (const char* file : {"nested_zip.pt", "nested_legacy.pt"}) {
    CAPTURE(file);
    const Checkpoint ck = Checkpoint::open(data_dir() / file);
    check_state_dict(ck.tensors(), "model.");
    check_state_dict(ck.state_dict("model"), "");
    CHECK(ck.state_dict_paths() == std::vector<std::string>{"model"});
    const auto others = ck.other_entries();
    REQUIRE(others.size() == 3);
    CHECK(others[0].name == "args");
    CHECK(others[0].description == "opaque argparse.Namespace");
    CHECK(others[1].description == "int 3");
    CHECK(others[2].description == "str 'text'");
    const PickleValue* args = ck.root().find("args");
    REQUIRE(args);
    REQUIRE(args->state.size() == 1);
    const PickleValue* lr = args->state[0].find("lr");
    REQUIRE(lr);
    CHECK(lr->floating == doctest::Approx(0.1));
    // A dotted path into the state dict finds the nested dict; unknown paths list the keys.
    CHECK_THROWS_AS(ck.state_dict("model.f32"), xib::NotFoundError);
    try {
      (void)ck.state_dict("modle");
      FAIL("expected NotFoundError");
    } catch (const xib::NotFoundError& e) {
      CHECK(e.report().find("model, args, epoch, note") != std::string::npos);
    }
    // Strict mode refuses the Namespace by name.
    const std::string err = error_of([&] { (void)Checkpoint::open(data_dir() / file, {.strict = true}); });
    CHECK(err.find("argparse.Namespace") != std::string::npos);
  }
}

TEST_CASE("torch checkpoint: os.system and eval pickles stay opaque and never run") {
  const auto want = expected();
  const fs::path markers[] = {want["system_marker"].get<std::string>(), want["eval_marker"].get<std::string>()};
  for (const auto& m : markers) fs::remove(m);
  const std::pair<const char*, const char*> cases[] = {{"evil_system_zip.pt", "os.system"},
                                                       {"evil_system_legacy.pt", "os.system"},
                                                       {"evil_eval_zip.pt", "builtins.eval"},
                                                       {"evil_eval_legacy.pt", "builtins.eval"}};
  for (const auto& [file, global] : cases) {
    CAPTURE(file);
    const Checkpoint ck = Checkpoint::open(data_dir() / file);
    CHECK(ck.tensors().empty());
    const PickleValue* p = ck.root().find("payload");
    REQUIRE(p);
    CHECK(p->describe() == std::string("opaque ") + global);
    REQUIRE(p->items.size() == 1);
    CHECK(p->items[0].text.find("touch /tmp/xib_pickle_pwned") != std::string::npos);
    const std::string err = error_of([&] { (void)Checkpoint::open(data_dir() / file, {.strict = true}); });
    CHECK(err.find(global) != std::string::npos);
    CHECK(err.find("disallowed global") != std::string::npos);
  }
  for (const auto& m : markers) CHECK(!fs::exists(m));
}

TEST_CASE("torch checkpoint: compressed zip entries are refused") {
  const std::string err = error_of([] { (void)Checkpoint::open(data_dir() / "compressed_zip.pt"); });
  CHECK(err.find("compressed") != std::string::npos);
}

TEST_CASE("torch checkpoint: truncated and corrupted files give clear errors") {
  TempDir tmp;
  CHECK_THROWS_AS(Checkpoint::open(tmp / "missing.pt"), xib::IoError);
  CHECK_THROWS_AS(Checkpoint::open(tmp.write("empty.pt", "")), xib::FormatError);
  CHECK_THROWS_AS(Checkpoint::open(tmp.write("text.pt", "hello")), xib::FormatError);
  for (const char* file : {"state_dict_zip.pt", "state_dict_legacy.pt", "nested_zip.pt", "nested_legacy.pt"}) {
    CAPTURE(file);
    const std::string whole = xib::test::read_file(data_dir() / file);
    for (const size_t cut : {size_t{1}, size_t{5}, size_t{15}, size_t{30}, size_t{100}, whole.size() / 3,
                             whole.size() / 2, whole.size() - 300, whole.size() - 23, whole.size() - 1}) {
      CAPTURE(cut);
      const auto p = tmp.write("cut.pt", whole.substr(0, cut));
      CHECK_THROWS_AS(Checkpoint::open(p), xib::FormatError);
    }
    // Flip bytes all over: either the file still parses (data bytes) or a FormatError/NotFound
    // comes out; never a crash or a foreign exception.
    for (size_t at = 0; at < whole.size(); at += 7) {
      std::string bad = whole;
      bad[at] = static_cast<char>(bad[at] ^ 0x5a);
      const auto p = tmp.write("bad.pt", bad);
      try {
        const Checkpoint ck = Checkpoint::open(p);
        (void)ck.tensors();
        (void)ck.other_entries();
      } catch (const xib::Error&) {
      }
    }
  }
}

TEST_CASE("pickle: values, memo and errors") {
  // PROTO 2, MARK, K 1, J -2, G 1.5, X 'a', C b'\x00', N, NEWTRUE, TUPLE, BINPUT 0, BINGET 0, TUPLE2, STOP
  std::string s = bytes_of({0x80, 2, '(', 'K', 1, 'J', 0xfe, 0xff, 0xff, 0xff, 'G', 0x3f, 0xf8, 0, 0, 0, 0, 0, 0});
  s += bytes_of({'X', 1, 0, 0, 0, 'a', 'C', 1, 0, 'N', 0x88, 't', 'q', 0, 'h', 0, 0x86, '.'});
  const Unpickled u = unpickle_str(s + "trailing");
  CHECK(u.end == s.size());
  REQUIRE(u.value.kind == PickleValue::Kind::tuple);
  REQUIRE(u.value.items.size() == 2);
  const auto& t = u.value.items[0];
  REQUIRE(t.items.size() == 7);
  CHECK(t.items[0].integer == 1);
  CHECK(t.items[1].integer == -2);
  CHECK(t.items[2].floating == 1.5);
  CHECK(t.items[3].text == "a");
  CHECK(t.items[4].kind == PickleValue::Kind::bytes);
  CHECK(t.items[5].kind == PickleValue::Kind::none);
  CHECK(t.items[6].boolean);
  CHECK(u.value.items[1].items.size() == 7);

  CHECK(error_of([] { unpickle_str(bytes_of({0x80, 2, 'a', '.'})); }).find("underflow") != std::string::npos);
  CHECK(error_of([] { unpickle_str(bytes_of({0x80, 2, 0xff})); }).find("0xff") != std::string::npos);
  CHECK(error_of([] { unpickle_str(bytes_of({0x80, 2, 'h', 3, '.'})); }).find("memo") != std::string::npos);
  CHECK(error_of([] {
          unpickle_str(bytes_of({0x80, 2, 'X', 9, 0, 0, 0, 'a'}));
        }).find("truncated") != std::string::npos);
  CHECK(error_of([] { unpickle_str(bytes_of({0x80, 2, 'N'})); }).find("byte 3") != std::string::npos);
  CHECK(error_of([] { unpickle_str(bytes_of({0x80, 2, 'N', 'N', '.'})); }).find("STOP") != std::string::npos);
}

TEST_CASE("pickle: nesting and memo bombs are refused") {
  // 100k MARKs.
  std::string marks = bytes_of({0x80, 2}) + std::string(100000, '(');
  CHECK(error_of([&] { unpickle_str(marks); }).find("nests too deeply") != std::string::npos);
  // ((((…,),),),) 100k deep through TUPLE1, no MARKs: caught when the tree is built.
  std::string lists = bytes_of({0x80, 2, ']'}) + std::string(100000, static_cast<char>(0x85)) + ".";
  CHECK(error_of([&] { unpickle_str(lists); }).find("deeply") != std::string::npos);
  // A list that contains itself.
  CHECK(error_of([] {
          unpickle_str(bytes_of({0x80, 2, ']', 'q', 0, 'h', 0, 'a', '.'}));
        }).find("deeply") != std::string::npos);
  // Memo bomb: many distinct memo keys.
  std::string memo = bytes_of({0x80, 2, 'N'});
  for (uint32_t i = 0; i < 2000; ++i) memo += bytes_of({'r', int(i & 0xff), int(i >> 8), 0, 0});
  memo += ".";
  CHECK(error_of([&] { unpickle_str(memo, {.max_memo = 1000}); }).find("memo is too large") != std::string::npos);
  // Exponential sharing: l = [l0, l0] repeated; the expanded tree exceeds the element limit.
  std::string dag = bytes_of({0x80, 2, 'N'});
  for (int i = 0; i < 64; ++i) dag += bytes_of({'2', 0x86});
  dag += ".";
  CHECK(error_of([&] { unpickle_str(dag); }).find("too many values") != std::string::npos);
  // A huge declared string length.
  CHECK(error_of([] {
          unpickle_str(bytes_of({0x80, 4, 0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}));
        }).find("too long") != std::string::npos);
}
