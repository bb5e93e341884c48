// The opcodes of pickle protocols 2 to 5 that torch.save writes, each checked; anything else
// is refused. Globals are only looked up, never called (see classify() in pickle_machine.h).
#include "pickle_machine.h"

namespace xib::io::pickle_detail {

void Unpickler::step(uint8_t op) {
  switch (op) {
    case 0x80: {  // PROTO
      const uint8_t v = u8();
      if (v > kMaxProtocol) fail("unsupported pickle protocol", "2 to 5", std::to_string(v));
      return;
    }
    case 0x95:
      le(8);
      return;  // FRAME: the frame length is advisory
    case '(':
      if (marks_.size() >= o_.max_depth)
        fail("pickle nests too deeply", fmt::format("at most {} open MARKs", o_.max_depth));
      marks_.push_back(stack_.size());
      return;
    case '0':
      pop();
      return;
    case '1':
      pop_mark();
      return;
    case '2':
      push(top());
      return;
    case 'N':
      push(make_kind(Kind::none));
      return;
    case 0x88:
    case 0x89: {
      Node n;
      n.kind = Kind::boolean;
      n.boolean = op == 0x88;
      push(make(std::move(n)));
      return;
    }
    case 'J':
      push(integer(static_cast<int32_t>(static_cast<uint32_t>(le(4)))));
      return;
    case 'K':
      push(integer(u8()));
      return;
    case 'M':
      push(integer(static_cast<int64_t>(le(2))));
      return;
    case 0x8a:
      push(long_int(u8()));
      return;
    case 0x8b: {
      const auto n = static_cast<int32_t>(static_cast<uint32_t>(le(4)));
      if (n < 0) fail("LONG4 with a negative length");
      push(long_int(static_cast<uint64_t>(n)));
      return;
    }
    case 'G': {
      const std::byte* p = take(8);
      uint64_t bits = 0;
      for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<uint8_t>(p[i]);  // big-endian
      Node n;
      n.kind = Kind::floating;
      std::memcpy(&n.floating, &bits, 8);
      push(make(std::move(n)));
      return;
    }
    case 0x8c:
      push(text(Kind::string, bytes(u8())));
      return;
    case 'X':
      push(text(Kind::string, bytes(le(4))));
      return;
    case 0x8d:
      push(text(Kind::string, bytes(le(8))));
      return;
    case 'U':
      push(text(Kind::string, bytes(u8())));
      return;  // SHORT_BINSTRING (Python 2 str)
    case 'T': {
      const auto n = static_cast<int32_t>(static_cast<uint32_t>(le(4)));
      if (n < 0) fail("BINSTRING with a negative length");
      push(text(Kind::string, bytes(static_cast<uint64_t>(n))));
      return;
    }
    case 'C':
      push(text(Kind::bytes, bytes(u8())));
      return;
    case 'B':
      push(text(Kind::bytes, bytes(le(4))));
      return;
    case 0x8e:
    case 0x96:
      push(text(Kind::bytes, bytes(le(8))));
      return;  // BINBYTES8, BYTEARRAY8
    case '}':
      push(make_kind(Kind::dict));
      return;
    case ']':
    case 0x8f:
      push(make_kind(Kind::list));
      return;  // EMPTY_LIST, EMPTY_SET
    case ')':
      push(tuple({}));
      return;
    case 'd': {
      auto kv = pop_mark();
      const Id d = make_kind(Kind::dict);
      set_items(d, kv);
      push(d);
      return;
    }
    case 'l':
    case 0x91: {  // LIST, FROZENSET
      auto items = pop_mark();
      const Id l = make_kind(Kind::list);
      append(l, std::move(items));
      push(l);
      return;
    }
    case 't':
      push(tuple(pop_mark()));
      return;
    case 0x85:
    case 0x86:
    case 0x87: {
      std::vector<Id> items(op - 0x84);
      for (size_t i = items.size(); i-- > 0;) items[i] = pop();
      push(tuple(std::move(items)));
      return;
    }
    case 'a': {
      const Id v = pop();
      append(top(), {v});
      return;
    }
    case 'e':
    case 0x90: {  // APPENDS, ADDITEMS
      auto items = pop_mark();
      append(top(), std::move(items));
      return;
    }
    case 's': {
      const Id v = pop();
      const Id k = pop();
      set_items(top(), {k, v});
      return;
    }
    case 'u': {
      auto kv = pop_mark();
      set_items(top(), kv);
      return;
    }
    case 'q':
      memo_put(u8());
      return;
    case 'r':
      memo_put(le(4));
      return;
    case 0x94:
      memo_put(memo_.size());
      return;
    case 'h':
      memo_get(u8());
      return;
    case 'j':
      memo_get(le(4));
      return;
    case 'c': {
      std::string module = line();
      std::string name = line();
      push(global(std::move(module), std::move(name)));
      return;
    }
    case 0x93: {
      const Id name = pop();
      const Id module = pop();
      if (node(module).kind != Kind::string || node(name).kind != Kind::string)
        fail("STACK_GLOBAL needs two strings", "module and name strings");
      push(global(node(module).text, node(name).text));
      return;
    }
    case 'R':
    case 0x81: {  // REDUCE, NEWOBJ: callable/class and an argument tuple
      const Id args = pop();
      const Id fn = pop();
      if (node(args).kind != Kind::tuple || node(args).type != Node::Type::value)
        fail("call arguments are not a tuple", "a tuple", describe_node(args));
      push(call(fn, node(args).items));
      return;
    }
    case 0x92: {  // NEWOBJ_EX: class, args, kwargs
      const Id kwargs = pop();
      const Id args = pop();
      const Id cls = pop();
      if (node(args).kind != Kind::tuple) fail("NEWOBJ_EX arguments are not a tuple");
      std::vector<Id> all = node(args).items;
      all.push_back(kwargs);
      const Node& c = node(cls);
      if (c.type != Node::Type::global && c.kind != Kind::opaque) fail("NEWOBJ_EX on something that is not a class");
      push(opaque(c, std::move(all)));
      return;
    }
    case 'b': {  // BUILD: obj.__setstate__(state); recorded for opaque objects only
      const Id state = pop();
      Node& obj = node(top());
      if (obj.type == Node::Type::value && obj.kind == Kind::opaque) {
        obj.state = {state};
      } else if (obj.type != Node::Type::value || (obj.kind != Kind::dict && obj.kind != Kind::tensor)) {
        fail("BUILD on a value that takes no state", "an object, dict or tensor", describe_node(top()));
      }
      return;
    }
    case 'Q': {
      const Id pid = pop();
      push(persistent(pid));
      return;
    }
    case 'P':
      fail("text persistent ids (PERSID) are not supported", "BINPERSID");
    case 0x97:
    case 0x98:
      fail("out-of-band pickle buffers are not supported", "in-band data");
    default:
      fail("unknown or unsupported pickle opcode", "an opcode torch.save writes (protocols 2 to 5)",
           fmt::format("0x{:02x}", op), "the file is corrupt or not a PyTorch checkpoint");
  }
}

}  // namespace xib::io::pickle_detail
