// SPDX-License-Identifier: MIT
// About 600 lines on purpose: the pickle policies (what a state dict and a
// fairseq checkpoint may hold) and the zip reader fill in one TensorRecord
// table between them, and each check of the one is written against the
// other; torch_zip.hpp documents the format as a whole.
#include "features/torch_zip.hpp"

#include <zlib.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <unordered_map>

#include "acoustok/error.hpp"
#include "common/pickle.hpp"

namespace acoustok::features {

namespace {

constexpr uint64_t kMaxPickleBytes = 256u << 20;  // a state dict's data.pkl is a few hundred KB

uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t le32(const uint8_t* p) { return le16(p) | (static_cast<uint32_t>(le16(p + 2)) << 16); }
uint64_t le64(const uint8_t* p) { return le32(p) | (static_cast<uint64_t>(le32(p + 4)) << 32); }

// ---- what a state dict's pickle may hold ------------------------------------

using common::PickleObj;
using common::PickleObject;
using common::Unpickler;
using Kind = PickleObject::Kind;

DType storage_dtype(const std::string& global) {
  if (global == "torch.FloatStorage") return DType::F32;
  if (global == "torch.HalfStorage") return DType::F16;
  if (global == "torch.BFloat16Storage") return DType::BF16;
  if (global == "torch.DoubleStorage") return DType::F64;
  if (global == "torch.LongStorage") return DType::I64;
  if (global == "torch.IntStorage") return DType::I32;
  if (global == "torch.ShortStorage") return DType::I16;
  if (global == "torch.CharStorage") return DType::I8;
  if (global == "torch.ByteStorage") return DType::U8;
  if (global == "torch.BoolStorage") return DType::BOOL;
  throw Error("not a storage type: " + global);
}

// Storages and tensors become Instances ("storage", "tensor") whose index
// points into this policy's records.
class StateDictPolicy : public common::PicklePolicy {
 public:
  struct Storage {
    std::string key;
    DType dtype = DType::F32;
    int64_t numel = 0;
  };
  std::vector<Storage> storages;
  std::vector<TorchZipWeights::TensorRecord> tensors;

  // The only callables a state dict needs; anything else is refused by name.
  bool allowed_global(const std::string& name) const override {
    static const char* const allowed[] = {"collections.OrderedDict",
                                          "torch._utils._rebuild_tensor_v2",
                                          "torch._utils._rebuild_parameter",
                                          "torch.jit._pickle.restore_type_tag",
                                          "torch.FloatStorage",
                                          "torch.HalfStorage",
                                          "torch.BFloat16Storage",
                                          "torch.DoubleStorage",
                                          "torch.LongStorage",
                                          "torch.IntStorage",
                                          "torch.ShortStorage",
                                          "torch.CharStorage",
                                          "torch.ByteStorage",
                                          "torch.BoolStorage"};
    return std::find(std::begin(allowed), std::end(allowed), name) != std::end(allowed);
  }

  // ('storage', torch.XStorage, key, location, numel)
  PickleObj persistent_load(Unpickler& u, PickleObj pid) override {
    if (pid->kind != Kind::Tuple || pid->items.size() != 5 || pid->items[0]->kind != Kind::Str ||
        pid->items[0]->s != "storage" || pid->items[1]->kind != Kind::Global ||
        pid->items[2]->kind != Kind::Str) {
      u.fail("unsupported persistent id: not a torch storage");
    }
    const std::string& type = pid->items[1]->s;
    if (type.find("Storage") == std::string::npos)
      u.fail("persistent id names '" + type + "', not a storage type");
    Storage s;
    s.dtype = storage_dtype(type);
    s.key = pid->items[2]->s;
    s.numel = u.as_int(pid->items[4], "storage size");
    if (s.numel < 0) u.fail("negative storage size");
    storages.push_back(std::move(s));
    PickleObj o = u.make(Kind::Instance);
    o->s = "storage";
    o->i = static_cast<int64_t>(storages.size() - 1);
    return o;
  }

  PickleObj call(Unpickler& u, PickleObj fn, PickleObj args) override {
    const auto& a = args->items;
    if (fn->s == "collections.OrderedDict") {
      if (!a.empty()) u.fail("OrderedDict with arguments");
      return u.make(Kind::Dict);
    }
    if (fn->s == "torch.jit._pickle.restore_type_tag") {  // (object, "Dict[str, Any]"): the object itself
      if (a.size() != 2 || a[1]->kind != Kind::Str) u.fail("bad restore_type_tag arguments");
      return a[0];
    }
    if (fn->s == "torch._utils._rebuild_parameter") {
      if (a.size() != 3 || !is(a[0], "tensor")) u.fail("bad _rebuild_parameter arguments");
      return a[0];
    }
    if (fn->s == "torch._utils._rebuild_tensor_v2") {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      if (a.size() < 6 || a.size() > 7 || !is(a[0], "storage")) u.fail("bad _rebuild_tensor_v2 arguments");
      const Storage& s = storages[static_cast<size_t>(a[0]->i)];
      TorchZipWeights::TensorRecord r;
      r.storage_key = s.key;
      r.dtype = s.dtype;
      r.storage_numel = s.numel;
      r.offset = u.as_int(a[1], "storage offset");
      r.shape = u.int_tuple(a[2], "tensor size");
      r.stride = u.int_tuple(a[3], "tensor stride");
      tensors.push_back(std::move(r));
      PickleObj t = u.make(Kind::Instance);
      t->s = "tensor";
      t->i = static_cast<int64_t>(tensors.size() - 1);
      return t;
    }
    return PicklePolicy::call(u, fn, args);
  }

  // An OrderedDict's state is its _metadata, which a reader does not need.
  PickleObj build(Unpickler& u, PickleObj obj, PickleObj state) override {
    if (obj->kind != Kind::Dict) return PicklePolicy::build(u, obj, state);
    return obj;
  }

  static bool is(PickleObj o, const char* type) { return o->kind == Kind::Instance && o->s == type; }
};

// A fairseq checkpoint: a state dict's globals and the configuration objects
// fairseq pickles with it, each turned into the plain data it holds when its
// state is set (in place, so every memo reference to it sees the data).
class FairseqCheckpointPolicy : public StateDictPolicy {
 public:
  bool allowed_global(const std::string& name) const override {
    return StateDictPolicy::allowed_global(name) || is_config_class(name) || is_inert(name) ||
           is_getattr(name) || is_numpy_scalar(name) || name == "numpy.dtype" || name == "_codecs.encode" ||
           name == "collections.defaultdict";
  }

  // defaultdict(factory): a dict, its items set after.
  PickleObj call(Unpickler& u, PickleObj fn, PickleObj args) override {
    if (fn->s == "collections.defaultdict") {
      if (args->items.size() > 1) u.fail("defaultdict with more than a factory");
      return u.make(Kind::Dict);
    }
    // A member of one of fairseq's enums (ChoiceEnum, whose names are its
    // values: an EnumNode's value), pickled as EnumClass(value), or by
    // Python 3.11 on as getattr(EnumClass, name): that string.
    const auto& a = args->items;
    if (fn->s.rfind("fairseq.", 0) == 0 && a.size() == 1 && a[0]->kind == Kind::Str) return a[0];
    if (is_getattr(fn->s) && a.size() == 2 && a[0]->kind == Kind::Global &&
        a[0]->s.rfind("fairseq.", 0) == 0 && a[1]->kind == Kind::Str) {
      return a[1];
    }
    // The trainer's numbers may be numpy scalars (extra_state's val_loss):
    // numpy.dtype(code, ...), then scalar(dtype, bytes), the bytes pickled by
    // protocol 2 as _codecs.encode(text, "latin1"). Never needed: None.
    if (fn->s == "numpy.dtype" && !a.empty() && a[0]->kind == Kind::Str) {
      PickleObj o = u.make(Kind::Instance);
      o->s = "numpy.dtype";
      return o;
    }
    if (is_numpy_scalar(fn->s) && a.size() == 2 && is(a[0], "numpy.dtype") && a[1]->kind == Kind::Bytes) {
      return u.make(Kind::None);
    }
    if (fn->s == "_codecs.encode" && a.size() == 2 && a[0]->kind == Kind::Str && a[1]->kind == Kind::Str &&
        a[1]->s == "latin1") {
      PickleObj o = u.make(Kind::Bytes);  // the bytes are never read: their count is enough
      o->s.assign(a[0]->s.size(), '\0');
      return o;
    }
    return StateDictPolicy::call(u, fn, args);
  }

  PickleObj new_object(Unpickler& u, PickleObj cls, PickleObj args) override {
    if (!is_config_class(cls->s)) return StateDictPolicy::new_object(u, cls, args);
    if (!args->items.empty()) u.fail("'" + cls->s + "' created with arguments");
    PickleObj o = u.make(Kind::Instance);
    o->s = cls->s;
    return o;
  }

  PickleObj build(Unpickler& u, PickleObj obj, PickleObj state) override {
    if (is(obj, "numpy.dtype") && !obj->state) {  // its byte order and flags: not needed
      obj->state = state;
      return obj;
    }
    if (obj->kind != Kind::Instance || !is_config_class(obj->s) || obj->state)
      return StateDictPolicy::build(u, obj, state);
    // (dict, slots) when the class has __slots__.
    if (state->kind == Kind::Tuple && state->items.size() == 2) state = state->items[0];
    if (state->kind != Kind::Dict) u.fail("the state of a '" + obj->s + "' is not a dict");
    const std::string type = obj->s;
    obj->state = state;  // a BUILD of it again is refused
    if (type == "argparse.Namespace") {
      u.charge(state->dict.size());  // shared entries, copied: a flood of them is bounded
      become(obj, Kind::Dict)->dict = state->dict;
    } else if (type == "omegaconf.dictconfig.DictConfig" || type == "omegaconf.listconfig.ListConfig") {
      PickleObj content = entry(state, "_content");
      if (!content) u.fail("a '" + type + "' without _content");
      copy_value(u, obj, content);  // a dict or list; None or a string when missing or interpolated
    } else if (type.rfind("omegaconf.nodes.", 0) == 0) {
      PickleObj val = entry(state, "_val");
      if (!val) u.fail("a '" + type + "' without _val");
      copy_value(u, obj, val);
    } else {
      become(obj, Kind::None);  // metadata: what a reader of the values does not need
    }
    return obj;
  }

 private:
  static bool is_numpy_scalar(const std::string& name) {
    return name == "numpy.core.multiarray.scalar" || name == "numpy._core.multiarray.scalar";
  }
  static bool is_getattr(const std::string& name) {
    return name == "__builtin__.getattr" || name == "builtins.getattr";
  }
  static bool is_config_class(const std::string& name) {
    static const char* const classes[] = {"argparse.Namespace",
                                          "omegaconf.dictconfig.DictConfig",
                                          "omegaconf.listconfig.ListConfig",
                                          "omegaconf.base.ContainerMetadata",
                                          "omegaconf.base.Metadata",
                                          "omegaconf.nodes.AnyNode",
                                          "omegaconf.nodes.StringNode",
                                          "omegaconf.nodes.IntegerNode",
                                          "omegaconf.nodes.FloatNode",
                                          "omegaconf.nodes.BooleanNode",
                                          "omegaconf.nodes.EnumNode"};
    return std::find(std::begin(classes), std::end(classes), name) != std::end(classes);
  }
  // Types the metadata names (ref_type, object_type, key_type): kept as names, never called.
  static bool is_inert(const std::string& name) {
    // (Protocol 2 names Python 3's int and str __builtin__.long and .unicode.)
    static const char* const types[] = {
        "typing.Any",        "__builtin__.dict",  "builtins.dict",       "__builtin__.list", "builtins.list",
        "__builtin__.str",   "builtins.str",      "__builtin__.unicode", "__builtin__.int",  "builtins.int",
        "__builtin__.long",  "__builtin__.float", "builtins.float",      "__builtin__.bool", "builtins.bool",
        "__builtin__.bytes", "builtins.bytes",    "__builtin__.object",  "builtins.object"};
    // A structured config's object_type, fairseq's dataclass
    // (fairseq.models.hubert.hubert.HubertConfig), and its enums: only ever
    // named, or called with a value as an enum member is (call above).
    if (name.rfind("fairseq.", 0) == 0) return true;
    return std::find(std::begin(types), std::end(types), name) != std::end(types);
  }
  static PickleObj entry(PickleObj dict, const char* key) {
    for (const auto& kv : dict->dict)
      if (kv.first->kind == Kind::Str && kv.first->s == key) return kv.second;
    return nullptr;
  }
  static PickleObj become(PickleObj obj, Kind k) {
    obj->kind = k;
    obj->s.clear();
    return obj;
  }
  static void copy_value(Unpickler& u, PickleObj obj, PickleObj value) {
    u.charge(value->items.size() + value->dict.size());
    PickleObj keep_state = obj->state;
    *obj = *value;  // items and dict entries are shared pointers into the arena: no deep copy
    if (obj->kind != Kind::Instance) obj->state = keep_state;
  }
};

// Offset, shape and stride of a tensor agree with its storage; returns the
// storage elements it spans ([offset, offset + span)).
int64_t checked_span(const TorchZipWeights::TensorRecord& r, const std::string& path,
                     const std::string& name) {
  const auto bad = [&](const std::string& why) { return file_error(path, "tensor '" + name + "': " + why); };
  if (r.shape.size() != r.stride.size()) throw bad("size and stride differ in length");
  if (r.shape.size() > 8) throw bad("too many dimensions");
  if (r.offset < 0) throw bad("negative storage offset");
  int64_t numel = 1, last = 0;
  for (size_t k = 0; k < r.shape.size(); ++k) {
    if (r.shape[k] < 0 || r.stride[k] < 0) throw bad("negative size or stride");
    if (r.shape[k] != 0 && numel > std::numeric_limits<int32_t>::max() / r.shape[k])
      throw bad("too many elements");
    numel *= r.shape[k];
    if (r.shape[k] > 0) {
      if (r.stride[k] > std::numeric_limits<int32_t>::max()) throw bad("stride too large");
      last += (r.shape[k] - 1) * r.stride[k];
    }
  }
  if (numel == 0) return 0;
  if (r.offset > r.storage_numel || last >= r.storage_numel - r.offset) {
    throw bad("offset, size and stride reach past its storage of " + std::to_string(r.storage_numel) +
              " elements");
  }
  return last + 1;
}

float element_to_float(DType t, const uint8_t* p) {
  switch (t) {
    case DType::F32: {
      float v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case DType::F64: {
      double v;
      std::memcpy(&v, p, 8);
      return static_cast<float>(v);
    }
    case DType::F16:
      return half_to_float(static_cast<uint16_t>(p[0] | (p[1] << 8)));
    case DType::BF16:
      return bfloat16_to_float(static_cast<uint16_t>(p[0] | (p[1] << 8)));
    default:
      return 0;
  }
}

}  // namespace

// ---- the zip archive --------------------------------------------------------

TorchZipWeights::TorchZipWeights(const std::string& path, Contents contents) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw file_error(path, std::string("cannot open: ") + std::strerror(errno));
  try {
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) throw file_error(path, "not a regular file");
    file_size_ = static_cast<uint64_t>(st.st_size);
    read_central_directory();

    for (const auto& kv : entries_) {
      const std::string& n = kv.first;
      if (n.size() >= 14 && n.compare(n.size() - 14, 14, "/constants.pkl") == 0)
        throw file_error(
            path, "a TorchScript archive (torch.jit.save or LibTorch's torch::save), not a torch.save file");
    }
    std::string pkl_name;
    for (const auto& kv : entries_) {
      const std::string& n = kv.first;
      if (n.size() >= 8 && n.compare(n.size() - 8, 8, "data.pkl") == 0 &&
          std::count(n.begin(), n.end(), '/') == 1 && n[n.size() - 9] == '/') {
        if (!pkl_name.empty()) throw file_error(path, "zip holds more than one data.pkl");
        pkl_name = n;
      }
    }
    if (pkl_name.empty()) {
      throw file_error(path, "not a torch.save zip archive (no <name>/data.pkl): legacy or foreign format");
    }
    prefix_ = pkl_name.substr(0, pkl_name.size() - 8);
    auto bo = entries_.find(prefix_ + "byteorder");
    if (bo != entries_.end() && bo->second.size <= 16) {
      std::string order(bo->second.size, '\0');
      read_exact(entry_data_offset(bo->first, bo->second), order.data(), order.size());
      if (order != "little") throw file_error(path, "big-endian archive is not supported");
    }

    const ZipEntry& pe = entries_.at(pkl_name);
    if (pe.size > kMaxPickleBytes) throw file_error(path, "data.pkl is implausibly large");
    std::vector<uint8_t> pkl(pe.size);
    read_exact(entry_data_offset(pkl_name, pe), pkl.data(), pkl.size());
    // Bytes flipped in data.pkl would otherwise load as other weights.
    const uLong crc = ::crc32(::crc32(0L, Z_NULL, 0), pkl.data(), static_cast<uInt>(pkl.size()));
    if (crc != pe.crc32) throw file_error(path, "data.pkl fails its CRC-32 check: the file is corrupt");
    StateDictPolicy state_dict_policy;
    FairseqCheckpointPolicy checkpoint_policy;
    StateDictPolicy& policy = contents == Contents::FairseqCheckpoint ? checkpoint_policy : state_dict_policy;
    Unpickler unpickler(path, "data.pkl: ", pkl.data(), pkl.size(), policy);
    const PickleObj root = unpickler.run();
    if (root->kind != Kind::Dict) throw file_error(path, "data.pkl does not hold a state dict");
    // Walk the dict tree without recursion; a dict reached twice (the memo
    // can share one) or nested deeper than any checkpoint is refused.
    std::vector<std::pair<std::string, PickleObj>> todo{{"", root}};
    size_t dicts = 0;
    while (!todo.empty()) {
      auto [prefix, dict] = todo.back();
      todo.pop_back();
      if (++dicts > 4096 || std::count(prefix.begin(), prefix.end(), '.') > 64)
        throw file_error(path, "data.pkl nests dicts too deeply: not a checkpoint");
      for (const auto& kv : dict->dict) {
        if (kv.first->kind != Kind::Str) continue;
        const std::string name = prefix + kv.first->s;
        const PickleObj v = kv.second;
        if (StateDictPolicy::is(v, "tensor"))
          tensors_[name] = policy.tensors[static_cast<size_t>(v->i)];
        else if (v->kind == Kind::Str)
          strings_[name] = v->s;
        else if (v->kind == Kind::Int || v->kind == Kind::Bool)
          integers_[name] = v->i;
        else if (v->kind == Kind::Dict)
          todo.emplace_back(name + ".", v);
      }
    }
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
}

TorchZipWeights::~TorchZipWeights() {
  if (fd_ >= 0) ::close(fd_);
}

void TorchZipWeights::read_exact(uint64_t offset, void* dst, size_t n) const {
  if (offset > file_size_ || n > file_size_ - offset) {
    throw file_error(path_, "truncated: needs bytes " + std::to_string(offset) + ".." +
                                std::to_string(offset + n) + " of a " + std::to_string(file_size_) +
                                "-byte file");
  }
  auto* out = static_cast<uint8_t*>(dst);
  while (n > 0) {
    const ssize_t got = ::pread(fd_, out, std::min<size_t>(n, 1u << 30), static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0)
      throw file_error(path_,
                       std::string("read failed: ") + (got < 0 ? std::strerror(errno) : "end of file"));
    out += got;
    offset += static_cast<uint64_t>(got);
    n -= static_cast<size_t>(got);
  }
}

void TorchZipWeights::read_central_directory() {
  // End of central directory: 22 bytes plus a comment of up to 65535.
  if (file_size_ < 22)
    throw file_error(path_, "too short for a zip archive (" + std::to_string(file_size_) + " bytes)");
  const uint64_t tail_len = std::min<uint64_t>(file_size_, 22 + 65535);
  std::vector<uint8_t> tail(tail_len);
  read_exact(file_size_ - tail_len, tail.data(), tail_len);
  int64_t eocd = -1;
  for (int64_t k = static_cast<int64_t>(tail_len) - 22; k >= 0; --k) {
    if (le32(&tail[static_cast<size_t>(k)]) == 0x06054b50) {
      eocd = k;
      break;
    }
  }
  if (eocd < 0)
    throw file_error(path_,
                     "not a zip archive (no end of central directory): truncated or not a torch.save file");
  const uint8_t* e = &tail[static_cast<size_t>(eocd)];
  uint64_t count = le16(e + 10), cd_size = le32(e + 12), cd_offset = le32(e + 16);
  const uint64_t eocd_pos = file_size_ - tail_len + static_cast<uint64_t>(eocd);
  if (count == 0xffff || cd_size == 0xffffffffu || cd_offset == 0xffffffffu) {
    // zip64: a locator just before the EOCD points at the zip64 EOCD record.
    if (eocd_pos < 20) throw file_error(path_, "zip64 locator missing");
    uint8_t loc[20];
    read_exact(eocd_pos - 20, loc, 20);
    if (le32(loc) != 0x07064b50) throw file_error(path_, "zip64 locator missing");
    uint8_t rec[56];
    read_exact(le64(loc + 8), rec, 56);
    if (le32(rec) != 0x06064b50) throw file_error(path_, "bad zip64 end of central directory");
    count = le64(rec + 32);
    cd_size = le64(rec + 40);
    cd_offset = le64(rec + 48);
  }
  if (cd_offset > file_size_ || cd_size > file_size_ - cd_offset || cd_size > (256u << 20)) {
    throw file_error(path_, "zip central directory lies outside the file: truncated?");
  }
  std::vector<uint8_t> cd(cd_size);
  read_exact(cd_offset, cd.data(), cd.size());
  size_t pos = 0;
  for (uint64_t k = 0; k < count; ++k) {
    if (cd.size() - pos < 46 || le32(&cd[pos]) != 0x02014b50)
      throw file_error(path_, "corrupt zip central directory");
    const uint8_t* h = &cd[pos];
    ZipEntry z;
    z.method = le16(h + 10);
    z.crc32 = le32(h + 16);
    z.compressed_size = le32(h + 20);
    z.size = le32(h + 24);
    const size_t name_len = le16(h + 28), extra_len = le16(h + 30), comment_len = le16(h + 32);
    z.local_header = le32(h + 42);
    if (cd.size() - pos - 46 < name_len + extra_len + comment_len)
      throw file_error(path_, "corrupt zip central directory");
    std::string name(reinterpret_cast<const char*>(h + 46), name_len);
    // zip64 extra field: the 64-bit values of the fields that read 0xffffffff, in order.
    const uint8_t* x = h + 46 + name_len;
    for (size_t q = 0; q + 4 <= extra_len;) {
      const uint16_t id = le16(x + q), len = le16(x + q + 2);
      if (q + 4 + len > extra_len) break;
      if (id == 0x0001) {
        size_t f = q + 4;
        auto next = [&](uint64_t& field) {
          if (field != 0xffffffffu) return;
          if (f + 8 > q + 4 + len) throw file_error(path_, "corrupt zip64 extra field");
          field = le64(x + f);
          f += 8;
        };
        next(z.size);
        next(z.compressed_size);
        next(z.local_header);
      }
      q += 4 + len;
    }
    entries_[name] = z;
    pos += 46 + name_len + extra_len + comment_len;
  }
}

uint64_t TorchZipWeights::entry_data_offset(const std::string& entry_name, const ZipEntry& z) const {
  if (z.method != 0 || z.compressed_size != z.size) {
    throw file_error(path_,
                     "zip entry '" + entry_name + "' is compressed: torch.save stores entries uncompressed");
  }
  uint8_t h[30];
  read_exact(z.local_header, h, 30);
  if (le32(h) != 0x04034b50)
    throw file_error(path_, "zip entry '" + entry_name + "' has no local header: corrupt file");
  // The local header must name the entry the central directory points at.
  const size_t name_len = le16(h + 26);
  std::string local_name(name_len, '\0');
  if (name_len != entry_name.size())
    throw file_error(path_, "zip entry '" + entry_name + "': its local header names another entry");
  read_exact(z.local_header + 30, local_name.data(), name_len);
  if (local_name != entry_name)
    throw file_error(path_, "zip entry '" + entry_name + "': its local header names another entry");
  const uint64_t data = z.local_header + 30 + name_len + le16(h + 28);
  if (data > file_size_ || z.size > file_size_ - data) {
    throw file_error(path_, "zip entry '" + entry_name + "' reaches past the end of the file: truncated?");
  }
  return data;
}

std::vector<std::string> TorchZipWeights::names() const {
  std::vector<std::string> out;
  for (const auto& kv : tensors_) out.push_back(kv.first);
  return out;
}

WeightInfo TorchZipWeights::info(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw file_error(path_, "missing tensor '" + name + "'");
  return {it->second.dtype, it->second.shape};
}

void TorchZipWeights::check_fits(const TensorRecord& r, const std::string& name) const {
  // Before anything is allocated: a storage larger than the file is a lie.
  if (static_cast<uint64_t>(r.storage_numel) > file_size_ / dtype_size(r.dtype)) {
    throw file_error(path_, "tensor '" + name + "': its storage of " + std::to_string(r.storage_numel) +
                                " elements is larger than the file");
  }
}

void TorchZipWeights::read_storage(const std::string& name, const TensorRecord& r, uint8_t* dst) {
  const std::string entry_name = prefix_ + "data/" + r.storage_key;
  auto it = entries_.find(entry_name);
  if (it == entries_.end()) {
    throw file_error(path_,
                     "tensor '" + name + "': storage '" + r.storage_key + "' is missing from the archive");
  }
  const size_t es = dtype_size(r.dtype);
  // torch.save writes exactly numel x element size: anything else is corrupt.
  if (it->second.size % es != 0 || it->second.size / es != static_cast<uint64_t>(r.storage_numel)) {
    throw file_error(path_, "tensor '" + name + "': storage '" + r.storage_key + "' holds " +
                                std::to_string(it->second.size) + " bytes, not the " +
                                std::to_string(r.storage_numel) + " elements of " + std::to_string(es) +
                                " bytes its size says");
  }
  read_exact(entry_data_offset(entry_name, it->second), dst, it->second.size);
  // Flipped bytes would otherwise load as other weights (Python's zipfile checks too).
  uLong crc = ::crc32(0L, Z_NULL, 0);
  for (uint64_t done = 0; done < it->second.size;) {
    const uInt n = static_cast<uInt>(std::min<uint64_t>(it->second.size - done, 1u << 30));
    crc = ::crc32(crc, dst + done, n);
    done += n;
  }
  if (crc != it->second.crc32) {
    throw file_error(path_, "tensor '" + name + "': storage '" + r.storage_key +
                                "' fails its CRC-32 check: the file is corrupt");
  }
}

namespace {

// Copies the tensor's elements in row-major order, following its strides,
// from `storage` (its whole storage) to `out`, converting each with `put`.
template <typename Put>
void gather(const TorchZipWeights::TensorRecord& r, const uint8_t* storage, Put put) {
  const size_t es = dtype_size(r.dtype);
  int64_t numel = 1;
  for (int64_t d : r.shape) numel *= d;
  std::vector<int64_t> index(r.shape.size(), 0);
  int64_t at = r.offset;
  for (int64_t n = 0; n < numel; ++n) {
    put(n, storage + static_cast<size_t>(at) * es);
    for (size_t k = r.shape.size(); k-- > 0;) {
      if (++index[k] < r.shape[k]) {
        at += r.stride[k];
        break;
      }
      at -= (r.shape[k] - 1) * r.stride[k];
      index[k] = 0;
    }
  }
}

bool is_whole_contiguous(const TorchZipWeights::TensorRecord& r) {
  int64_t numel = 1;
  for (size_t k = r.shape.size(); k-- > 0;) {
    if (r.shape[k] != 1 && r.stride[k] != numel) return false;
    numel *= r.shape[k];
  }
  return r.offset == 0 && numel == r.storage_numel;
}

}  // namespace

uint64_t TorchZipWeights::read_into(const std::string& name, float* out) {
  const TensorRecord& r = tensors_.at(name);
  if (r.dtype != DType::F32 && r.dtype != DType::F64 && r.dtype != DType::F16 && r.dtype != DType::BF16) {
    throw file_error(path_,
                     "tensor '" + name + "' holds " + dtype_name(r.dtype) + ", not floating-point values");
  }
  const int64_t span = checked_span(r, path_, name);
  if (span == 0) return 0;
  const size_t es = dtype_size(r.dtype);
  check_fits(r, name);
  if (r.dtype == DType::F32 && is_whole_contiguous(r)) {  // the usual case: straight into the caller's memory
    read_storage(name, r, reinterpret_cast<uint8_t*>(out));
    return static_cast<uint64_t>(span) * es;
  }
  std::vector<uint8_t> storage(static_cast<size_t>(r.storage_numel) * es);
  read_storage(name, r, storage.data());
  gather(r, storage.data(), [&](int64_t n, const uint8_t* p) { out[n] = element_to_float(r.dtype, p); });
  return static_cast<uint64_t>(span) * es;
}

std::vector<uint8_t> TorchZipWeights::read_raw(const std::string& name) {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw file_error(path_, "missing tensor '" + name + "'");
  const TensorRecord& r = it->second;
  const int64_t span = checked_span(r, path_, name);
  const size_t es = dtype_size(r.dtype);
  check_fits(r, name);
  int64_t numel = 1;
  for (int64_t d : r.shape) numel *= d;
  std::vector<uint8_t> out(static_cast<size_t>(numel) * es);
  if (span == 0) return out;
  if (is_whole_contiguous(r)) {
    read_storage(name, r, out.data());
    return out;
  }
  std::vector<uint8_t> storage(static_cast<size_t>(r.storage_numel) * es);
  read_storage(name, r, storage.data());
  gather(r, storage.data(),
         [&](int64_t n, const uint8_t* p) { std::memcpy(out.data() + static_cast<size_t>(n) * es, p, es); });
  return out;
}

}  // namespace acoustok::features
