// A restricted, torch-free unpickler for PyTorch checkpoints. It interprets the pickle opcodes
// that torch.save writes (protocols 2–5) into a small value tree and never executes anything:
// only a fixed list of globals (OrderedDict, torch's tensor rebuilders and storage types, set)
// is understood; every other global becomes an Opaque placeholder that is never called, or,
// with PickleOptions::strict, a FormatError naming it. Depth, memo size, element count and
// string length are limited; malformed streams give FormatErrors with the byte offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "xib/io/tensor_record.h"

namespace xib::io {

/// A tensor in a pickle: a view of a storage that the container (zip entry, legacy blob) holds.
struct PickleTensor {
  std::string storage_key = {};  ///< "0", "1", … (zip: <archive>/data/<key>)
  DType dtype = DType::f32;
  int64_t storage_numel = 0;  ///< elements in the storage, as the persistent id says
  std::vector<int64_t> shape = {};
  std::vector<int64_t> strides = {};  ///< in elements, as stored (never empty for tensors from torch)
  int64_t storage_offset = 0;         ///< in elements
};

/// One storage a pickle refers to through a persistent id.
struct PickleStorage {
  std::string key = {};
  DType dtype = DType::f32;
  int64_t numel = 0;
  std::string location = {};  ///< "cpu", "cuda:0", …
};

struct PickleValue {
  enum class Kind : uint8_t {
    none,
    boolean,
    integer,
    big_integer,
    floating,
    string,
    bytes,
    list,
    tuple,
    dict,
    tensor,
    opaque
  };
  Kind kind = Kind::none;
  bool boolean = false;
  int64_t integer = 0;
  double floating = 0;
  /// string: UTF-8 text; bytes: raw bytes; big_integer: little-endian two's complement bytes.
  std::string text = {};
  /// list, tuple (sets become lists); opaque: constructor arguments, then anything appended.
  std::vector<PickleValue> items = {};
  /// dict (ordered; keys may be any value, usually strings or ints); opaque: items set on it.
  std::vector<std::pair<PickleValue, PickleValue>> entries = {};
  PickleTensor tensor = {};
  /// opaque: the global's module and name ("argparse", "Namespace") and its BUILD state, if any.
  std::string module = {};
  std::string name = {};
  std::vector<PickleValue> state = {};

  bool is(Kind k) const { return kind == k; }
  /// dict: the value for a string key, or nullptr.
  const PickleValue* find(std::string_view key) const;
  /// "int 3", "str 'text'", "opaque argparse.Namespace", "tensor f32[3, 4]", "dict (4 entries)".
  std::string describe() const;
};

std::string_view kind_name(PickleValue::Kind k);

struct PickleOptions {
  bool strict = false;             ///< refuse (FormatError) any global that is not on the allow list
  size_t max_depth = 1000;         ///< nesting of MARKs and of the resulting tree
  size_t max_memo = 1u << 20;      ///< memo entries
  size_t max_elements = 4u << 20;  ///< values created (including memo references expanded in the tree)
  size_t max_string = 64u << 20;   ///< bytes in one string/bytes value
  std::string where = "pickle";    ///< file name for messages
  size_t base_offset = 0;          ///< added to offsets in messages (pickle embedded in a file)
};

struct Unpickled {
  PickleValue value = {};
  std::vector<PickleStorage> storages = {};  ///< every distinct persistent storage id, in order of appearance
  size_t end = 0;                            ///< bytes consumed, through STOP
};

/// Interprets one pickle from the start of `data` (trailing bytes are left alone: see `end`).
/// Throws FormatError for malformed, truncated, over-limit or (strict) disallowed content.
Unpickled unpickle(std::span<const std::byte> data, const PickleOptions& options = {});

}  // namespace xib::io
