// SPDX-License-Identifier: MIT
#include "common/pickle.hpp"

#include <algorithm>
#include <cstring>

#include "acoustok/error.hpp"

namespace acoustok::common {

namespace {

// Objects, memo entries and marks one pickle may make: XLSR-53's state dict
// needs about 10 per tensor, a few thousand in all; a k-means file a few
// hundred. Bounds a hostile pickle's memory to a few hundred MB.
constexpr size_t kMaxPickleObjects = size_t{1} << 20;

uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t le32(const uint8_t* p) { return le16(p) | (static_cast<uint32_t>(le16(p + 2)) << 16); }
uint64_t le64(const uint8_t* p) { return le32(p) | (static_cast<uint64_t>(le32(p + 4)) << 32); }

}  // namespace

const char* pickle_kind_name(PickleObject::Kind k) {
  switch (k) {
    case PickleObject::Kind::None:
      return "None";
    case PickleObject::Kind::Bool:
      return "bool";
    case PickleObject::Kind::Int:
      return "int";
    case PickleObject::Kind::Float:
      return "float";
    case PickleObject::Kind::Str:
      return "str";
    case PickleObject::Kind::Bytes:
      return "bytes";
    case PickleObject::Kind::Tuple:
      return "tuple";
    case PickleObject::Kind::List:
      return "list";
    case PickleObject::Kind::Dict:
      return "dict";
    case PickleObject::Kind::Global:
      return "global";
    case PickleObject::Kind::Instance:
      return "object";
  }
  return "?";
}

PickleObj PicklePolicy::call(Unpickler& u, PickleObj fn, PickleObj) {
  u.fail("refuses to call '" + fn->s + "'");
}
PickleObj PicklePolicy::new_object(Unpickler& u, PickleObj cls, PickleObj) {
  u.fail("refuses to create a '" + cls->s + "'");
}
PickleObj PicklePolicy::build(Unpickler& u, PickleObj obj, PickleObj) {
  u.fail(std::string("refuses to set the state of a ") + pickle_kind_name(obj->kind) +
         (obj->kind == PickleObject::Kind::Instance ? " '" + obj->s + "'" : std::string()));
}
PickleObj PicklePolicy::persistent_load(Unpickler& u, PickleObj) { u.fail("refuses persistent ids"); }

Unpickler::Unpickler(std::string path, std::string where, const uint8_t* data, size_t size,
                     PicklePolicy& policy)
    : path_(std::move(path)),
      where_(std::move(where)),
      begin_(data),
      p_(data),
      end_(data + size),
      policy_(policy) {}

void Unpickler::fail(const std::string& why) const {
  throw file_error(path_, where_ + why + " (at byte " + std::to_string(consumed()) + ")");
}

const uint8_t* Unpickler::take(size_t n) {
  if (remaining() < n) fail("truncated");
  const uint8_t* b = p_;
  p_ += n;
  return b;
}

std::string Unpickler::line() {
  const uint8_t* nl = static_cast<const uint8_t*>(std::memchr(p_, '\n', remaining()));
  if (!nl || nl - p_ > 256) fail("bad GLOBAL");
  std::string s(reinterpret_cast<const char*>(p_), static_cast<size_t>(nl - p_));
  p_ = nl + 1;
  return s;
}

PickleObj Unpickler::pop() {
  if (stack_.size() <= floor()) fail("stack underflow");
  PickleObj o = stack_.back();
  stack_.pop_back();
  return o;
}

PickleObj Unpickler::top(PickleObject::Kind k) {
  if (stack_.size() <= floor()) fail("stack underflow");
  if (stack_.back()->kind != k)
    fail(std::string("expected a ") + pickle_kind_name(k) + ", found a " +
         pickle_kind_name(stack_.back()->kind));
  return stack_.back();
}

std::vector<PickleObj> Unpickler::pop_to_mark() {
  if (marks_.empty()) fail("no MARK");
  const size_t m = marks_.back();
  marks_.pop_back();
  std::vector<PickleObj> out(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
  stack_.resize(m);
  return out;
}

void Unpickler::spend() {
  if (++spent_ > kMaxPickleObjects) fail("more than " + std::to_string(kMaxPickleObjects) + " objects");
}

void Unpickler::charge(size_t n) {
  if (n > kMaxPickleObjects - std::min(spent_, kMaxPickleObjects)) {
    fail("more than " + std::to_string(kMaxPickleObjects) + " objects");
  }
  spent_ += n;
}

PickleObj Unpickler::make(PickleObject::Kind k) {
  spend();
  arena_.push_back(std::make_unique<PickleObject>());
  arena_.back()->kind = k;
  return arena_.back().get();
}

void Unpickler::push_int(int64_t v) {
  PickleObj o = make(PickleObject::Kind::Int);
  o->i = v;
  push(o);
}

void Unpickler::push_str(PickleObject::Kind k, uint64_t n) {
  if (n > remaining()) fail("truncated");
  PickleObj o = make(k);
  const uint8_t* b = take(static_cast<size_t>(n));
  o->s.assign(reinterpret_cast<const char*>(b), static_cast<size_t>(n));
  push(o);
}

void Unpickler::push_global(const std::string& name) {
  if (!policy_.allowed_global(name)) fail("refuses pickle global '" + name + "'");
  PickleObj o = make(PickleObject::Kind::Global);
  o->s = name;
  push(o);
}

void Unpickler::memo_put(uint32_t index) {
  if (stack_.size() <= floor()) fail("memo of an empty stack");
  spend();
  memo_[index] = stack_.back();
}

void Unpickler::memo_get(uint32_t index) {
  auto it = memo_.find(index);
  if (it == memo_.end()) fail("memo entry " + std::to_string(index) + " is not defined");
  spend();  // a reference can be appended to a list again and again
  push(it->second);
}

int64_t Unpickler::as_int(PickleObj o, const std::string& what) const {
  if (o->kind != PickleObject::Kind::Int) fail(what + " is not an integer");
  return o->i;
}

const std::string& Unpickler::as_str(PickleObj o, const std::string& what) const {
  if (o->kind != PickleObject::Kind::Str) fail(what + " is not a string");
  return o->s;
}

std::vector<int64_t> Unpickler::int_tuple(PickleObj o, const std::string& what) const {
  if (o->kind != PickleObject::Kind::Tuple) fail(what + " is not a tuple");
  std::vector<int64_t> out;
  for (PickleObj x : o->items) out.push_back(as_int(x, what));
  return out;
}

// The opcodes of protocols 2 to 5 that build plain data; no protocol-0 text
// opcodes, no sets, no out-of-band buffers.
PickleObj Unpickler::run() {
  using K = PickleObject::Kind;
  while (true) {
    const uint8_t op = byte();
    switch (op) {
      case 0x80:
        byte();
        break;  // PROTO
      case 0x95:
        take(8);
        break;  // FRAME: frames only group reads
      case '(':
        spend();
        marks_.push_back(stack_.size());
        break;
      case '.': {  // STOP
        if (stack_.size() != 1)
          fail("pickle stops with " + std::to_string(stack_.size()) + " objects on its stack");
        return stack_.back();
      }
      case '0':
        pop();
        break;  // POP
      case 'N':
        push(make(K::None));
        break;
      case 0x88:
      case 0x89: {  // NEWTRUE, NEWFALSE
        PickleObj o = make(K::Bool);
        o->i = op == 0x88;
        push(o);
        break;
      }
      case 'J':
        push_int(static_cast<int32_t>(le32(take(4))));
        break;
      case 'K':
        push_int(byte());
        break;
      case 'M':
        push_int(le16(take(2)));
        break;
      case 0x8a: {  // LONG1
        const uint8_t n = byte();
        if (n > 8) fail("integer of " + std::to_string(n) + " bytes");
        const uint8_t* b = take(n);
        uint64_t v = 0;
        for (int k = n - 1; k >= 0; --k) v = (v << 8) | b[k];
        if (n > 0 && n < 8 && (b[n - 1] & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign-extend
        push_int(static_cast<int64_t>(v));
        break;
      }
      case 'G': {  // BINFLOAT, big endian
        const uint8_t* b = take(8);
        uint64_t bits = 0;
        for (int k = 0; k < 8; ++k) bits = (bits << 8) | b[k];
        PickleObj o = make(K::Float);
        std::memcpy(&o->f, &bits, 8);
        push(o);
        break;
      }
      case 'X':
        push_str(K::Str, le32(take(4)));
        break;  // BINUNICODE
      case 0x8c:
        push_str(K::Str, byte());
        break;  // SHORT_BINUNICODE
      case 0x8d:
        push_str(K::Str, le64(take(8)));
        break;  // BINUNICODE8
      case 'C':
        push_str(K::Bytes, byte());
        break;  // SHORT_BINBYTES
      case 'B':
        push_str(K::Bytes, le32(take(4)));
        break;  // BINBYTES
      case 0x8e:
        push_str(K::Bytes, le64(take(8)));
        break;     // BINBYTES8
      case 'c': {  // GLOBAL "module\nname\n"
        const std::string module = line(), name = line();
        push_global(module + "." + name);
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        PickleObj name = pop(), module = pop();
        if (module->kind != K::Str || name->kind != K::Str) fail("STACK_GLOBAL of non-strings");
        push_global(module->s + "." + name->s);
        break;
      }
      case '}':
        push(make(K::Dict));
        break;
      case ']':
        push(make(K::List));
        break;
      case ')':
        push(make(K::Tuple));
        break;
      case 't': {
        PickleObj o = make(K::Tuple);
        o->items = pop_to_mark();
        push(o);
        break;
      }
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        const size_t n = static_cast<size_t>(op - 0x84);
        if (stack_.size() < n + floor()) fail("stack underflow");
        PickleObj o = make(K::Tuple);
        o->items.assign(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
        stack_.resize(stack_.size() - n);
        push(o);
        break;
      }
      case 'a': {
        PickleObj v = pop();
        top(K::List)->items.push_back(v);
        break;
      }
      case 'e': {
        std::vector<PickleObj> vs = pop_to_mark();
        PickleObj list = top(K::List);
        list->items.insert(list->items.end(), vs.begin(), vs.end());
        break;
      }
      case 's': {
        PickleObj v = pop(), k = pop();
        top(K::Dict)->dict.emplace_back(k, v);
        break;
      }
      case 'u': {
        std::vector<PickleObj> kv = pop_to_mark();
        if (kv.size() % 2) fail("SETITEMS with an odd number of objects");
        PickleObj d = top(K::Dict);
        for (size_t k = 0; k < kv.size(); k += 2) d->dict.emplace_back(kv[k], kv[k + 1]);
        break;
      }
      case 'q':
        memo_put(byte());
        break;
      case 'r':
        memo_put(le32(take(4)));
        break;
      case 0x94:
        memo_put(static_cast<uint32_t>(memo_.size()));
        break;  // MEMOIZE
      case 'h':
        memo_get(byte());
        break;
      case 'j':
        memo_get(le32(take(4)));
        break;
      case 'Q':
        push(policy_.persistent_load(*this, pop()));
        break;     // BINPERSID
      case 'R': {  // REDUCE
        PickleObj args = pop(), fn = pop();
        if (fn->kind != K::Global)
          fail("REDUCE of a " + std::string(pickle_kind_name(fn->kind)) + ", not a callable");
        if (args->kind != K::Tuple) fail("REDUCE arguments are not a tuple");
        push(policy_.call(*this, fn, args));
        break;
      }
      case 0x81: {  // NEWOBJ
        PickleObj args = pop(), cls = pop();
        if (cls->kind != K::Global)
          fail("NEWOBJ of a " + std::string(pickle_kind_name(cls->kind)) + ", not a class");
        if (args->kind != K::Tuple) fail("NEWOBJ arguments are not a tuple");
        push(policy_.new_object(*this, cls, args));
        break;
      }
      case 'b': {  // BUILD
        PickleObj state = pop();
        PickleObj obj = pop();
        push(policy_.build(*this, obj, state));
        break;
      }
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        fail(std::string("unsupported pickle opcode ") + hex);
      }
    }
  }
}

}  // namespace acoustok::common
