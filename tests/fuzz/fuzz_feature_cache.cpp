// libFuzzer target for the feature cache's own validation (xib/feature_cache.h,
// xib/feature_cache_seal.h). libhdf5 itself is not hardened against hostile files, so xib verifies
// a cache's seal before libhdf5 sees it; what is fuzzed is xib's side of both gates:
//  - raw bytes as a cache file (and as a seal header): the seal must refuse them with an
//    xib::Error before libhdf5 reads anything;
//  - a structurally valid HDF5 file that libhdf5 itself wrote (so the hostile part is not its
//    parser) whose every value comes from the input: root attributes, the modality group's
//    identity attributes (strings, JSON, shapes, of the right or the wrong HDF5 type), an entry's
//    name, rank, dimensions (up to 2^40, chunked so nothing is allocated), element type and
//    file attributes; then sealed, opened, bound, listed, and every entry checked and read.
// Whatever the bytes, the result is values or an xib::Error; any other exception, a crash or a
// sanitizer report is a bug. Built and run by `make fuzz` (scripts/fuzz.sh), seeded with a few
// generated inputs (one per mode).
#include <H5Cpp.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_files.h"
#include "xib/error.h"
#include "xib/feature_cache.h"
#include "xib/feature_cache_seal.h"

namespace {

namespace fs = std::filesystem;

/// Reads typed values off the input, zeros when it runs out.
struct Input {
  const uint8_t* p;
  size_t n;
  uint8_t u8() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  int64_t i64() {
    // Mostly small and interesting values, sometimes any 64 bits.
    static constexpr int64_t kPicks[] = {-1,        0,        1, 2, 3, 4, 768, -2, int64_t{1} << 31, int64_t{1} << 40,
                                         INT64_MAX, INT64_MIN};
    const uint8_t k = u8();
    if (k < 200) return kPicks[k % std::size(kPicks)];
    int64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | u8();
    return v;
  }
  std::string str(size_t max) {
    const size_t len = std::min<size_t>(u8() % (max + 1), n);
    std::string s(reinterpret_cast<const char*>(p), len);
    p += len;
    n -= len;
    return s;
  }
  /// `usual` most of the time, else input bytes.
  std::string pick(const std::string& usual, size_t max = 40) { return u8() < 160 ? usual : str(max); }
};

/// The cache file of this process (in xib::fuzz::scratch_dir(), removed at exit).
const fs::path& temp_file() {
  static const fs::path p = xib::fuzz::scratch_dir() / "cache.h5";
  return p;
}

H5::StrType utf8() {
  H5::StrType t(H5::PredType::C_S1, H5T_VARIABLE);
  t.setCset(H5T_CSET_UTF8);
  return t;
}

/// A string attribute, or (on the input's say) an integer one of the same name.
void string_attr(Input& in, const H5::H5Object& o, const char* name, const std::string& value) {
  if (in.u8() < 20) return;  // absent
  if (in.u8() < 20) {
    const int64_t v = in.i64();
    o.createAttribute(name, H5::PredType::STD_I64LE, H5::DataSpace()).write(H5::PredType::NATIVE_INT64, &v);
    return;
  }
  const char* c = value.c_str();  // HDF5's variable-length strings end at the first NUL
  o.createAttribute(name, utf8(), H5::DataSpace()).write(utf8(), &c);
}

/// A 1-D int64 attribute of 0–4 values, or a string one.
void ints_attr(Input& in, const H5::H5Object& o, const char* name, std::vector<int64_t> usual) {
  if (in.u8() < 20) return;
  if (in.u8() < 20) {
    string_attr(in, o, name, in.str(8));
    return;
  }
  if (in.u8() >= 128) {
    usual.resize(in.u8() % 5);
    for (auto& v : usual) v = in.i64();
  }
  const hsize_t dims[1] = {usual.size()};
  const H5::DataSpace space = usual.empty() ? H5::DataSpace(H5S_NULL) : H5::DataSpace(1, dims);
  H5::Attribute a = o.createAttribute(name, H5::PredType::STD_I64LE, space);
  if (!usual.empty()) a.write(H5::PredType::NATIVE_INT64, usual.data());
}

/// Writes a cache-shaped HDF5 file from the input with libhdf5, and seals it. False when libhdf5
/// refuses the input's names or sizes (not xib's concern).
bool write_structured(Input& in, std::string& modality, std::string& entry_file) {
  try {
    H5::FileCreatPropList create;
    create.setUserblock(xib::kFeatureCacheUserBlock);
    H5::H5File f(temp_file().string(), H5F_ACC_TRUNC, create);
    string_attr(in, f, "xib_format", in.pick(xib::FeatureCache::kFormatName));
    ints_attr(in, f, "format_version", {xib::FeatureCache::kFormatVersion});
    string_attr(in, f, "xib_version", in.pick("0.1.0"));
    modality = in.pick("image", 12);
    if (modality.empty() || modality.find('/') != std::string::npos || modality[0] == '.') return false;
    H5::Group g = f.createGroup(modality);
    string_attr(in, g, "modality", modality);
    string_attr(in, g, "encoder", in.pick("enc"));
    string_attr(in, g, "weights_id", in.pick("sha256:00"));
    string_attr(in, g, "preprocessing", in.pick(R"({"size": 4})", 60));
    ints_attr(in, g, "feature_shape", {-1, 2});
    const int entries = in.u8() % 3;
    for (int e = 0; e < entries; ++e) {
      const std::string key = in.pick("s" + std::to_string(e), 12);
      if (key.empty() || key.find('/') != std::string::npos || key == "." || key == "..") return false;
      const int rank = in.u8() % 5;
      std::vector<hsize_t> dims(static_cast<size_t>(rank)), chunk(static_cast<size_t>(rank), 1);
      std::vector<hsize_t> maxdims(static_cast<size_t>(rank), H5S_UNLIMITED);
      for (auto& d : dims) d = static_cast<hsize_t>(in.i64()) % ((hsize_t{1} << 40) + 1);
      H5::DSetCreatPropList props;
      if (rank > 0) props.setChunk(rank, chunk.data());  // chunked: huge dimensions allocate nothing
      const H5::DataSpace space = rank == 0 ? H5::DataSpace() : H5::DataSpace(rank, dims.data(), maxdims.data());
      const uint8_t type = in.u8() % 4;
      const H5::DataType& t = type == 0   ? static_cast<const H5::DataType&>(H5::PredType::IEEE_F32LE)
                              : type == 1 ? static_cast<const H5::DataType&>(H5::PredType::IEEE_F64BE)
                              : type == 2 ? static_cast<const H5::DataType&>(H5::PredType::STD_I32LE)
                                          : static_cast<const H5::DataType&>(H5::PredType::STD_U8LE);
      H5::DataSet d = g.createDataSet(key, t, space, rank == 0 ? H5::DSetCreatPropList::DEFAULT : props);
      entry_file = in.pick("/tmp/xib-fuzz-entry.png", 30);
      string_attr(in, d, "file", entry_file);
      ints_attr(in, d, "file_bytes", {1});
    }
    f.close();
  } catch (const H5::Exception&) {
    return false;
  }
  xib::seal_feature_cache(temp_file());
  return true;
}

void exercise(const std::string& modality, const std::string& entry_file) {
  xib::FeatureCache c = xib::FeatureCache::open(temp_file(), xib::FeatureCache::Mode::read);
  const auto stored = c.stored_identity(modality);
  xib::FeatureIdentity id = stored.value_or(xib::FeatureIdentity{
      .modality = modality, .encoder = "enc", .weights_id = "sha256:00", .feature_shape = {-1, 2}});
  c.bind(id);
  for (const std::string& sample_id : c.ids(modality)) {
    xib::Sample s;
    s.id = sample_id;
    s.inputs[modality] = {entry_file};
    try {
      if (c.has(modality, s)) (void)c.read(modality, s);
    } catch (const xib::Error&) {
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  H5::Exception::dontPrint();
  if (size == 0) return 0;
  Input in{data + 1, size - 1};
  try {
    if (data[0] % 2 == 0) {
      // Raw bytes: as a seal header, and as a whole cache file.
      try {
        (void)xib::parse_feature_cache_seal(std::string_view(reinterpret_cast<const char*>(in.p), in.n), "fuzz");
      } catch (const xib::Error&) {
      }
      xib::fuzz::write_scratch(temp_file().filename().string(),
                               std::string_view(reinterpret_cast<const char*>(in.p), in.n));
      exercise("image", "/tmp/xib-fuzz-entry.png");
    } else {
      std::string modality, entry_file;
      if (!write_structured(in, modality, entry_file)) return 0;
      exercise(modality, entry_file);
    }
  } catch (const xib::Error&) {
    // The contract: a clear error.
  }
  return 0;
}
