// Small HDF5 helpers for the feature cache (src/io/feature_cache*.cpp): attributes that h5py
// reads naturally (UTF-8 variable-length strings, little-endian int64), names in a group, HDF5
// and system failures as IoError (fsync: xib/files.h). Internal to the kernel.
#pragma once

#include <H5Cpp.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace xib::hdf5 {

/// HDF5 failures as IoError, with HDF5's own message.
[[noreturn]] void failed(const std::string& what, const std::filesystem::path& where, const H5::Exception& e);
/// A failed system call (errno `err`) as IoError.
[[noreturn]] void io_failed(const std::string& what, const std::filesystem::path& where, int err);

/// Scalar UTF-8 string attribute (h5py: str).
void write_string_attr(const H5::H5Object& o, const char* name, const std::string& value);
/// Scalar int64 attribute (h5py: numpy.int64).
void write_int_attr(const H5::H5Object& o, const char* name, int64_t value);
/// 1-D int64 attribute (h5py: numpy array).
void write_ints_attr(const H5::H5Object& o, const char* name, const std::vector<int64_t>& values);
/// An attribute's value, or nullopt when absent; a FormatError (naming `where`) for another type.
std::optional<std::string> read_string_attr(const H5::H5Object& o, const char* name, const std::string& where);
std::optional<std::vector<int64_t>> read_ints_attr(const H5::H5Object& o, const char* name, const std::string& where);

std::vector<std::string> attribute_names(const H5::H5Object& o);
/// Names of a group's members (links), in HDF5's name order.
std::vector<std::string> member_names(const H5::Group& g);

}  // namespace xib::hdf5
