// SPDX-License-Identifier: MIT
#include "units/joblib_kmeans.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <vector>

#include "acoustok/error.hpp"
#include "acoustok/tensor_file.hpp"
#include "common/mapped_file.hpp"
#include "common/pickle.hpp"

namespace acoustok::units {

namespace {

using common::PickleObj;
using common::PickleObject;
using common::Unpickler;
using Kind = PickleObject::Kind;

constexpr size_t kMaxDims = 8;

struct DTypeInfo {
  std::string code;  // "f4", "i8", "O8", ...
  char kind = 0;     // b i u f, or another numpy kind (refused when read)
  size_t itemsize = 0;
  char byteorder = '=';
};

struct Array {
  DTypeInfo dtype;
  std::vector<int64_t> shape;
  bool fortran = false;
  const uint8_t* data = nullptr;  // into the mapped file or a bytes object of the arena
  size_t nbytes = 0;
};

bool is_estimator(const std::string& name) {
  static const char* const names[] = {
      "sklearn.cluster._kmeans.MiniBatchKMeans", "sklearn.cluster._kmeans.KMeans",
      "sklearn.cluster.k_means_.MiniBatchKMeans", "sklearn.cluster.k_means_.KMeans"};
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}
bool is_wrapper(const std::string& name) {
  return name == "joblib.numpy_pickle.NumpyArrayWrapper" ||
         name == "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper";
}
bool is_scalar(const std::string& name) {
  return name == "numpy.core.multiarray.scalar" || name == "numpy._core.multiarray.scalar";
}
bool is_reconstruct(const std::string& name) {
  return name == "numpy.core.multiarray._reconstruct" || name == "numpy._core.multiarray._reconstruct";
}

// Estimators, array wrappers, dtypes and arrays become Instances whose
// index points into this policy's records.
class KMeansPolicy : public common::PicklePolicy {
 public:
  std::vector<DTypeInfo> dtypes;
  std::vector<Array> arrays;

  bool allowed_global(const std::string& name) const override {
    return is_estimator(name) || is_wrapper(name) || is_scalar(name) || is_reconstruct(name) ||
           name == "numpy.ndarray" || name == "numpy.memmap" || name == "numpy.dtype" ||
           name == "_codecs.encode";
  }

  PickleObj new_object(Unpickler& u, PickleObj cls, PickleObj args) override {
    if (!args->items.empty()) u.fail("'" + cls->s + "' created with arguments");
    if (is_estimator(cls->s)) return instance(u, "estimator", 0);
    if (is_wrapper(cls->s)) return instance(u, "wrapper", 0);
    return PicklePolicy::new_object(u, cls, args);
  }

  PickleObj call(Unpickler& u, PickleObj fn, PickleObj args) override {
    const auto& a = args->items;
    if (fn->s == "numpy.dtype") {  // dtype("f4", False, True)
      if (a.empty() || a[0]->kind != Kind::Str) u.fail("bad numpy.dtype arguments");
      dtypes.push_back(parse_dtype(u, a[0]->s));
      return instance(u, "dtype", dtypes.size() - 1);
    }
    if (is_scalar(fn->s)) {  // scalar(dtype, raw bytes): a number
      if (a.size() != 2 || !is(a[0], "dtype") || a[1]->kind != Kind::Bytes)
        u.fail("bad numpy scalar arguments");
      const DTypeInfo& t = dtypes[static_cast<size_t>(a[0]->i)];
      if (a[1]->s.size() != t.itemsize)
        u.fail("numpy scalar of " + std::to_string(a[1]->s.size()) + " bytes for dtype " + t.code);
      const auto* p = reinterpret_cast<const uint8_t*>(a[1]->s.data());
      PickleObj o = u.make(t.kind == 'f' ? Kind::Float : Kind::Int);
      if (t.kind == 'f')
        o->f = element(u, t, p);
      else
        o->i = static_cast<int64_t>(element(u, t, p));
      return o;
    }
    if (fn->s == "_codecs.encode") {  // protocol 2 writes bytes as encode("<latin-1 text>", "latin1")
      if (a.size() != 2 || a[0]->kind != Kind::Str || a[1]->kind != Kind::Str || a[1]->s != "latin1")
        u.fail("bad _codecs.encode arguments");
      return latin1_bytes(u, a[0]->s);
    }
    if (is_reconstruct(fn->s)) {  // _reconstruct(ndarray, (0,), b"b"): an empty array that BUILD fills
      if (a.size() != 3 || a[0]->kind != Kind::Global || a[0]->s != "numpy.ndarray")
        u.fail("bad ndarray reconstruction");
      arrays.emplace_back();
      return instance(u, "array", arrays.size() - 1);
    }
    return PicklePolicy::call(u, fn, args);
  }

  PickleObj build(Unpickler& u, PickleObj obj, PickleObj state) override {
    if (is(obj, "estimator")) {
      if (state->kind != Kind::Dict) u.fail("the estimator's state is not a dict");
      obj->state = state;
      return obj;
    }
    if (is(obj, "dtype")) {
      // (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
      if (state->kind != Kind::Tuple || state->items.size() < 5) u.fail("bad numpy dtype state");
      DTypeInfo& t = dtypes[static_cast<size_t>(obj->i)];
      const std::string& order = u.as_str(state->items[1], "dtype byte order");
      if (order.size() != 1 || std::string("<>|=").find(order[0]) == std::string::npos)
        u.fail("bad dtype byte order");
      for (size_t k = 2; k <= 4; ++k)
        if (state->items[k]->kind != Kind::None)
          u.fail("structured or sub-array dtype " + t.code + ": not supported");
      t.byteorder = order[0];
      return obj;
    }
    if (is(obj, "wrapper")) return read_wrapped_array(u, state);
    if (is(obj, "array")) {  // (version, shape, dtype, is_fortran, raw bytes)
      const auto& s = state->items;
      if (state->kind != Kind::Tuple || s.size() != 5 || !is(s[2], "dtype") || s[3]->kind != Kind::Bool)
        u.fail("bad ndarray state");
      Array& arr = arrays[static_cast<size_t>(obj->i)];
      set_layout(u, arr, s[2], u.int_tuple(s[1], "array shape"), s[3]->i != 0);
      if (s[4]->kind != Kind::Bytes)
        u.fail("array of dtype " + arr.dtype.code + " does not hold raw bytes: not supported");
      if (s[4]->s.size() != arr.nbytes)
        u.fail("array data of " + std::to_string(s[4]->s.size()) + " bytes where its shape needs " +
               std::to_string(arr.nbytes));
      arr.data = reinterpret_cast<const uint8_t*>(s[4]->s.data());
      return obj;
    }
    return PicklePolicy::build(u, obj, state);
  }

  static bool is(PickleObj o, const char* type) { return o->kind == Kind::Instance && o->s == type; }

  // float, integer or bool element at p, in the dtype's byte order.
  static double element(Unpickler& u, const DTypeInfo& t, const uint8_t* p) {
    uint8_t b[8];
    std::memcpy(b, p, t.itemsize);
    if (t.byteorder == '>') std::reverse(b, b + t.itemsize);
    switch (t.kind) {
      case 'f':
        if (t.itemsize == 2) return half_to_float(static_cast<uint16_t>(b[0] | (b[1] << 8)));
        if (t.itemsize == 4) {
          float v;
          std::memcpy(&v, b, 4);
          return v;
        }
        if (t.itemsize == 8) {
          double v;
          std::memcpy(&v, b, 8);
          return v;
        }
        break;
      case 'b':
        return b[0] != 0;
      case 'u': {
        uint64_t v = 0;
        std::memcpy(&v, b, t.itemsize);
        return static_cast<double>(v);
      }
      case 'i': {
        int64_t v = 0;
        std::memcpy(&v, b, t.itemsize);
        const unsigned shift = static_cast<unsigned>(64 - 8 * t.itemsize);
        return static_cast<double>(shift ? static_cast<int64_t>(static_cast<uint64_t>(v) << shift) >> shift
                                         : v);
      }
    }
    u.fail("values of dtype " + t.code + " are not supported");
  }

 private:
  PickleObj instance(Unpickler& u, const char* type, size_t index) {
    PickleObj o = u.make(Kind::Instance);
    o->s = type;
    o->i = static_cast<int64_t>(index);
    return o;
  }

  // UTF-8 text of code points below 256 -> those bytes.
  static PickleObj latin1_bytes(Unpickler& u, const std::string& text) {
    PickleObj o = u.make(Kind::Bytes);
    o->s.reserve(text.size());
    for (size_t k = 0; k < text.size(); ++k) {
      const auto c = static_cast<unsigned char>(text[k]);
      if (c < 0x80) {
        o->s += static_cast<char>(c);
      } else if ((c == 0xc2 || c == 0xc3) && k + 1 < text.size() &&
                 (static_cast<unsigned char>(text[k + 1]) & 0xc0) == 0x80) {
        o->s += static_cast<char>(((c & 0x03) << 6) | (static_cast<unsigned char>(text[k + 1]) & 0x3f));
        ++k;
      } else {
        u.fail("latin-1 bytes that are not latin-1");
      }
    }
    return o;
  }

  static DTypeInfo parse_dtype(Unpickler& u, const std::string& code) {
    DTypeInfo t;
    t.code = code;
    if (code.size() < 2 || code.size() > 4) u.fail("unknown numpy dtype '" + code + "'");
    t.kind = code[0];
    size_t size = 0;
    for (size_t k = 1; k < code.size(); ++k) {
      if (code[k] < '0' || code[k] > '9') u.fail("unknown numpy dtype '" + code + "'");
      size = size * 10 + static_cast<size_t>(code[k] - '0');
    }
    const bool known =
        (t.kind == 'f' && (size == 2 || size == 4 || size == 8)) ||
        ((t.kind == 'i' || t.kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
        (t.kind == 'b' && size == 1);
    t.itemsize = known ? size : 0;  // other kinds parse; reading their values is refused
    return t;
  }

  void set_layout(Unpickler& u, Array& arr, PickleObj dtype, std::vector<int64_t> shape, bool fortran) {
    arr.dtype = dtypes[static_cast<size_t>(dtype->i)];
    if (arr.dtype.itemsize == 0)
      u.fail("holds an array of dtype '" + arr.dtype.code + "' (Python objects or text): not supported");
    if (shape.size() > kMaxDims) u.fail("array of " + std::to_string(shape.size()) + " dimensions");
    uint64_t count = 1;
    for (int64_t d : shape) {
      if (d < 0) u.fail("array with a negative dimension");
      if (d != 0 && count > std::numeric_limits<uint32_t>::max() / static_cast<uint64_t>(d))
        u.fail("array too large");
      count *= static_cast<uint64_t>(d);
    }
    arr.shape = std::move(shape);
    arr.fortran = fortran;
    arr.nbytes = static_cast<size_t>(count * arr.dtype.itemsize);
  }

  // joblib: {subclass, shape, order, dtype, allow_mmap[, numpy_array_alignment_bytes]},
  // then (a padding length byte and as many padding bytes) the raw array.
  PickleObj read_wrapped_array(Unpickler& u, PickleObj state) {
    if (state->kind != Kind::Dict) u.fail("the array wrapper's state is not a dict");
    std::map<std::string, PickleObj> f;
    for (const auto& kv : state->dict)
      if (kv.first->kind == Kind::Str) f[kv.first->s] = kv.second;
    for (const char* key : {"subclass", "shape", "order", "dtype"})
      if (!f.count(key)) u.fail(std::string("the array wrapper has no '") + key + "'");
    if (f["subclass"]->kind != Kind::Global) u.fail("the array's subclass is not a class");
    if (!is(f["dtype"], "dtype")) u.fail("the array's dtype is not a numpy dtype");
    const std::string& order = u.as_str(f["order"], "array order");
    if (order != "C" && order != "F") u.fail("array order '" + order + "'");
    arrays.emplace_back();
    Array& arr = arrays.back();
    set_layout(u, arr, f["dtype"], u.int_tuple(f["shape"], "array shape"), order == "F");
    if (f.count("numpy_array_alignment_bytes")) {
      const uint8_t padding = *u.take(1);
      u.take(padding);
    }
    if (arr.nbytes > u.remaining())
      u.fail("array of " + std::to_string(arr.nbytes) + " bytes, but only " + std::to_string(u.remaining()) +
             " are left in the file");
    arr.data = u.take(arr.nbytes);
    return instance(u, "array", arrays.size() - 1);
  }
};

}  // namespace

bool looks_like_joblib(const uint8_t* head, size_t n) {
  if (n >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5) return true;
  if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) return true;  // gzip
  if (n >= 3 && std::memcmp(head, "BZh", 3) == 0) return true;
  if (n >= 6 && std::memcmp(head,
                            "\xfd"
                            "7zXZ\0",
                            6) == 0)
    return true;
  if (n >= 2 && std::memcmp(head, "ZF", 2) == 0) return true;  // joblib < 0.10 zlib
  // zlib (0x78 ..) unless it is a safetensors header length followed by '{'.
  if (n >= 9 && head[0] == 0x78 && (head[0] * 256 + head[1]) % 31 == 0 && head[8] != '{') return true;
  return false;
}

KMeansModel read_joblib_kmeans(const std::string& path) {
  common::MappedFile file(path);
  const uint8_t* data = file.data();
  if (file.size() < 2 || data[0] != 0x80) {
    throw file_error(path,
                     "a compressed joblib file: acoustok reads joblib.dump(km, path) without compress= "
                     "(load it in Python and dump it again uncompressed)");
  }
  KMeansPolicy policy;
  Unpickler u(path, "", data, file.size(), policy);
  const PickleObj root = u.run();
  if (!KMeansPolicy::is(root, "estimator") || !root->state)
    throw file_error(path, "does not hold a scikit-learn KMeans or MiniBatchKMeans");
  std::map<std::string, PickleObj> state;
  for (const auto& kv : root->state->dict)
    if (kv.first->kind == Kind::Str) state[kv.first->s] = kv.second;
  if (!state.count("cluster_centers_") || !KMeansPolicy::is(state["cluster_centers_"], "array"))
    throw file_error(path, "the k-means model has no cluster_centers_ array (was it fitted?)");
  const Array& c = policy.arrays[static_cast<size_t>(state["cluster_centers_"]->i)];
  if (c.shape.size() != 2 || c.shape[0] < 1 || c.shape[1] < 1)
    throw file_error(path, "cluster_centers_ is not a [k, dim] matrix");
  if (c.dtype.kind != 'f')
    throw file_error(path, "cluster_centers_ of dtype " + c.dtype.code + ", not floating point");
  const int64_t k = c.shape[0], dim = c.shape[1];
  if (k > 65535) throw file_error(path, "more than 65535 centroids");
  const auto check_int = [&](const char* key, int64_t want) {
    auto it = state.find(key);
    if (it != state.end() && it->second->kind == Kind::Int && it->second->i != want)
      throw file_error(path, std::string(key) + " is " + std::to_string(it->second->i) +
                                 " but cluster_centers_ is [" + std::to_string(k) + ", " +
                                 std::to_string(dim) + "]");
  };
  check_int("n_clusters", k);
  check_int("n_features_in_", dim);

  std::vector<float> values(static_cast<size_t>(k * dim));
  const size_t item = c.dtype.itemsize;
  for (int64_t r = 0; r < k; ++r) {
    for (int64_t d = 0; d < dim; ++d) {
      const int64_t at = c.fortran ? d * k + r : r * dim + d;
      values[static_cast<size_t>(r * dim + d)] =
          static_cast<float>(KMeansPolicy::element(u, c.dtype, c.data + static_cast<size_t>(at) * item));
    }
  }
  check_finite(values.data(), k, dim, path + ": cluster_centers_");
  std::map<std::string, std::string> meta{{"source", "scikit-learn k-means (joblib)"}};
  auto version = state.find("_sklearn_version");
  if (version != state.end() && version->second->kind == Kind::Str)
    meta["sklearn_version"] = version->second->s;
  return KMeansModel(std::move(values), k, dim, std::move(meta));
}

}  // namespace acoustok::units
