// SPDX-License-Identifier: MIT
// acoustok._motifs: the BPE motif model (libacoustok-motifs, SentencePiece) in
// a module of its own, loaded only when acoustok.MotifModel is first used, so
// `import acoustok` never links SentencePiece's library into a process that
// does not ask for motifs (libacoustok-motifs keeps SentencePiece apart from
// LibTorch either way).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "acoustok/error.hpp"
#include "acoustok/motif_model.hpp"
#include "acoustok/unit_text.hpp"
#include "arrays.hpp"

namespace acoustok::python {
namespace {

// One motif: its token, its units, and the input frames it covers.
struct PyMotif {
  int id;
  std::vector<int> units;
  int64_t start, end;  // frames [start, end) of the input
  std::string text() const { return join_units(units.data(), units.size()); }
};

struct PyMotifModel {
  std::unique_ptr<MotifModel> model;

  static PyMotifModel load(const std::string& path) {
    py::gil_scoped_release unlocked;
    return PyMotifModel{std::make_unique<MotifModel>(path)};
  }

  Encoding run(const py::handle& units) const {
    const std::vector<int32_t> u =
        units_arg(units, "units", int64_t{kMaxUnitId} + 1, "unit ids 0.." + std::to_string(kMaxUnitId));
    const std::vector<int> frames(u.begin(), u.end());
    py::gil_scoped_release unlocked;
    return model->encode(frames);
  }

  std::vector<PyMotif> encode(const py::handle& units) const {
    const Encoding e = run(units);
    std::vector<PyMotif> out;
    out.reserve(e.motifs.size());
    for (const Motif& m : e.motifs)
      out.push_back({m.id, std::vector<int>(e.units.begin() + m.unit_begin, e.units.begin() + m.unit_end),
                     m.frame_begin, m.frame_end});
    return out;
  }

  std::string encode_text(const py::handle& units) const { return run(units).text(); }
};

}  // namespace
}  // namespace acoustok::python

namespace ap = acoustok::python;

PYBIND11_MODULE(_motifs, m) {
  namespace py = pybind11;
  using namespace pybind11::literals;
  m.doc() = "acoustok's BPE motif model (SentencePiece); use it as acoustok.MotifModel";
  // acoustok::Error raised here is the same acoustok.Error as _acoustok's.
  static py::handle error =
      py::object(py::module_::import("acoustok._acoustok").attr("Error")).release();  // kept for good
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const acoustok::Error& e) {
      PyErr_SetString(error.ptr(), e.what());
    }
  });

  py::class_<ap::PyMotif>(
      m, "Motif", "One motif: token id, its units, and the frames [start, end) of the input it covers.")
      .def_readonly("id", &ap::PyMotif::id)
      .def_readonly("units", &ap::PyMotif::units)
      .def_readonly("start", &ap::PyMotif::start)
      .def_readonly("end", &ap::PyMotif::end)
      .def("__str__", &ap::PyMotif::text)
      .def("__repr__", [](const ap::PyMotif& x) {
        return "Motif(id=" + std::to_string(x.id) + ", units='" + x.text() +
               "', start=" + std::to_string(x.start) + ", end=" + std::to_string(x.end) + ")";
      });

  py::class_<ap::PyMotifModel>(m, "MotifModel", "A BPE motif model (bpe.model from `acoustok bpe`).")
      .def_static("load", &ap::PyMotifModel::load, "path"_a)
      .def("encode", &ap::PyMotifModel::encode, "units"_a,
           "The motifs of one segment's frame units (a model trained with --dedup collapses repeats first, "
           "as training did).")
      .def("encode_text", &ap::PyMotifModel::encode_text, "units"_a,
           "The motifs as `acoustok bpe encode` writes a line: each motif's units joined by '-', space "
           "separated.")
      .def_property_readonly("vocab_size", [](const ap::PyMotifModel& x) { return x.model->vocab_size(); })
      .def_property_readonly("dedup", [](const ap::PyMotifModel& x) { return x.model->dedup(); })
      .def(
          "units_of",
          [](const ap::PyMotifModel& x, int id) -> py::object {
            if (id < 0 || id >= x.model->vocab_size())
              throw py::value_error("id: " + std::to_string(id) + " is outside 0.." +
                                    std::to_string(x.model->vocab_size() - 1));
            std::vector<int> units;
            if (!x.model->piece_units(id, &units)) return py::none();
            return py::cast(units);
          },
          "id"_a, "The unit ids of a token, or None for <unk> and control tokens.");
}
