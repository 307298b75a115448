// SPDX-License-Identifier: MIT
// A pickle reader for untrusted files that never executes anything.
//
// Python's pickle calls whatever callable a file names; this reader builds
// plain objects (numbers, strings, bytes, tuples, lists, dicts) and hands
// every global, call (REDUCE, NEWOBJ), BUILD and persistent id to a
// PicklePolicy: the file format's short list of what it may contain, each
// turned into an inert object by the policy (torch_zip.cpp: a state dict's
// tensors; units/joblib_kmeans.cpp: scikit-learn's k-means in a joblib file).
// Anything a policy does not know is refused by name.
//
// Objects live in the unpickler's arena and refer to each other by plain
// pointers: however a hostile pickle nests or shares them (lists filled after
// they were inserted, memo references), nothing is ever destroyed
// recursively, so no depth can overflow the stack. Every object, memo entry
// and mark counts against a budget, which bounds the memory of a flood of
// NONE or MARK.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace acoustok::common {

struct PickleObject;
using PickleObj = PickleObject*;

struct PickleObject {
  enum class Kind {
    None,
    Bool,
    Int,
    Float,
    Str,
    Bytes,
    Tuple,
    List,
    Dict,
    Global,
    Instance
  } kind = Kind::None;
  int64_t i = 0;                                      // Bool, Int; Instance: an index the policy keeps
  double f = 0;                                       // Float
  std::string s;                                      // Str, Bytes; Global "module.name"; Instance: its type
  std::vector<PickleObj> items;                       // Tuple, List
  std::vector<std::pair<PickleObj, PickleObj>> dict;  // Dict, in insertion order
  PickleObj state = nullptr;                          // Instance: what BUILD gave it
};

const char* pickle_kind_name(PickleObject::Kind k);

class Unpickler;

// What a file format allows. Each hook returns the inert object that
// stands for the result; the defaults refuse.
class PicklePolicy {
 public:
  virtual ~PicklePolicy() = default;
  // GLOBAL / STACK_GLOBAL "module.name": false refuses the file.
  virtual bool allowed_global(const std::string& name) const = 0;
  // REDUCE: fn(*args).
  virtual PickleObj call(Unpickler& u, PickleObj fn, PickleObj args);
  // NEWOBJ: cls.__new__(cls, *args).
  virtual PickleObj new_object(Unpickler& u, PickleObj cls, PickleObj args);
  // BUILD: obj.__setstate__(state); returns what stays on the stack (joblib
  // replaces an array's wrapper by the array read after it).
  virtual PickleObj build(Unpickler& u, PickleObj obj, PickleObj state);
  // BINPERSID.
  virtual PickleObj persistent_load(Unpickler& u, PickleObj pid);
};

class Unpickler {
 public:
  // `where` prefixes every message after the file name ("data.pkl: ").
  Unpickler(std::string path, std::string where, const uint8_t* data, size_t size, PicklePolicy& policy);
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;

  // Runs to STOP; the result lives as long as the unpickler.
  PickleObj run();

  // For policies.
  [[noreturn]] void fail(const std::string& why) const;  // acoustok::Error "<path>: <where><why> (at byte N)"
  PickleObj make(PickleObject::Kind k);
  // Counts n objects a policy copies (a dict's entries into another) against
  // the budget, as make() counts one.
  void charge(size_t n);
  const uint8_t* take(size_t n);  // raw bytes that follow an opcode in the stream
  size_t consumed() const { return static_cast<size_t>(p_ - begin_); }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  int64_t as_int(PickleObj o, const std::string& what) const;
  const std::string& as_str(PickleObj o, const std::string& what) const;
  std::vector<int64_t> int_tuple(PickleObj o, const std::string& what) const;
  const std::string& path() const { return path_; }

 private:
  uint8_t byte() { return *take(1); }
  std::string line();
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(PickleObj o) { stack_.push_back(o); }
  PickleObj pop();
  PickleObj top(PickleObject::Kind k);
  std::vector<PickleObj> pop_to_mark();
  void push_int(int64_t v);
  void push_str(PickleObject::Kind k, uint64_t n);
  void push_global(const std::string& name);
  void spend();
  void memo_put(uint32_t index);
  void memo_get(uint32_t index);

  std::string path_, where_;
  const uint8_t* begin_;
  const uint8_t* p_;
  const uint8_t* end_;
  PicklePolicy& policy_;
  std::vector<std::unique_ptr<PickleObject>> arena_;  // owns every object
  size_t spent_ = 0;
  std::vector<PickleObj> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint32_t, PickleObj> memo_;
};

}  // namespace acoustok::common
