// SPDX-License-Identifier: MIT
// NumPy arguments and results of the acoustok modules: every argument is
// checked here (dtype, shape, values) and refused with a ValueError that
// names the argument and the problem, so no bad array reaches the library.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

namespace acoustok::python {

namespace py = pybind11;

// Samples of a mono signal: a 1-D float32 array, or float64 rounded to
// float32 (what the library computes in); integer PCM, float16 and anything
// that is not 1-D are refused, as are NaN and Inf.
std::vector<float> audio_arg(const py::handle& obj, const char* name);

// Rows of a float matrix [rows, cols] as float32 row-major (float64 rounded);
// cols must equal `cols` when it is > 0; NaN and Inf are refused. `rows_name`
// names the rows in messages ("frames", "k").
std::vector<float> matrix_arg(const py::handle& obj, const char* name, int64_t cols, int64_t* rows,
                              const char* rows_name = "frames");

// Integer ids of a 1-D array (any integer dtype; a list of ints), each in
// [0, limit); `what` says what the limit is in the message.
std::vector<int32_t> units_arg(const py::handle& obj, const char* name, int64_t limit,
                               const std::string& what);

// A sample rate argument: an integer in acoustok's readable range.
int rate_arg(const py::handle& obj, const char* name);

// A float32 / int32 array that owns `values` (no copy).
py::array_t<float> to_numpy(std::vector<float>&& values, std::vector<py::ssize_t> shape);
py::array_t<int32_t> to_numpy(std::vector<int32_t>&& values, std::vector<py::ssize_t> shape);

}  // namespace acoustok::python
