// GGUF metadata values, the ggml type table, and GgufFile's typed metadata getters.
#include <fmt/format.h>

#include <array>
#include <limits>

#include "gguf_detail.h"
#include "xib/config.h"
#include "xib/error.h"
#include "xib/io/gguf.h"

namespace xib::io {

using gguf_detail::fail;
using gguf_detail::where;

// ---------------------------------------------------------------------------------------------
// Value types

std::string gguf_type_name(GgufType t) {
  static constexpr std::array<std::string_view, 13> kNames = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                                              "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<uint32_t>(t);
  return i < kNames.size() ? std::string(kNames[i]) : fmt::format("type {}", i);
}

bool GgufValue::is_integer() const {
  switch (type_) {
    case GgufType::u8:
    case GgufType::i8:
    case GgufType::u16:
    case GgufType::i16:
    case GgufType::u32:
    case GgufType::i32:
    case GgufType::u64:
    case GgufType::i64:
      return true;
    default:
      return false;
  }
}

std::optional<int64_t> GgufValue::as_int() const {
  if (!is_integer()) return std::nullopt;
  if (const auto* u = std::get_if<uint64_t>(&v_)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(*u);
  }
  if (const auto* i = std::get_if<int64_t>(&v_)) return *i;
  return std::nullopt;
}

std::optional<double> GgufValue::as_float() const {
  if (const auto* d = std::get_if<double>(&v_)) return *d;
  if (!is_integer()) return std::nullopt;
  if (const auto* u = std::get_if<uint64_t>(&v_)) return static_cast<double>(*u);
  if (const auto* i = std::get_if<int64_t>(&v_)) return static_cast<double>(*i);
  return std::nullopt;
}

std::optional<bool> GgufValue::as_bool() const {
  if (const auto* b = std::get_if<bool>(&v_)) return *b;
  return std::nullopt;
}

const std::string* GgufValue::as_string() const { return std::get_if<std::string>(&v_); }
const GgufValue::Array* GgufValue::as_array() const { return std::get_if<Array>(&v_); }

std::string GgufValue::render() const {
  const std::string tn = gguf_type_name(type_);
  if (const auto* a = as_array()) return fmt::format("array[{}] of {}", a->size(), gguf_type_name(element_type_));
  if (const auto* s = as_string()) {
    std::string shown;
    for (const char c : *s) {
      if (shown.size() >= 57) {
        shown += "...";
        break;
      }
      if (c == '\n')
        shown += "\\n";
      else if (c == '"')
        shown += "\\\"";
      else if (static_cast<unsigned char>(c) < 0x20)
        shown += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
      else
        shown += c;
    }
    return fmt::format("string \"{}\"", shown);
  }
  if (const auto* b = std::get_if<bool>(&v_)) return fmt::format("bool {}", *b);
  if (const auto* d = std::get_if<double>(&v_)) return fmt::format("{} {}", tn, *d);
  if (const auto* u = std::get_if<uint64_t>(&v_)) return fmt::format("{} {}", tn, *u);
  if (const auto* i = std::get_if<int64_t>(&v_)) return fmt::format("{} {}", tn, *i);
  return tn;
}

// ---------------------------------------------------------------------------------------------
// ggml types

namespace {

struct GgmlInfo {
  GgmlType type;
  std::string_view name;
  uint32_t block, bytes;
};

constexpr std::array<GgmlInfo, 32> kGgml = {{
    {GgmlType::f32, "F32", 1, 4},
    {GgmlType::f16, "F16", 1, 2},
    {GgmlType::q4_0, "Q4_0", 32, 18},
    {GgmlType::q4_1, "Q4_1", 32, 20},
    {GgmlType::q5_0, "Q5_0", 32, 22},
    {GgmlType::q5_1, "Q5_1", 32, 24},
    {GgmlType::q8_0, "Q8_0", 32, 34},
    {GgmlType::q8_1, "Q8_1", 32, 40},
    {GgmlType::q2_k, "Q2_K", 256, 84},
    {GgmlType::q3_k, "Q3_K", 256, 110},
    {GgmlType::q4_k, "Q4_K", 256, 144},
    {GgmlType::q5_k, "Q5_K", 256, 176},
    {GgmlType::q6_k, "Q6_K", 256, 210},
    {GgmlType::q8_k, "Q8_K", 256, 292},
    {GgmlType::iq2_xxs, "IQ2_XXS", 256, 66},
    {GgmlType::iq2_xs, "IQ2_XS", 256, 74},
    {GgmlType::iq3_xxs, "IQ3_XXS", 256, 98},
    {GgmlType::iq1_s, "IQ1_S", 256, 50},
    {GgmlType::iq4_nl, "IQ4_NL", 32, 18},
    {GgmlType::iq3_s, "IQ3_S", 256, 110},
    {GgmlType::iq2_s, "IQ2_S", 256, 82},
    {GgmlType::iq4_xs, "IQ4_XS", 256, 136},
    {GgmlType::i8, "I8", 1, 1},
    {GgmlType::i16, "I16", 1, 2},
    {GgmlType::i32, "I32", 1, 4},
    {GgmlType::i64, "I64", 1, 8},
    {GgmlType::f64, "F64", 1, 8},
    {GgmlType::iq1_m, "IQ1_M", 256, 56},
    {GgmlType::bf16, "BF16", 1, 2},
    {GgmlType::tq1_0, "TQ1_0", 256, 54},
    {GgmlType::tq2_0, "TQ2_0", 256, 66},
    {GgmlType::mxfp4, "MXFP4", 32, 17},
}};

const GgmlInfo* ggml_info(GgmlType t) {
  for (const auto& g : kGgml)
    if (g.type == t) return &g;
  return nullptr;
}

}  // namespace

std::string ggml_type_name(GgmlType t) {
  const auto* g = ggml_info(t);
  return g ? std::string(g->name) : fmt::format("type {}", static_cast<uint32_t>(t));
}

std::optional<std::pair<uint32_t, uint32_t>> ggml_type_block(GgmlType t) {
  const auto* g = ggml_info(t);
  if (!g) return std::nullopt;
  return std::pair{g->block, g->bytes};
}

bool ggml_type_dequantizable(GgmlType t) {
  switch (t) {
    case GgmlType::f32:
    case GgmlType::f16:
    case GgmlType::bf16:
    case GgmlType::q8_0:
    case GgmlType::q4_0:
    case GgmlType::q4_1:
    case GgmlType::q4_k:
    case GgmlType::q6_k:
      return true;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Typed getters

namespace {

[[noreturn]] void wrong_type(const std::string& source, std::string_view key, const GgufValue& v,
                             std::string_view expected) {
  fail(where(source, "key", key), fmt::format("metadata '{}' has the wrong type", key), std::string(expected),
       v.render(), "the file was written by a converter xib does not know, or for another architecture");
}

template <class T, class F>
std::vector<T> array_of(const std::string& source, std::string_view key, const GgufValue& v, std::string_view expected,
                        F&& convert) {
  const auto* a = v.as_array();
  if (!a) wrong_type(source, key, v, fmt::format("an array of {}", expected));
  std::vector<T> out;
  out.reserve(a->size());
  for (size_t i = 0; i < a->size(); ++i) {
    auto x = convert((*a)[i]);
    if (!x)
      fail(where(source, "key", key), fmt::format("element {} of metadata array '{}' has the wrong type", i, key),
           std::string(expected), (*a)[i].render());
    out.push_back(std::move(*x));
  }
  return out;
}

}  // namespace

const GgufValue* GgufFile::find(std::string_view key) const {
  const auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

const GgufValue& GgufFile::get(std::string_view key) const {
  if (const auto* v = find(key)) return *v;
  std::vector<std::string> some(keys_.begin(),
                                keys_.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(keys_.size(), 6)));
  std::string known = keys_.empty() ? "(no metadata)" : join_names(some);
  if (keys_.size() > some.size()) known += fmt::format(", … ({} keys)", keys_.size());
  const auto near = nearest_name(key, keys_);
  throw NotFoundError(
      {.what = fmt::format("no metadata key '{}' in '{}'", key, source_),
       .where = source_,
       .expected = "one of: " + known,
       .got = std::string(key),
       .hint = near ? fmt::format("did you mean '{}'?", *near) : std::string("`xib inspect` lists the metadata keys")});
}

const std::string& GgufFile::get_string(std::string_view key) const {
  const auto& v = get(key);
  if (const auto* s = v.as_string()) return *s;
  wrong_type(source_, key, v, "a string");
}

int64_t GgufFile::get_int(std::string_view key) const {
  const auto& v = get(key);
  if (const auto i = v.as_int()) return *i;
  wrong_type(source_, key, v, "an integer (u8 … i64) that fits in 64-bit signed");
}

uint32_t GgufFile::get_u32(std::string_view key) const {
  const int64_t i = get_int(key);
  if (i < 0 || i > static_cast<int64_t>(std::numeric_limits<uint32_t>::max()))
    fail(where(source_, "key", key), fmt::format("metadata '{}' is out of range", key), "an integer in [0, 2^32)",
         get(key).render());
  return static_cast<uint32_t>(i);
}

double GgufFile::get_float(std::string_view key) const {
  const auto& v = get(key);
  if (const auto d = v.as_float()) return *d;
  wrong_type(source_, key, v, "a number (f32, f64 or an integer)");
}

bool GgufFile::get_bool(std::string_view key) const {
  const auto& v = get(key);
  if (const auto b = v.as_bool()) return *b;
  wrong_type(source_, key, v, "a bool");
}

std::vector<std::string> GgufFile::get_string_array(std::string_view key) const {
  return array_of<std::string>(source_, key, get(key), "string", [](const GgufValue& e) -> std::optional<std::string> {
    if (const auto* s = e.as_string()) return *s;
    return std::nullopt;
  });
}

std::vector<double> GgufFile::get_float_array(std::string_view key) const {
  return array_of<double>(source_, key, get(key), "number", [](const GgufValue& e) { return e.as_float(); });
}

std::vector<int64_t> GgufFile::get_int_array(std::string_view key) const {
  return array_of<int64_t>(source_, key, get(key), "integer", [](const GgufValue& e) { return e.as_int(); });
}

std::string GgufFile::get_string_or(std::string_view key, std::string fallback) const {
  return find(key) ? get_string(key) : std::move(fallback);
}
int64_t GgufFile::get_int_or(std::string_view key, int64_t fallback) const {
  return find(key) ? get_int(key) : fallback;
}
double GgufFile::get_float_or(std::string_view key, double fallback) const {
  return find(key) ? get_float(key) : fallback;
}
bool GgufFile::get_bool_or(std::string_view key, bool fallback) const { return find(key) ? get_bool(key) : fallback; }

}  // namespace xib::io
