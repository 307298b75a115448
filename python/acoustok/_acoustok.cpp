// SPDX-License-Identifier: MIT
// acoustok._acoustok: the Python binding of libacoustok's public API (audio,
// silence splitting, features, k-means, vocoder). Every call that computes
// releases the GIL; arguments are checked and copied first (arrays.hpp), so
// no Python object is touched while it is released. Objects that the C++ API
// allows one call at a time (FeatureExtractor, Vocoder) take a lock per
// object, so Python threads sharing one wait for each other instead of
// racing.
#include "config.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "acoustok/acoustok.hpp"
#include "acoustok/feature_windows.hpp"
#include "arrays.hpp"

namespace acoustok::python {
namespace {

using release = py::gil_scoped_release;

Precision precision_arg(const std::string& text) {
  if (text == "fp32") return Precision::fp32;
  if (text == "bf16") return Precision::bf16;
  throw py::value_error("precision: '" + text + "' is not fp32 or bf16");
}

// "cpu", "auto", "cuda" or "cuda:N": checked here so a typo is a ValueError,
// not a model load that fails later.
void check_device(const std::string& device) {
  const std::string cuda = "cuda:";
  const bool cuda_n =
      device.rfind(cuda, 0) == 0 && device.size() > cuda.size() &&
      std::all_of(device.begin() + cuda.size(), device.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (device != "cpu" && device != "auto" && device != "cuda" && !cuda_n)
    throw py::value_error("device: '" + device + "' is not cpu, auto, cuda or cuda:N");
}

int threads_arg(int threads) {
  if (threads < 0)
    throw py::value_error("threads: " + std::to_string(threads) + " is negative (0: every CPU)");
  return usable_threads(threads);
}

// A number as Python writes it (2.5, not 2.500000).
std::string number_text(double x) { return py::repr(py::float_(x)).cast<std::string>(); }

uint64_t seconds_to_ns(double seconds, const char* name) {
  if (!(seconds >= 0 && seconds <= 3600))
    throw py::value_error(std::string(name) + ": " + number_text(seconds) + " s is outside 0..3600 s");
  return static_cast<uint64_t>(seconds * 1e9 + 0.5);
}

// --- features ---------------------------------------------------------------

class PyFeatureExtractor {
 public:
  PyFeatureExtractor(const std::string& model, int layer, const std::string& device,
                     const std::string& precision, double max_window, double context) {
    if (layer < 1)
      throw py::value_error("layer: " + std::to_string(layer) + " is below 1 (layers count from 1)");
    check_device(device);
    windows_ = {seconds_to_ns(max_window, "max_window"), seconds_to_ns(context, "context")};
    if (!FeatureWindows::fits(windows_) || max_window < 1)
      throw py::value_error(
          "max_window, context: a window of " + number_text(max_window) + " s with " + number_text(context) +
          " s of context on each side keeps nothing (context < max_window / 2, max_window >= 1 s)");
    FeatureOptions options;
    options.layer = layer;
    options.device = device;
    options.precision = precision_arg(precision);
    release unlocked;
    extractor_ = FeatureExtractor::load(model, options);
  }

  // The frames `acoustok features` writes for the same 16 kHz samples: one
  // run when they fit one window, else the same overlapping windows.
  py::array_t<float> call(const py::handle& wave, const py::handle& sample_rate) {
    std::vector<float> x = audio_arg(wave, "wave");
    const int rate = rate_arg(sample_rate, "sample_rate");
    Features out;
    {
      release unlocked;
      std::lock_guard<std::mutex> lock(mutex_);
      if (rate != grid::kSampleRate) x = resample(x, rate, grid::kSampleRate);
      out = extract_windows(x);
    }
    return to_numpy(std::move(out.data), {out.frames, out.dim});
  }

  int64_t dim() const { return extractor_->dim(); }
  int layer() const { return extractor_->layer(); }
  int num_layers() const { return extractor_->num_layers(); }
  std::string model_name() const { return extractor_->model_name(); }

 private:
  Features extract_windows(const std::vector<float>& x) {
    FeatureWindows windows(windows_);
    Features all;
    all.dim = extractor_->dim();
    const int64_t n = static_cast<int64_t>(x.size());
    const int64_t window = windows.window_samples();
    auto run = [&](int64_t count, bool complete) {
      const float* at = windows.gives_frames(count, complete) ? x.data() + windows.base() : nullptr;
      const WindowStep step = windows.run(*extractor_, at, count, complete);
      const float* rows = step.features.data.data() + step.row * step.features.dim;
      all.data.insert(all.data.end(), rows, rows + step.frames * step.features.dim);
      all.frames += step.frames;
    };
    // As cmd_features.cpp runs a file: full windows while more follows, then the rest.
    for (;;) {
      const int64_t held = n - windows.base();
      if (held > window) {
        run(window, false);
        continue;
      }
      const bool whole_input = windows.base() == 0 && windows.next_frame() == 0;
      if (!whole_input && held == window) run(window, false);
      run(n - windows.base(), true);
      return all;
    }
  }

  std::unique_ptr<FeatureExtractor> extractor_;
  WindowOptions windows_;
  std::mutex mutex_;
};

// --- k-means ----------------------------------------------------------------

struct PyKMeans {
  KMeansModel model;

  static PyKMeans load(const std::string& path) {
    release unlocked;
    return PyKMeans{KMeansModel::load(path)};
  }

  static PyKMeans from_centroids(const py::handle& centroids) {
    int64_t k = 0;
    std::vector<float> c = matrix_arg(centroids, "centroids", 0, &k, "k");
    if (k < 1) throw py::value_error("centroids: no rows");
    const int64_t dim = static_cast<int64_t>(c.size()) / k;
    return PyKMeans{KMeansModel(std::move(c), k, dim)};
  }

  py::array_t<int32_t> predict(const py::handle& features, int threads) const {
    int64_t rows = 0;
    const std::vector<float> x = matrix_arg(features, "features", model.dim(), &rows);
    const int t = threads_arg(threads);
    std::vector<int32_t> labels;
    {
      release unlocked;
      labels = model.predict(x.data(), rows, t);
    }
    return to_numpy(std::move(labels), {rows});
  }

  py::array_t<float> centroids() const {
    std::vector<float> c = model.centroids();
    return to_numpy(std::move(c), {model.k(), model.dim()});
  }
};

// --- vocoder ----------------------------------------------------------------

class PyVocoder {
 public:
  PyVocoder(const std::string& checkpoint, const std::string& device, const std::string& config) {
    check_device(device);
    release unlocked;
    vocoder_ = Vocoder::load(checkpoint, device, config);
  }

  // What `acoustok synth` writes for one line (before PCM16): whole up to a
  // minute of units, longer in its seamless chunks. dur_prediction None is
  // synth's default: predicted when the vocoder has a duration predictor and
  // the line is reduced (no two equal neighbours). The speaker (an id, or an
  // embedding for an embedder vocoder) holds for this call.
  py::array_t<float> call(const py::handle& units, const py::object& dur_prediction, int speaker,
                          const py::object& speaker_embedding) {
    const int k = vocoder_->num_units();
    std::vector<int32_t> u = units_arg(units, "units", k, "the vocoder's units 0.." + std::to_string(k - 1));
    std::vector<float> embedding;
    if (!speaker_embedding.is_none())
      embedding =
          audio_arg(py::module_::import("numpy").attr("ravel")(speaker_embedding), "speaker_embedding");
    const VocoderConfig& c = vocoder_->config();
    if (c.has_speaker_table() && speaker < 0)
      throw py::value_error("this vocoder has " + std::to_string(c.num_speakers) +
                            " speakers: give speaker=0.." + std::to_string(c.num_speakers - 1));
    if (c.has_speaker_embedder() && embedding.empty())
      throw py::value_error("this vocoder takes a speaker embedding: give speaker_embedding= (" +
                            std::to_string(c.speaker_embedding_dim) + " floats)");
    const bool reduced = std::adjacent_find(u.begin(), u.end()) == u.end();
    const bool predict = dur_prediction.is_none() ? (vocoder_->config().has_duration_predictor() && reduced)
                                                  : dur_prediction.cast<bool>();
    std::vector<float> out;
    {
      release unlocked;
      std::lock_guard<std::mutex> lock(mutex_);
      // Given on every call that needs one, so no call inherits an earlier call's speaker.
      if (speaker >= 0 || vocoder_->config().has_speaker_table()) vocoder_->set_speaker(speaker);
      if (!embedding.empty() || vocoder_->config().has_speaker_embedder())
        vocoder_->set_speaker_embedding(embedding);
      if (predict) u = expand_durations(u.data(), u.size(), vocoder_->predict_durations(u.data(), u.size()));
      out = synthesize(u);
    }
    const auto n = static_cast<py::ssize_t>(out.size());
    return to_numpy(std::move(out), {n});
  }

  int num_units() const { return vocoder_->num_units(); }
  const VocoderConfig& config() const { return vocoder_->config(); }
  int hop() const { return vocoder_->config().hop_samples(); }

 private:
  static constexpr size_t kWholeUnits = 60 * grid::kFrameRate;  // cmd_synth.cpp's limits
  static constexpr int kChunkUnits = 500;

  std::vector<float> synthesize(const std::vector<int32_t>& u) {
    if (u.size() <= kWholeUnits) return vocoder_->synthesize(u.data(), u.size());
    StreamingVocoder stream(*vocoder_, kChunkUnits);
    std::vector<float> out;
    for (size_t at = 0; at < u.size(); at += kChunkUnits) {
      const auto part = stream.push(u.data() + at, std::min<size_t>(kChunkUnits, u.size() - at));
      out.insert(out.end(), part.begin(), part.end());
    }
    const auto rest = stream.finish();
    out.insert(out.end(), rest.begin(), rest.end());
    return out;
  }

  std::unique_ptr<Vocoder> vocoder_;
  std::mutex mutex_;
};

// --- silence ----------------------------------------------------------------

struct PySegment {
  int64_t index, start, end;
  int sample_rate;
};

std::vector<PySegment> split(const py::handle& wave, const py::handle& sample_rate, double threshold_db,
                             double min_silence, double keep_silence, double min_segment,
                             double max_segment) {
  const std::vector<float> x = audio_arg(wave, "wave");
  SilenceOptions o;
  o.sample_rate = rate_arg(sample_rate, "sample_rate");
  if (o.sample_rate % 1000 != 0)
    throw py::value_error("sample_rate: " + std::to_string(o.sample_rate) +
                          " Hz is not a multiple of 1000 Hz (the splitter's 1 ms steps): " +
                          "resample to 16 kHz first, acoustok.resample(wave, " +
                          std::to_string(o.sample_rate) + ")");
  o.threshold_db = threshold_db;
  o.min_silence = min_silence;
  o.keep_silence = keep_silence;
  o.min_segment = min_segment;
  o.max_segment = max_segment;
  try {
    o.validate();
  } catch (const Error& e) {
    throw py::value_error(std::string("split_on_silence: ") + e.what());
  }
  std::vector<Segment> segments;
  {
    release unlocked;
    segments = split_on_silence(x, o);
  }
  std::vector<PySegment> out;
  for (const Segment& s : segments) out.push_back({s.index, s.start, s.end, o.sample_rate});
  return out;
}

// --- audio files ------------------------------------------------------------

py::array_t<float> read_audio(const std::string& path) {
  std::vector<float> x;
  {
    release unlocked;
    x = read_audio_16k_mono(path);
  }
  const auto n = static_cast<py::ssize_t>(x.size());
  return to_numpy(std::move(x), {n});
}

py::array_t<float> resample_wave(const py::handle& wave, const py::handle& from_rate,
                                 const py::handle& to_rate) {
  std::vector<float> x = audio_arg(wave, "wave");
  const int from = rate_arg(from_rate, "from_rate"), to = rate_arg(to_rate, "to_rate");
  {
    release unlocked;
    if (from != to) x = resample(x, from, to);
  }
  const auto n = static_cast<py::ssize_t>(x.size());
  return to_numpy(std::move(x), {n});
}

void write_wav(const std::string& path, const py::handle& wave, const py::handle& sample_rate) {
  const std::vector<float> x = audio_arg(wave, "wave");
  const int rate = rate_arg(sample_rate, "sample_rate");
  release unlocked;
  write_wav_pcm16(path, x.data(), x.size(), rate);
}

}  // namespace
}  // namespace acoustok::python

namespace ap = acoustok::python;

PYBIND11_MODULE(_acoustok, m) {
  namespace py = pybind11;
  using namespace pybind11::literals;
  m.doc() =
      "acoustok: speech to discrete acoustic units and back (the C++ library's Python binding; see "
      "docs/python.md)";
  m.attr("__version__") = ACOUSTOK_VERSION;
  m.attr("SAMPLE_RATE") = acoustok::grid::kSampleRate;
  m.attr("HOP") = acoustok::grid::kHop;
  py::register_exception<acoustok::Error>(m, "Error", PyExc_RuntimeError);

  m.def(
      "configure_process",
      [](int threads, bool tune_allocator) {
        acoustok::ProcessOptions o;
        o.threads = ap::threads_arg(threads);
        o.tune_allocator = tune_allocator;
        acoustok::configure_process(o);
      },
      "threads"_a = 0, "tune_allocator"_a = false,
      "Process-wide settings, as the command line makes them: LibTorch's CPU threads (0: every CPU this "
      "process "
      "may use) and glibc's allocator tuned for the feature model. Call it once, before models run.");
  m.def("available_cpus", &acoustok::available_cpus,
        "The CPUs this process may use (affinity, cgroup quota).");
  m.def("feature_frames", &acoustok::feature_frames, "samples"_a,
        "Frames of n samples at 16 kHz: floor((n - 400) / 320) + 1, 0 when n < 400.");

  m.def("read_audio", &ap::read_audio, "path"_a,
        "An audio file (anything libsndfile reads) as 16 kHz mono float32, converted as the command line "
        "converts it.");
  m.def("resample", &ap::resample_wave, "wave"_a, "from_rate"_a, "to_rate"_a = acoustok::grid::kSampleRate,
        "Mono float32 resampled with soxr's high quality preset (the command line's resampler).");
  m.def("write_wav", &ap::write_wav, "path"_a, "wave"_a, "sample_rate"_a = acoustok::grid::kSampleRate,
        "A mono 16-bit PCM WAV, as acoustok writes its segments and syntheses.");

  py::class_<ap::PyFeatureExtractor>(
      m, "FeatureExtractor",
      "wav2vec2 / XLSR-53 / HuBERT features of one layer. Call it on 16 kHz mono float "
      "samples: float32 [frames, dim], the rows `acoustok features` writes.")
      .def(py::init<const std::string&, int, const std::string&, const std::string&, double, double>(),
           "model"_a, "layer"_a = 14, "device"_a = "auto", "precision"_a = "fp32", "max_window"_a = 30.0,
           "context"_a = 2.0)
      .def("__call__", &ap::PyFeatureExtractor::call, "wave"_a, "sample_rate"_a = acoustok::grid::kSampleRate)
      .def_property_readonly("dim", &ap::PyFeatureExtractor::dim)
      .def_property_readonly("layer", &ap::PyFeatureExtractor::layer)
      .def_property_readonly("num_layers", &ap::PyFeatureExtractor::num_layers)
      .def_property_readonly("model_name", &ap::PyFeatureExtractor::model_name);

  py::class_<ap::PyKMeans>(m, "KMeans", "A k-means model: nearest-centroid units of feature rows.")
      .def(py::init(&ap::PyKMeans::from_centroids), "centroids"_a)
      .def_static("load", &ap::PyKMeans::load, "path"_a,
                  "kmeans.safetensors, a NumPy .npy of centroids, or fairseq's km.bin (joblib).")
      .def("predict", &ap::PyKMeans::predict, "features"_a, "threads"_a = 0,
           "int32 unit of every row of features [frames, dim] (threads: 0 = every CPU; the result does not "
           "depend on it).")
      .def_property_readonly("k", [](const ap::PyKMeans& k) { return k.model.k(); })
      .def_property_readonly("dim", [](const ap::PyKMeans& k) { return k.model.dim(); })
      .def_property_readonly("centroids", &ap::PyKMeans::centroids)
      .def_property_readonly("metadata", [](const ap::PyKMeans& k) { return k.model.metadata(); });

  py::class_<ap::PyVocoder>(m, "Vocoder", "A unit vocoder: units to 16 kHz speech, hop samples per unit.")
      .def(py::init<const std::string&, const std::string&, const std::string&>(), "checkpoint"_a,
           "device"_a = "auto", "config"_a = "")
      .def_static(
          "load",
          [](const std::string& checkpoint, const std::string& device, const std::string& config) {
            return std::make_unique<ap::PyVocoder>(checkpoint, device, config);
          },
          "checkpoint"_a, "device"_a = "auto", "config"_a = "",
          "acoustok's checkpoint (vocoder_final.pt) or a released unit HiFi-GAN (config: its config.json, "
          "default "
          "the one beside the checkpoint).")
      .def("__call__", &ap::PyVocoder::call, "units"_a, "dur_prediction"_a = py::none(), "speaker"_a = -1,
           "speaker_embedding"_a = py::none())
      .def_property_readonly("num_units", &ap::PyVocoder::num_units)
      .def_property_readonly("num_speakers", [](const ap::PyVocoder& v) { return v.config().num_speakers; })
      .def_property_readonly("speaker_embedding_dim",
                             [](const ap::PyVocoder& v) { return v.config().speaker_embedding_dim; })
      .def_property_readonly("has_duration_predictor",
                             [](const ap::PyVocoder& v) { return v.config().has_duration_predictor(); })
      .def_property_readonly("hop", &ap::PyVocoder::hop)
      .def_property_readonly("sample_rate", [](const ap::PyVocoder&) { return acoustok::grid::kSampleRate; });

  py::class_<ap::PySegment>(m, "Segment",
                            "A segment of speech: samples [start, end) of the input, padding included.")
      .def_readonly("index", &ap::PySegment::index)
      .def_readonly("start", &ap::PySegment::start)
      .def_readonly("end", &ap::PySegment::end)
      .def_readonly("sample_rate", &ap::PySegment::sample_rate)
      .def_property_readonly(
          "start_time", [](const ap::PySegment& s) { return static_cast<double>(s.start) / s.sample_rate; })
      .def_property_readonly(
          "end_time", [](const ap::PySegment& s) { return static_cast<double>(s.end) / s.sample_rate; })
      .def("__repr__", [](const ap::PySegment& s) {
        return "Segment(index=" + std::to_string(s.index) + ", start=" + std::to_string(s.start) +
               ", end=" + std::to_string(s.end) + ", sample_rate=" + std::to_string(s.sample_rate) + ")";
      });
  acoustok::SilenceOptions d;
  m.def("split_on_silence", &ap::split, "wave"_a, "sample_rate"_a = acoustok::grid::kSampleRate,
        "threshold_db"_a = d.threshold_db, "min_silence"_a = d.min_silence, "keep_silence"_a = d.keep_silence,
        "min_segment"_a = d.min_segment, "max_segment"_a = d.max_segment,
        "The segments of a whole recording cut at its pauses, as `acoustok segment` cuts it (the same "
        "defaults). "
        "sample_rate: a multiple of 1000 Hz.");
}
