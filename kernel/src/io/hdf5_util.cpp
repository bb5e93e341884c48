// Small HDF5 helpers for the feature cache (see hdf5_util.h).
#include "hdf5_util.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "xib/error.h"

namespace xib::hdf5 {

[[noreturn]] void failed(const std::string& what, const std::filesystem::path& where, const H5::Exception& e) {
  throw IoError({.what = what, .where = where.string(), .got = e.getDetailMsg()});
}

[[noreturn]] void io_failed(const std::string& what, const std::filesystem::path& where, int err) {
  throw IoError({.what = what,
                 .where = where.string(),
                 .got = std::strerror(err),
                 .hint = err == ENOSPC ? "free some disk space" : "check the folder's permissions"});
}

namespace {

H5::StrType utf8_string_type() {
  H5::StrType t(H5::PredType::C_S1, H5T_VARIABLE);
  t.setCset(H5T_CSET_UTF8);
  return t;
}

}  // namespace

void write_string_attr(const H5::H5Object& o, const char* name, const std::string& value) {
  const H5::StrType t = utf8_string_type();
  H5::Attribute a = o.createAttribute(name, t, H5::DataSpace(H5S_SCALAR));
  a.write(t, value);
}

void write_int_attr(const H5::H5Object& o, const char* name, int64_t value) {
  H5::Attribute a = o.createAttribute(name, H5::PredType::STD_I64LE, H5::DataSpace(H5S_SCALAR));
  a.write(H5::PredType::NATIVE_INT64, &value);
}

void write_ints_attr(const H5::H5Object& o, const char* name, const std::vector<int64_t>& values) {
  const hsize_t n = values.size();
  H5::Attribute a = o.createAttribute(name, H5::PredType::STD_I64LE, H5::DataSpace(1, &n));
  a.write(H5::PredType::NATIVE_INT64, values.data());
}

std::optional<std::string> read_string_attr(const H5::H5Object& o, const char* name, const std::string& where) {
  if (!o.attrExists(name)) return std::nullopt;
  H5::Attribute a = o.openAttribute(name);
  if (a.getTypeClass() != H5T_STRING) {
    throw FormatError(
        {.what = fmt::format("attribute '{}' is not text", name), .where = where, .expected = "a string"});
  }
  std::string s;
  a.read(a.getStrType(), s);
  return s;
}

std::optional<std::vector<int64_t>> read_ints_attr(const H5::H5Object& o, const char* name, const std::string& where) {
  if (!o.attrExists(name)) return std::nullopt;
  H5::Attribute a = o.openAttribute(name);
  const H5::DataSpace space = a.getSpace();
  if (a.getTypeClass() != H5T_INTEGER || space.getSimpleExtentNdims() > 1) {
    throw FormatError(
        {.what = fmt::format("attribute '{}' is not an integer or a list of integers", name), .where = where});
  }
  std::vector<int64_t> out(static_cast<size_t>(space.getSimpleExtentNpoints()));
  if (!out.empty()) a.read(H5::PredType::NATIVE_INT64, out.data());
  return out;
}

std::vector<std::string> attribute_names(const H5::H5Object& o) {
  std::vector<std::string> out;
  for (int i = 0; i < o.getNumAttrs(); ++i) out.push_back(o.openAttribute(static_cast<unsigned>(i)).getName());
  return out;
}

std::vector<std::string> member_names(const H5::Group& g) {
  std::vector<std::string> out;
  const hsize_t n = g.getNumObjs();
  for (hsize_t i = 0; i < n; ++i) out.push_back(g.getObjnameByIdx(i));
  return out;
}

}  // namespace xib::hdf5
