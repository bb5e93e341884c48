// The restricted unpickler's machine: value arena, stack, memo and the allowed globals.
// Private to kernel/src/io; the opcode loop lives in pickle_opcodes.cpp, the rest in pickle.cpp.
#pragma once

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <optional>
#include <unordered_map>

#include "xib/error.h"
#include "xib/io/pickle.h"

namespace xib::io::pickle_detail {

// The globals a checkpoint may name. Everything else is opaque (or refused in strict mode).
enum class Callable : uint8_t {
  none,  // not allowed: opaque
  ordered_dict,
  rebuild_tensor,
  rebuild_tensor_v2,
  rebuild_parameter,
  set,
  storage_type,
};

struct Global {
  Callable callable = Callable::none;
  DType dtype = DType::f32;  // storage_type
};

inline Global classify(std::string_view module, std::string_view name) {
  if (module == "collections" && name == "OrderedDict") return {Callable::ordered_dict};
  if ((module == "builtins" || module == "__builtin__") && (name == "set" || name == "frozenset"))
    return {Callable::set};
  if (module == "torch._utils") {
    if (name == "_rebuild_tensor_v2") return {Callable::rebuild_tensor_v2};
    if (name == "_rebuild_tensor") return {Callable::rebuild_tensor};
    if (name == "_rebuild_parameter" || name == "_rebuild_parameter_with_state") return {Callable::rebuild_parameter};
  }
  if (module == "torch") {
    static const std::pair<std::string_view, DType> kStorages[] = {
        {"FloatStorage", DType::f32},   {"HalfStorage", DType::f16}, {"BFloat16Storage", DType::bf16},
        {"DoubleStorage", DType::f64},  {"LongStorage", DType::i64}, {"IntStorage", DType::i32},
        {"ShortStorage", DType::i16},   {"CharStorage", DType::i8},  {"ByteStorage", DType::u8},
        {"BoolStorage", DType::boolean}};
    for (const auto& [n, t] : kStorages)
      if (name == n) return {Callable::storage_type, t};
  }
  return {};
}

using Kind = PickleValue::Kind;
using Id = uint32_t;

// Values live in an arena and refer to each other by index, so memo references are cheap,
// mutation through the memo behaves as in Python, and cycles cannot leak or recurse forever:
// the tree is built at the end with depth and element limits.
struct Node {
  enum class Type : uint8_t { value, global, storage } type = Type::value;
  Kind kind = Kind::none;
  bool boolean = false;
  int64_t integer = 0;
  double floating = 0;
  std::string text;
  std::vector<Id> items;
  std::vector<std::pair<Id, Id>> entries;
  std::vector<Id> state;
  PickleTensor tensor;
  std::string module, name;  // global / opaque
  Global global;             // global
  size_t storage = 0;        // storage: index into Unpickled::storages
};

constexpr uint8_t kMaxProtocol = 5;

class Unpickler {
 public:
  Unpickler(std::span<const std::byte> data, const PickleOptions& o) : data_(data), o_(o) {}

  Unpickled run() {
    Unpickled out;
    storages_ = &out.storages;
    for (;;) {
      op_pos_ = pos_;
      const uint8_t op = u8();
      if (op == '.') {
        if (stack_.size() != 1 || !marks_.empty())
          fail("STOP with a malformed stack", "exactly one value and no open MARK",
               fmt::format("{} values, {} open MARKs", stack_.size(), marks_.size()));
        out.end = pos_;
        break;
      }
      step(op);
    }
    size_t budget = o_.max_elements;
    out.value = to_tree(stack_.back(), 0, budget);
    return out;
  }

 private:
  [[noreturn]] void fail(std::string what, std::string expected = {}, std::string got = {}, std::string hint = {}) {
    throw FormatError({.what = std::move(what),
                       .where = fmt::format("{}, byte {}", o_.where, o_.base_offset + op_pos_),
                       .expected = std::move(expected),
                       .got = std::move(got),
                       .hint = std::move(hint)});
  }

  // --- reading ---
  const std::byte* take(size_t n) {
    if (n > data_.size() - pos_)
      fail("pickle is truncated", fmt::format("{} more bytes", n), fmt::format("{} bytes left", data_.size() - pos_),
           "the file was cut short or is not a pickle");
    const std::byte* p = data_.data() + pos_;
    pos_ += n;
    return p;
  }
  uint8_t u8() { return static_cast<uint8_t>(*take(1)); }
  uint64_t le(size_t n) {
    const std::byte* p = take(n);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
    return v;
  }
  std::string bytes(uint64_t n) {
    if (n > o_.max_string)
      fail("string in pickle is too long", fmt::format("at most {} bytes", o_.max_string), fmt::format("{} bytes", n));
    if (n > data_.size() - pos_) take(static_cast<size_t>(data_.size() - pos_ + 1));  // reports truncation
    const std::byte* p = take(static_cast<size_t>(n));
    return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
  }
  std::string line() {
    std::string s;
    for (;;) {
      const char c = static_cast<char>(u8());
      if (c == '\n') return s;
      if (s.size() >= 1024) fail("GLOBAL name is too long", "a module or name under 1024 bytes");
      s += c;
    }
  }

  // --- arena and stack ---
  Id make(Node n) {
    if (++created_ > o_.max_elements)
      fail("pickle creates too many values", fmt::format("at most {}", o_.max_elements), {},
           "raise PickleOptions::max_elements if the checkpoint is genuine");
    nodes_.push_back(std::move(n));
    return static_cast<Id>(nodes_.size() - 1);
  }
  Id make_kind(Kind k) {
    Node n;
    n.kind = k;
    return make(std::move(n));
  }
  void push(Id id) {
    if (stack_.size() >= o_.max_elements) fail("pickle stack is too deep");
    stack_.push_back(id);
  }
  Id pop() {
    if (stack_.size() <= stack_floor()) fail("pickle stack underflow", "a value on the stack", "an empty stack");
    const Id id = stack_.back();
    stack_.pop_back();
    return id;
  }
  Id& top() {
    if (stack_.size() <= stack_floor()) fail("pickle stack underflow", "a value on the stack", "an empty stack");
    return stack_.back();
  }
  size_t stack_floor() const { return marks_.empty() ? 0 : marks_.back(); }
  std::vector<Id> pop_mark() {
    if (marks_.empty()) fail("pickle opcode needs a MARK but none is open", "a preceding MARK");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Id> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  Node& node(Id id) { return nodes_[id]; }
  void count(size_t n) {
    created_ += n;
    if (created_ > o_.max_elements)
      fail("pickle creates too many values", fmt::format("at most {}", o_.max_elements), {},
           "raise PickleOptions::max_elements if the checkpoint is genuine");
  }

  Id tuple(std::vector<Id> items) {
    Node n;
    n.kind = Kind::tuple;
    count(items.size());
    n.items = std::move(items);
    return make(std::move(n));
  }
  Id integer(int64_t v) {
    Node n;
    n.kind = Kind::integer;
    n.integer = v;
    return make(std::move(n));
  }
  Id text(Kind k, std::string s) {
    Node n;
    n.kind = k;
    n.text = std::move(s);
    return make(std::move(n));
  }

  Id long_int(uint64_t size) {
    std::string b = bytes(size);
    if (b.size() <= 8) {
      uint64_t v = 0;
      for (size_t i = 0; i < b.size(); ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(b[i])) << (8 * i);
      if (!b.empty() && b.size() < 8 && (static_cast<uint8_t>(b.back()) & 0x80)) v |= ~uint64_t{0} << (8 * b.size());
      return integer(static_cast<int64_t>(v));
    }
    return text(Kind::big_integer, std::move(b));
  }

  void memo_put(uint64_t key) {
    const Id v = top();
    if (memo_.size() >= o_.max_memo && !memo_.contains(key))
      fail("pickle memo is too large", fmt::format("at most {} entries", o_.max_memo));
    memo_[key] = v;
  }
  void memo_get(uint64_t key) {
    const auto it = memo_.find(key);
    if (it == memo_.end())
      fail("pickle refers to an unknown memo entry", "a key stored by PUT/MEMOIZE", std::to_string(key));
    push(it->second);
  }

  // --- semantics ---
  Id global(std::string module, std::string name) {
    const Global g = classify(module, name);
    if (g.callable == Callable::none && o_.strict)
      fail(fmt::format("checkpoint refers to the disallowed global {}.{}", module, name),
           "only tensors, storages, OrderedDict and plain values", fmt::format("{}.{}", module, name),
           "this loader never runs code from a file; open it without strict to see it as an opaque entry");
    Node n;
    n.type = Node::Type::global;
    n.module = std::move(module);
    n.name = std::move(name);
    n.global = g;
    return make(std::move(n));
  }

  Id opaque(const Node& g, std::vector<Id> args) {
    Node n;
    n.kind = Kind::opaque;
    n.module = g.module;
    n.name = g.name;
    n.items = std::move(args);
    return make(std::move(n));
  }

  std::vector<int64_t> int_tuple(Id id, const char* what) {
    const Node& n = node(id);
    if (n.type != Node::Type::value || n.kind != Kind::tuple)
      fail(fmt::format("tensor {} is not a tuple", what), "a tuple of ints", std::string(kind_name(n.kind)));
    std::vector<int64_t> v;
    for (const Id i : n.items) {
      const Node& e = node(i);
      if (e.type != Node::Type::value || e.kind != Kind::integer)
        fail(fmt::format("tensor {} holds a non-integer", what), "ints", std::string(kind_name(e.kind)));
      v.push_back(e.integer);
    }
    return v;
  }

  Id call(Id fn, std::vector<Id> args) {
    const Node& f = node(fn);
    if (f.type != Node::Type::global) {
      if (f.type == Node::Type::value && f.kind == Kind::opaque) return opaque(f, std::move(args));
      fail("pickle calls something that is not a global", "a GLOBAL", std::string(kind_name(f.kind)));
    }
    switch (f.global.callable) {
      case Callable::none:
      case Callable::storage_type:
        return opaque(f, std::move(args));
      case Callable::ordered_dict:
        if (!args.empty()) fail("OrderedDict called with arguments", "OrderedDict()");
        return make_kind(Kind::dict);
      case Callable::set: {
        Id list = make_kind(Kind::list);
        if (args.size() == 1) {
          const Node& a = node(args[0]);
          if (a.kind == Kind::list || a.kind == Kind::tuple) node(list).items = a.items;
        } else if (!args.empty()) {
          fail("set called with too many arguments", "set() or set(iterable)");
        }
        return list;
      }
      case Callable::rebuild_parameter:
        if (args.empty() || node(args[0]).kind != Kind::tensor)
          fail("_rebuild_parameter without a tensor", "(tensor, requires_grad, hooks)");
        return args[0];
      case Callable::rebuild_tensor:
      case Callable::rebuild_tensor_v2: {
        if (args.size() < 4)
          fail("tensor rebuild with too few arguments", "(storage, offset, size, stride, …)",
               fmt::format("{} arguments", args.size()));
        const Node& s = node(args[0]);
        if (s.type != Node::Type::storage)
          fail("tensor rebuild without a storage", "a persistent storage id", std::string(kind_name(s.kind)));
        const Node& off = node(args[1]);
        if (off.type != Node::Type::value || off.kind != Kind::integer)
          fail("tensor storage offset is not an integer", "int", std::string(kind_name(off.kind)));
        Node n;
        n.kind = Kind::tensor;
        const PickleStorage& st = (*storages_)[s.storage];
        n.tensor.storage_key = st.key;
        n.tensor.dtype = st.dtype;
        n.tensor.storage_numel = st.numel;
        n.tensor.storage_offset = off.integer + s.integer;  // s.integer: legacy view offset
        n.tensor.shape = int_tuple(args[2], "size");
        n.tensor.strides = int_tuple(args[3], "stride");
        if (n.tensor.shape.size() != n.tensor.strides.size())
          fail("tensor size and stride differ in length", fmt::format("{} strides", n.tensor.shape.size()),
               fmt::format("{} strides", n.tensor.strides.size()));
        return make(std::move(n));
      }
    }
    fail("internal: unknown callable");
  }

  Id persistent(Id pid) {
    const Node& t = node(pid);
    if (t.kind != Kind::tuple || t.items.size() < 5 || node(t.items[0]).kind != Kind::string ||
        node(t.items[0]).text != "storage")
      fail("unsupported persistent id", "('storage', type, key, location, numel[, view])", describe_node(pid));
    const Node& type = node(t.items[1]);
    if (type.type != Node::Type::global || type.global.callable != Callable::storage_type)
      fail("unsupported storage type in persistent id",
           "torch.{Float,Half,BFloat16,Double,Long,Int,Short,Char,Byte,Bool}Storage",
           type.type == Node::Type::global ? fmt::format("{}.{}", type.module, type.name) : describe_node(t.items[1]));
    const Node& key = node(t.items[2]);
    const Node& loc = node(t.items[3]);
    const Node& numel = node(t.items[4]);
    if (key.kind != Kind::string || key.type != Node::Type::value) fail("storage key is not a string");
    if (loc.kind != Kind::string || loc.type != Node::Type::value) fail("storage location is not a string");
    if (numel.kind != Kind::integer || numel.type != Node::Type::value || numel.integer < 0)
      fail("storage size is not a non-negative integer");
    int64_t view_offset = 0;
    if (t.items.size() >= 6) {
      const Node& view = node(t.items[5]);
      if (view.kind == Kind::tuple && view.items.size() == 3 && node(view.items[1]).kind == Kind::integer) {
        view_offset = node(view.items[1]).integer;
        if (view_offset < 0) fail("negative storage view offset");
      } else if (view.kind != Kind::none) {
        fail("unsupported storage view metadata", "None or (key, offset, size)", describe_node(t.items[5]));
      }
    }
    size_t index = storages_->size();
    for (size_t i = 0; i < storages_->size(); ++i)
      if ((*storages_)[i].key == key.text) index = i;
    if (index == storages_->size()) {
      storages_->push_back({.key = key.text, .dtype = type.global.dtype, .numel = numel.integer, .location = loc.text});
    } else if ((*storages_)[index].dtype != type.global.dtype) {
      fail(fmt::format("storage '{}' is used with two dtypes", key.text));
    }
    Node n;
    n.type = Node::Type::storage;
    n.storage = index;
    n.integer = view_offset;
    return make(std::move(n));
  }

  std::string describe_node(Id id) {
    const Node& n = node(id);
    if (n.type == Node::Type::global) return fmt::format("global {}.{}", n.module, n.name);
    if (n.type == Node::Type::storage) return "storage";
    return std::string(kind_name(n.kind));
  }

  void append(Id target, std::vector<Id> values) {
    Node& t = node(target);
    if (t.type != Node::Type::value || (t.kind != Kind::list && t.kind != Kind::opaque))
      fail("APPEND to something that is not a list", "a list", describe_node(target));
    count(values.size());
    t.items.insert(t.items.end(), values.begin(), values.end());
  }
  void set_items(Id target, const std::vector<Id>& kv) {
    if (kv.size() % 2) fail("SETITEMS with an odd number of values", "key/value pairs");
    Node& t = node(target);
    if (t.type != Node::Type::value || (t.kind != Kind::dict && t.kind != Kind::opaque))
      fail("SETITEM on something that is not a dict", "a dict", describe_node(target));
    count(kv.size() / 2);
    for (size_t i = 0; i < kv.size(); i += 2) {
      const Node& k = node(kv[i]);
      bool replaced = false;
      if (k.type == Node::Type::value && (k.kind == Kind::string || k.kind == Kind::integer)) {
        for (auto& [ek, ev] : t.entries) {
          const Node& e = node(ek);
          if (e.type == k.type && e.kind == k.kind && e.text == k.text && e.integer == k.integer) {
            ev = kv[i + 1];
            replaced = true;
            break;
          }
        }
      }
      if (!replaced) t.entries.emplace_back(kv[i], kv[i + 1]);
    }
  }

  /// One opcode (pickle_opcodes.cpp).
  void step(uint8_t op);

  PickleValue to_tree(Id id, size_t depth, size_t& budget) {
    if (depth > o_.max_depth)
      fail("pickle value nests too deeply (or refers to itself)", fmt::format("at most {} levels", o_.max_depth));
    if (budget == 0)
      fail("pickle expands to too many values", fmt::format("at most {}", o_.max_elements), {},
           "shared sub-objects are copied; raise PickleOptions::max_elements if the checkpoint is genuine");
    --budget;
    const Node& n = nodes_[id];
    PickleValue v;
    if (n.type == Node::Type::global) {
      v.kind = Kind::opaque;
      v.module = n.module;
      v.name = n.name;
      return v;
    }
    if (n.type == Node::Type::storage) {
      const PickleStorage& s = (*storages_)[n.storage];
      v.kind = Kind::opaque;
      v.module = "torch";
      v.name = fmt::format("storage '{}'", s.key);
      return v;
    }
    v.kind = n.kind;
    v.boolean = n.boolean;
    v.integer = n.integer;
    v.floating = n.floating;
    v.text = n.text;
    v.tensor = n.tensor;
    v.module = n.module;
    v.name = n.name;
    for (const Id i : n.items) v.items.push_back(to_tree(i, depth + 1, budget));
    for (const auto& [k, x] : n.entries) {
      PickleValue key = to_tree(k, depth + 1, budget);
      v.entries.emplace_back(std::move(key), to_tree(x, depth + 1, budget));
    }
    for (const Id i : n.state) v.state.push_back(to_tree(i, depth + 1, budget));
    return v;
  }

  std::span<const std::byte> data_;
  const PickleOptions& o_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  size_t created_ = 0;
  std::vector<Node> nodes_;
  std::vector<Id> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Id> memo_;
  std::vector<PickleStorage>* storages_ = nullptr;
};

}  // namespace xib::io::pickle_detail
