#include "xib/io/pickle.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <optional>
#include <unordered_map>

#include "pickle_machine.h"
#include "xib/error.h"

namespace xib::io {

using pickle_detail::Unpickler;
using Kind = PickleValue::Kind;

std::string_view kind_name(PickleValue::Kind k) {
  switch (k) {
    case Kind::none:
      return "None";
    case Kind::boolean:
      return "bool";
    case Kind::integer:
      return "int";
    case Kind::big_integer:
      return "int";
    case Kind::floating:
      return "float";
    case Kind::string:
      return "str";
    case Kind::bytes:
      return "bytes";
    case Kind::list:
      return "list";
    case Kind::tuple:
      return "tuple";
    case Kind::dict:
      return "dict";
    case Kind::tensor:
      return "tensor";
    case Kind::opaque:
      return "opaque";
  }
  return "?";
}

const PickleValue* PickleValue::find(std::string_view key) const {
  for (const auto& [k, v] : entries)
    if (k.kind == Kind::string && k.text == key) return &v;
  return nullptr;
}

std::string PickleValue::describe() const {
  switch (kind) {
    case Kind::none:
      return "None";
    case Kind::boolean:
      return boolean ? "bool True" : "bool False";
    case Kind::integer:
      return fmt::format("int {}", integer);
    case Kind::big_integer:
      return fmt::format("int ({} bytes)", text.size());
    case Kind::floating:
      return fmt::format("float {}", floating);
    case Kind::string:
      return text.size() <= 40 ? fmt::format("str '{}'", text) : fmt::format("str '{}…'", text.substr(0, 40));
    case Kind::bytes:
      return fmt::format("bytes ({})", text.size());
    case Kind::list:
      return fmt::format("list ({} items)", items.size());
    case Kind::tuple:
      return fmt::format("tuple ({} items)", items.size());
    case Kind::dict:
      return fmt::format("dict ({} entries)", entries.size());
    case Kind::tensor:
      return fmt::format("tensor {}[{}]", dtype_name(tensor.dtype), fmt::join(tensor.shape, ", "));
    case Kind::opaque:
      return fmt::format("opaque {}.{}", module, name);
  }
  return "?";
}

Unpickled unpickle(std::span<const std::byte> data, const PickleOptions& options) {
  return Unpickler(data, options).run();
}

}  // namespace xib::io
