// SPDX-License-Identifier: MIT
#include "arrays.hpp"

#include <cmath>

#include "acoustok/audio_io.hpp"

namespace acoustok::python {
namespace {

std::string shape_text(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

std::string dtype_text(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

// Any array-like as an ndarray (np.asarray: lists become arrays, arrays stay).
py::array as_array(const py::handle& obj) {
  return py::module_::import("numpy").attr("asarray")(obj).cast<py::array>();
}

// float32 C-contiguous copy of a float32/float64 array; other dtypes refused.
std::vector<float> float_values(const py::array& a, const char* name, const char* hint) {
  const char kind = a.dtype().kind();
  const py::ssize_t size = a.dtype().itemsize();
  if (kind != 'f' || (size != 4 && size != 8)) {
    std::string m =
        std::string(name) + ": dtype " + dtype_text(a) + " is not supported: give float32 or float64";
    if (kind == 'i' || kind == 'u') m += hint;
    throw py::value_error(m);
  }
  auto f = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a);
  if (!f) throw py::error_already_set();
  return std::vector<float>(f.data(), f.data() + f.size());
}

}  // namespace

std::vector<float> audio_arg(const py::handle& obj, const char* name) {
  const py::array a = as_array(obj);
  if (a.ndim() != 1)
    throw py::value_error(std::string(name) + ": shape " + shape_text(a) +
                          " is not a 1-D mono signal [samples] (mix channels down first: wave.mean(axis=1) "
                          "for [samples, channels])");
  std::vector<float> x = float_values(
      a, name, " (integer PCM is not read as audio: int16 samples are wave.astype(np.float32) / 32768)");
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i]))
      throw py::value_error(std::string(name) + ": sample " + std::to_string(i) + " is " +
                            (std::isnan(x[i]) ? "NaN" : "Inf"));
  }
  return x;
}

std::vector<float> matrix_arg(const py::handle& obj, const char* name, int64_t cols, int64_t* rows,
                              const char* rows_name) {
  const py::array a = as_array(obj);
  if (a.ndim() != 2 || (cols > 0 && a.shape(1) != cols))
    throw py::value_error(std::string(name) + ": shape " + shape_text(a) + " is not [" + rows_name + ", " +
                          (cols > 0 ? std::to_string(cols) : std::string("dim")) + "]" +
                          (cols > 0 && a.ndim() == 2 ? " (features of another model or layer?)" : ""));
  std::vector<float> x = float_values(a, name, "");
  const int64_t n = a.shape(0), d = a.shape(1);
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i]))
      throw py::value_error(std::string(name) + ": row " + std::to_string(static_cast<int64_t>(i) / d) +
                            ", column " + std::to_string(static_cast<int64_t>(i) % d) + " is " +
                            (std::isnan(x[i]) ? "NaN" : "Inf"));
  }
  *rows = n;
  return x;
}

std::vector<int32_t> units_arg(const py::handle& obj, const char* name, int64_t limit,
                               const std::string& what) {
  py::array a = as_array(obj);
  if (a.ndim() != 1)
    throw py::value_error(std::string(name) + ": shape " + shape_text(a) +
                          " is not a 1-D sequence of unit ids");
  const char kind = a.dtype().kind();
  // An empty list comes as float64: nothing to misread.
  if (kind != 'i' && kind != 'u' && a.size() > 0)
    throw py::value_error(std::string(name) + ": dtype " + dtype_text(a) +
                          " is not supported: unit ids are integers");
  auto v = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
  if (!v) throw py::error_already_set();
  std::vector<int32_t> out(static_cast<size_t>(v.size()));
  for (py::ssize_t i = 0; i < v.size(); ++i) {
    const int64_t u = v.data()[i];
    // (A uint64 beyond int64 wraps negative: refused too.)
    if (u < 0 || u >= limit)
      throw py::value_error(std::string(name) + ": unit " + std::to_string(u) + " at position " +
                            std::to_string(i) + " is outside " + what);
    out[static_cast<size_t>(i)] = static_cast<int32_t>(u);
  }
  return out;
}

int rate_arg(const py::handle& obj, const char* name) {
  if (py::isinstance<py::bool_>(obj) || !PyIndex_Check(obj.ptr()))
    throw py::value_error(std::string(name) + ": " + py::repr(obj).cast<std::string>() +
                          " is not an integer rate in Hz");
  const int64_t rate = py::reinterpret_steal<py::object>(PyNumber_Index(obj.ptr())).cast<int64_t>();
  if (rate < kMinSampleRate || rate > kMaxSampleRate)
    throw py::value_error(std::string(name) + ": " + std::to_string(rate) + " Hz is outside " +
                          std::to_string(kMinSampleRate) + ".." + std::to_string(kMaxSampleRate) + " Hz");
  return static_cast<int>(rate);
}

namespace {
template <class T>
py::array_t<T> owning_array(std::vector<T>&& values, std::vector<py::ssize_t> shape) {
  auto* held = new std::vector<T>(std::move(values));
  py::capsule owner(held, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(shape, held->data(), owner);
}
}  // namespace

py::array_t<float> to_numpy(std::vector<float>&& values, std::vector<py::ssize_t> shape) {
  return owning_array(std::move(values), std::move(shape));
}
py::array_t<int32_t> to_numpy(std::vector<int32_t>&& values, std::vector<py::ssize_t> shape) {
  return owning_array(std::move(values), std::move(shape));
}

}  // namespace acoustok::python
