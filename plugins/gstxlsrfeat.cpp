// SPDX-License-Identifier: MIT
/**
 * SECTION:element-xlsrfeat
 * @title: xlsrfeat
 *
 * wav2vec2 / XLSR-53 / HuBERT features of layer #GstXlsrFeat:layer, as
 * `acoustok features` computes them. The audio of one segment (up to each
 * `acoustok-segment` event, e.g. from silencesplit) is collected, normalised
 * and run as a whole, so its frames equal `acoustok features` on that segment.
 * A stream without segment events, or a segment longer than
 * #GstXlsrFeat:max-window-time, is cut into windows of at most that length
 * which overlap by #GstXlsrFeat:context-time on each side: every frame comes
 * from a window where it has at least that much audio around it. A break in
 * the input (a GAP event, a DISCONT buffer, a PTS jump of more than 40 ms)
 * ends the segment or window like a segment event: the frames after
 * it start from its own PTS, their OFFSET from 0.
 *
 * Streaming (#GstXlsrFeat:chunk-time above 0, for live chains): frames leave
 * a chunk at a time, each chunk as soon as #GstXlsrFeat:lookahead-time of
 * audio after it has arrived, computed on the audio then visible:
 * #GstXlsrFeat:context-time before the chunk, the chunk, the lookahead
 * (clipped to the segment). A frame leaves at most chunk-time +
 * lookahead-time + the compute of one run after its audio arrived, whatever
 * the segment length. The conv front end of each frame is computed once
 * (exact: it sees only its own 25 ms); the older context's keys and values
 * are reused (#GstXlsrFeat:recompute-time). Attention over the truncated context
 * is the approximation streaming costs, and models that normalise their input
 * use the running mean and variance of the segment so far. With a context
 * and lookahead longer than the segment the frames equal the offline ones.
 * The chunks sit on a fixed grid of the segment's frames, so the frames do not
 * depend on how the input was buffered. In a live pipeline that the model
 * cannot keep up with, the element posts a QoS message and a warning once
 * the input waits over a second longer than the latency it reported.
 *
 * Input: F32LE audio at any rate from 1 kHz to 768 kHz, any channel count,
 * made 16 kHz mono exactly as the command line reads a file (channels
 * averaged, soxr's HQ resampler; one resampler per segment, drained at its
 * end), so no audioresample is needed.
 *
 * Output: `application/x-acoustok-features` (float32 [frames, dim] per
 * buffer), PTS = time of the first frame on the source timeline (frame i of a
 * segment starting at t is at t + 20 ms i), DURATION = frames x 20 ms, OFFSET =
 * index of the first frame within its segment.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=talk.wav ! decodebin ! audioconvert ! \
 *     silencesplit ! xlsrfeat model=models/xlsr53 layer=14 ! kmeansunits model=kmeans.safetensors ! \
 *     text/x-raw,format=utf8 ! filesink location=units.txt
 * ]|
 */
#include "config.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "acoustok/error.hpp"
#include "acoustok/feature_windows.hpp"
#include "acoustok/features.hpp"
#include "acoustok/process.hpp"
#include "acoustok/streaming_features.hpp"
#include "gstacoustokelement.hpp"

GST_DEBUG_CATEGORY_STATIC(xlsr_feat_debug);
#define GST_CAT_DEFAULT xlsr_feat_debug

#define DEFAULT_LAYER 14
#define DEFAULT_DEVICE acoustok::gst::kDeviceAuto
#define DEFAULT_PRECISION static_cast<gint>(acoustok::Precision::fp32)
#define DEFAULT_THREADS 0
#define DEFAULT_MAX_WINDOW_TIME (30 * GST_SECOND)
#define DEFAULT_CONTEXT_TIME (2 * GST_SECOND)
#define DEFAULT_CHUNK_TIME 0
#define DEFAULT_LOOKAHEAD_TIME (160 * GST_MSECOND)
#define DEFAULT_RECOMPUTE_TIME (320 * GST_MSECOND)

enum {
  PROP_0,
  PROP_MODEL,
  PROP_LAYER,
  PROP_DEVICE,
  PROP_PRECISION,
  PROP_THREADS,
  PROP_MAX_WINDOW_TIME,
  PROP_CONTEXT_TIME,
  PROP_CHUNK_TIME,
  PROP_LOOKAHEAD_TIME,
  PROP_RECOMPUTE_TIME,
};

namespace {

using acoustok::grid::kHop;

// The model and its windowing, made on NULL->READY.
struct Model {
  std::unique_ptr<acoustok::FeatureExtractor> extractor;
  acoustok::WindowOptions windows;  // max-window-time, context-time
  bool streaming = false;           // chunk-time > 0
  acoustok::StreamingOptions stream;
  GstClockTime run_time = 0;        // one streaming run, measured at load
};

// The segment in progress. Windows: its audio from sample windows.base() on
// waits in the base class's adapter; frames before windows.next_frame() went
// out. Streaming: the core holds the audio it still needs.
struct Segment {
  explicit Segment(Model& m) : windows(m.windows) {
    if (m.streaming) stream = std::make_unique<acoustok::StreamingFeatures>(*m.extractor, m.stream);
  }
  guint64 first = 0;  // input index of the segment's sample 0
  acoustok::FeatureWindows windows;
  std::unique_ptr<acoustok::StreamingFeatures> stream;
  GstClockTime first_time = GST_CLOCK_TIME_NONE;  // of sample `first`, kept once its audio is flushed
  int live = -1;          // upstream is live (asked once): 1, 0, or -1 not yet known
  bool warned = false;    // the "cannot keep up" warning went out
};

}  // namespace

struct GstXlsrFeat {
  GstAcoustokElement parent;

  // Properties, guarded by the object lock.
  gchar* model;
  gint layer;
  int device;
  int precision;
  gint threads;
  guint64 max_window_time;
  guint64 context_time;
  guint64 chunk_time;
  guint64 lookahead_time;
  guint64 recompute_time;

  Model* loaded;     // NULL->READY .. READY->NULL
  Segment* segment;  // streaming thread only
};

struct GstXlsrFeatClass {
  GstAcoustokElementClass parent_class;
};

#define GST_TYPE_XLSR_FEAT (gst_xlsr_feat_get_type())
#define GST_XLSR_FEAT(obj) (reinterpret_cast<GstXlsrFeat*>(obj))
GType gst_xlsr_feat_get_type(void);
G_DEFINE_TYPE(GstXlsrFeat, gst_xlsr_feat, GST_TYPE_ACOUSTOK_ELEMENT)
GST_ELEMENT_REGISTER_DEFINE(xlsrfeat, "xlsrfeat", GST_RANK_NONE, GST_TYPE_XLSR_FEAT)

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_AUDIO_ANY_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_FEATURES_CAPS));

static void gst_xlsr_feat_set_property(GObject* object, guint prop_id, const GValue* value, GParamSpec* pspec);
static void gst_xlsr_feat_get_property(GObject* object, guint prop_id, GValue* value, GParamSpec* pspec);
static void gst_xlsr_feat_finalize(GObject* object);
static void gst_xlsr_feat_load(GstAcoustokElement* base);
static void gst_xlsr_feat_unload(GstAcoustokElement* base);
static void gst_xlsr_feat_start(GstAcoustokElement* base);
static void gst_xlsr_feat_set_caps(GstAcoustokElement* base, const GstStructure* caps);
static GstCaps* gst_xlsr_feat_src_caps(GstAcoustokElement* base);
static GstFlowReturn gst_xlsr_feat_handle_input(GstAcoustokElement* base, const guint8* data, gsize size);
static GstFlowReturn gst_xlsr_feat_finish_segment(GstAcoustokElement* base, GstAcoustokSegmentEnd reason);
static void gst_xlsr_feat_latency(GstAcoustokElement* base, GstClockTime* ours, gboolean* unbounded);

static void gst_xlsr_feat_class_init(GstXlsrFeatClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstAcoustokElementClass* base_class = GST_ACOUSTOK_ELEMENT_CLASS(klass);

  gobject_class->set_property = gst_xlsr_feat_set_property;
  gobject_class->get_property = gst_xlsr_feat_get_property;
  gobject_class->finalize = gst_xlsr_feat_finalize;

  const auto ready_only = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  /**
   * GstXlsrFeat:model:
   *
   * A Hugging Face model folder (config.json, optional preprocessor_config.json,
   * model.safetensors or pytorch_model.bin) of the wav2vec2 family or HuBERT,
   * or a fairseq wav2vec2 / HuBERT checkpoint file (hubert_base_ls960.pt).
   * Loaded on NULL->READY; only the blocks up to #GstXlsrFeat:layer are read.
   */
  g_object_class_install_property(
      gobject_class, PROP_MODEL,
      g_param_spec_string("model", "Feature model",
                          "Hugging Face wav2vec2 / XLSR-53 / HuBERT folder (config.json, model.safetensors or "
                          "pytorch_model.bin), e.g. models/xlsr53 from models/fetch-xlsr53.sh, or a fairseq "
                          "checkpoint (.pt)",
                          nullptr, ready_only));
  /**
   * GstXlsrFeat:layer:
   *
   * The 1-based transformer block whose output is the feature (Hugging Face
   * `hidden_states[layer]`); blocks above it never run.
   */
  g_object_class_install_property(
      gobject_class, PROP_LAYER,
      g_param_spec_int("layer", "Layer", "Transformer layer whose output is the feature (1-based; blocks above it never run)",
                       1, 1024, DEFAULT_LAYER, ready_only));
  /**
   * GstXlsrFeat:device:
   *
   * Where the model runs: `cpu`, `cuda` (LibTorch with CUDA and a visible
   * GPU), or `auto` (the default: CUDA when there is one, else the CPU, and
   * the CPU with `precision=bf16`). The same choices and default
   * as unitvocoder's.
   */
  g_object_class_install_property(
      gobject_class, PROP_DEVICE,
      g_param_spec_enum("device", "Device", "Where the model runs", acoustok::gst::device_get_type(), DEFAULT_DEVICE,
                        ready_only));
  /**
   * GstXlsrFeat:precision:
   *
   * Arithmetic of the CPU path: `fp32`, or `bf16` (matrix products and
   * convolutions on bfloat16 inputs and weights with float32 accumulation;
   * layer norm and softmax in float32), about 1.6x as fast end to end on
   * CPUs with AVX512_BF16 or AMX (measured on an AMD EPYC, Zen 5). Loading fails on other CPUs and with `device=cuda`.
   * Units from bf16 features agree with fp32's on about 99 % of frames.
   */
  g_object_class_install_property(
      gobject_class, PROP_PRECISION,
      g_param_spec_enum("precision", "Precision", "fp32, or bf16 products with float32 accumulation (AVX512_BF16 or AMX CPUs)",
                        acoustok::gst::precision_get_type(), DEFAULT_PRECISION, ready_only));
  /**
   * GstXlsrFeat:threads:
   *
   * LibTorch's intra-op thread count, which is one for the whole process:
   * set when the model loads; 0 uses every CPU this process may use, and so
   * does a larger count (lowered to it with a warning).
   */
  g_object_class_install_property(
      gobject_class, PROP_THREADS,
      g_param_spec_int("threads", "Threads", "LibTorch intra-op threads, for the whole process (0: every CPU this process may use)", 0, 1024, DEFAULT_THREADS,
                       ready_only));
  /**
   * GstXlsrFeat:max-window-time:
   *
   * The longest audio run through the model at once, in nanoseconds. Longer
   * segments, and streams without `acoustok-segment` events, are cut into
   * overlapping windows of at most this length; it is also the latency added.
   * At most an hour (a longer one fails at NULL->READY).
   */
  g_object_class_install_property(
      gobject_class, PROP_MAX_WINDOW_TIME,
      g_param_spec_uint64("max-window-time", "Maximum window (ns)",
                          "Longest audio run through the model at once (ns); longer segments and streams without "
                          "segment events are cut into overlapping windows of at most this",
                          GST_SECOND, G_MAXUINT64, DEFAULT_MAX_WINDOW_TIME, ready_only));
  /**
   * GstXlsrFeat:context-time:
   *
   * Windows: audio every frame keeps on each side where a long span is cut
   * into windows, in nanoseconds; less than half of
   * #GstXlsrFeat:max-window-time. Streaming: the audio before each chunk
   * that the model sees (it costs compute, not latency).
   */
  g_object_class_install_property(
      gobject_class, PROP_CONTEXT_TIME,
      g_param_spec_uint64("context-time", "Context (ns)",
                          "Windows: audio a frame keeps on each side where a long span is cut (ns; less than half of "
                          "max-window-time). Streaming: audio before each chunk the model sees",
                          0, G_MAXUINT64, DEFAULT_CONTEXT_TIME, ready_only));
  /**
   * GstXlsrFeat:chunk-time:
   *
   * Streaming: new audio per model run, in nanoseconds, rounded up to whole
   * 20 ms frames; at least 20 ms. 0 (the default) runs whole segments and
   * windows (exact, with a latency of up to #GstXlsrFeat:max-window-time).
   * A live chain uses e.g. chunk-time=320000000 lookahead-time=160000000
   * context-time=1000000000 (docs/gstreamer.md has the measured curve).
   */
  g_object_class_install_property(
      gobject_class, PROP_CHUNK_TIME,
      g_param_spec_uint64("chunk-time", "Chunk (ns)",
                          "Streaming: new audio per model run (ns, whole 20 ms frames); 0: whole segments and windows",
                          0, G_MAXUINT64, DEFAULT_CHUNK_TIME, ready_only));
  /**
   * GstXlsrFeat:lookahead-time:
   *
   * Streaming: audio after each chunk that the model sees before the chunk
   * leaves, in nanoseconds (whole 20 ms frames). It adds to the latency; the
   * context, chunk and lookahead together must fit in
   * #GstXlsrFeat:max-window-time.
   */
  g_object_class_install_property(
      gobject_class, PROP_LOOKAHEAD_TIME,
      g_param_spec_uint64("lookahead-time", "Lookahead (ns)",
                          "Streaming: audio after each chunk the model sees before the chunk leaves (ns)", 0, G_MAXUINT64,
                          DEFAULT_LOOKAHEAD_TIME, ready_only));
  /**
   * GstXlsrFeat:recompute-time:
   *
   * Streaming: the most recent part of #GstXlsrFeat:context-time that goes
   * through the transformer again each run, in nanoseconds (whole 20 ms
   * frames); the older context is reused: its keys and values are those it
   * got when it last went through. A run costs recompute + chunk + lookahead
   * whatever the context. 0 reuses the whole context; recompute-time =
   * context-time (or more) runs the model on exactly the visible audio each
   * time.
   */
  g_object_class_install_property(
      gobject_class, PROP_RECOMPUTE_TIME,
      g_param_spec_uint64("recompute-time", "Recomputed context (ns)",
                          "Streaming: most recent context run through the transformer again each chunk (ns); the older "
                          "context's keys and values are reused",
                          0, G_MAXUINT64, DEFAULT_RECOMPUTE_TIME, ready_only));

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(
      element_class, "wav2vec2 features", "Filter/Analyzer/Audio",
      "wav2vec2 / XLSR-53 / HuBERT transformer-layer features of each speech segment", "acoustok developers");

  base_class->load = gst_xlsr_feat_load;
  base_class->unload = gst_xlsr_feat_unload;
  base_class->start = gst_xlsr_feat_start;
  base_class->set_caps = gst_xlsr_feat_set_caps;
  base_class->src_caps = gst_xlsr_feat_src_caps;
  base_class->handle_input = gst_xlsr_feat_handle_input;
  base_class->finish_segment = gst_xlsr_feat_finish_segment;
  base_class->latency = gst_xlsr_feat_latency;

  GST_DEBUG_CATEGORY_INIT(xlsr_feat_debug, "xlsrfeat", 0, "acoustok wav2vec2 features");
}

static void gst_xlsr_feat_init(GstXlsrFeat* self) {
  self->model = nullptr;
  self->layer = DEFAULT_LAYER;
  self->device = DEFAULT_DEVICE;
  self->precision = DEFAULT_PRECISION;
  self->threads = DEFAULT_THREADS;
  self->max_window_time = DEFAULT_MAX_WINDOW_TIME;
  self->context_time = DEFAULT_CONTEXT_TIME;
  self->chunk_time = DEFAULT_CHUNK_TIME;
  self->lookahead_time = DEFAULT_LOOKAHEAD_TIME;
  self->recompute_time = DEFAULT_RECOMPUTE_TIME;
  self->loaded = nullptr;
  self->segment = nullptr;
}

static void gst_xlsr_feat_finalize(GObject* object) {
  GstXlsrFeat* self = GST_XLSR_FEAT(object);
  delete self->segment;
  delete self->loaded;
  g_free(self->model);
  G_OBJECT_CLASS(gst_xlsr_feat_parent_class)->finalize(object);
}

static void gst_xlsr_feat_set_property(GObject* object, guint prop_id, const GValue* value, GParamSpec* pspec) {
  GstXlsrFeat* self = GST_XLSR_FEAT(object);
  if (!gst_acoustok_element_may_set(GST_ACOUSTOK_ELEMENT(self), pspec)) return;
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free(self->model);
      self->model = g_value_dup_string(value);
      break;
    case PROP_LAYER: self->layer = g_value_get_int(value); break;
    case PROP_DEVICE:
          self->device = g_value_get_enum(value);
      break;
    case PROP_PRECISION: self->precision = g_value_get_enum(value); break;
    case PROP_THREADS: self->threads = g_value_get_int(value); break;
    case PROP_MAX_WINDOW_TIME: self->max_window_time = g_value_get_uint64(value); break;
    case PROP_CONTEXT_TIME: self->context_time = g_value_get_uint64(value); break;
    case PROP_CHUNK_TIME: self->chunk_time = g_value_get_uint64(value); break;
    case PROP_LOOKAHEAD_TIME: self->lookahead_time = g_value_get_uint64(value); break;
    case PROP_RECOMPUTE_TIME: self->recompute_time = g_value_get_uint64(value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK(self);
}

static void gst_xlsr_feat_get_property(GObject* object, guint prop_id, GValue* value, GParamSpec* pspec) {
  GstXlsrFeat* self = GST_XLSR_FEAT(object);
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
    case PROP_MODEL: g_value_set_string(value, self->model); break;
    case PROP_LAYER: g_value_set_int(value, self->layer); break;
    case PROP_DEVICE: g_value_set_enum(value, self->device); break;
    case PROP_PRECISION: g_value_set_enum(value, self->precision); break;
    case PROP_THREADS: g_value_set_int(value, self->threads); break;
    case PROP_MAX_WINDOW_TIME: g_value_set_uint64(value, self->max_window_time); break;
    case PROP_CONTEXT_TIME: g_value_set_uint64(value, self->context_time); break;
    case PROP_CHUNK_TIME: g_value_set_uint64(value, self->chunk_time); break;
    case PROP_LOOKAHEAD_TIME: g_value_set_uint64(value, self->lookahead_time); break;
    case PROP_RECOMPUTE_TIME: g_value_set_uint64(value, self->recompute_time); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK(self);
}

// The compute of one streaming run on silence, the slower of two after a
// first one that makes the model's kernels for that size: the front end of a
// chunk's new audio (of the whole visible audio where the front end is not
// frame-local), then the transformer over the chunk and its lookahead with a
// full context of reused keys and values, or over context + chunk +
// lookahead when the context is recomputed. Part of the latency reported;
// thanks to the first run the stream's first chunk does not make kernels.
static GstClockTime measure_streaming_run(Model& m) {
  acoustok::FeatureExtractor& fx = *m.extractor;
  const acoustok::StreamingFeatures shape(fx, m.stream);
  const int64_t context = shape.context_frames();
  const int64_t window = context + shape.chunk_frames() + shape.lookahead_frames();
  const int64_t fresh = fx.frame_local_front_end() ? shape.chunk_frames() : window;
  const std::vector<float> silence(static_cast<size_t>((fresh - 1) * kHop + acoustok::grid::kReceptiveField), 0.0f);
  const auto zeros = [&fx](int64_t frames) {
    acoustok::Features f;
    f.frames = frames;
    f.dim = fx.dim();
    f.data.assign(static_cast<size_t>(frames * f.dim), 0.0f);
    return f;
  };
  const acoustok::Features frames = zeros(window);
  const bool reuse = m.stream.mode == acoustok::StreamingOptions::Mode::reuse_context;
  const int64_t again = shape.recompute_frames();
  std::unique_ptr<acoustok::FeatureExtractor::EncoderState> state;
  if (reuse) {
    state = fx.new_encoder_state();
    if (context > 0) fx.encode_next(*state, zeros(context), 0, context, context);  // a full past
  }
  std::chrono::steady_clock::duration slowest{};
  for (int i = 0; i < 3; ++i) {  // the first run makes the kernels: untimed
    const auto start = std::chrono::steady_clock::now();
    fx.front_end(silence.data(), silence.size());
    if (reuse) {
      fx.encode_next(*state, frames, context - again, again + shape.chunk_frames(), context, again);
    } else {
      fx.encode(frames);
    }
    if (i > 0) slowest = std::max(slowest, std::chrono::steady_clock::now() - start);
  }
  return static_cast<GstClockTime>(std::chrono::duration_cast<std::chrono::nanoseconds>(slowest).count());
}

// NULL->READY: the model the properties name. LibTorch's thread count is one
// for the whole process: the element sets it only when `threads` asks to.
static void gst_xlsr_feat_load(GstAcoustokElement* base) {
  GstXlsrFeat* self = GST_XLSR_FEAT(base);
  GST_OBJECT_LOCK(self);
  const std::string path = self->model ? self->model : "";
  acoustok::FeatureOptions options;
  options.layer = self->layer;
  options.device = acoustok::gst::device_name(self->device);
  options.precision = static_cast<acoustok::Precision>(self->precision);
  acoustok::ProcessOptions process;
  process.threads = self->threads;
  process.tune_allocator = true;
  const guint64 window = self->max_window_time, context = self->context_time;
  acoustok::StreamingOptions stream;
  stream.chunk_ns = self->chunk_time;
  stream.lookahead_ns = self->lookahead_time;
  stream.context_ns = context;
  stream.max_window_ns = window;
  stream.recompute_ns = self->recompute_time;  // more than the context: all of it
  // Benchmarks only (tests/bench/bench_live.py): the model run exactly on
  // each chunk's visible audio, no cache, each window normalised on its own.
  const char* recompute = std::getenv("ACOUSTOK_STREAM_RECOMPUTE");
  if (recompute && std::string(recompute) == "1") stream.mode = acoustok::StreamingOptions::Mode::recompute_all;
  GST_OBJECT_UNLOCK(self);
  if (path.empty()) throw acoustok::Error("xlsrfeat: no model set (property 'model')");
  // The window is held in memory (and run through the model at once): an
  // hour at most, so a typo cannot ask for gigabytes.
  if (window > 3600 * GST_SECOND) throw acoustok::Error("xlsrfeat: max-window-time must be at most 3600 s (1 hour)");
  auto fresh = std::make_unique<Model>();
  fresh->streaming = stream.chunk_ns > 0;
  if (fresh->streaming) {
    const std::string rule = acoustok::StreamingFeatures::check(stream);
    if (!rule.empty()) throw acoustok::Error("xlsrfeat: " + rule);
    fresh->stream = stream;
  } else {
    fresh->windows = acoustok::WindowOptions{window, context};
    if (context >= window / 2 || !acoustok::FeatureWindows::fits(fresh->windows)) {
      throw acoustok::Error("xlsrfeat: context-time must be less than half of max-window-time");
    }
  }
  acoustok::configure_process(process);
  fresh->extractor = acoustok::FeatureExtractor::load(path, options);
  if (fresh->streaming) fresh->run_time = measure_streaming_run(*fresh);
  delete self->loaded;
  self->loaded = fresh.release();
}

static void gst_xlsr_feat_unload(GstAcoustokElement* base) {
  GstXlsrFeat* self = GST_XLSR_FEAT(base);
  delete self->loaded;
  self->loaded = nullptr;
}

static void gst_xlsr_feat_start(GstAcoustokElement* base) {
  GstXlsrFeat* self = GST_XLSR_FEAT(base);
  delete self->segment;
  self->segment = new Segment(*self->loaded);
  self->segment->first = gst_acoustok_element_head_index(base);
}

static void gst_xlsr_feat_set_caps(GstAcoustokElement* base, const GstStructure*) {
  base->item_bytes = sizeof(float);
  base->items_per_second = acoustok::grid::kSampleRate;
}

static GstCaps* gst_xlsr_feat_src_caps(GstAcoustokElement* base) {
  GstXlsrFeat* self = GST_XLSR_FEAT(base);
  GstCaps* caps = gst_caps_from_string(ACOUSTOK_FEATURES_CAPS);
  gst_caps_set_simple(caps, "dim", G_TYPE_INT, static_cast<gint>(self->loaded->extractor->dim()), "layer", G_TYPE_INT,
                      self->loaded->extractor->layer(), nullptr);
  return caps;
}

// Runs `count` samples from the adapter's head as one window (the core's
// FeatureWindows decides which frames it gives and how much audio the next
// window still needs), pushes its frames and drops that audio; a complete
// segment is run and dropped whole.
static GstFlowReturn process(GstXlsrFeat* self, int64_t count, bool complete) {
  GstAcoustokElement* base = GST_ACOUSTOK_ELEMENT(self);
  Segment& seg = *self->segment;
  const float* x = nullptr;
  if (seg.windows.gives_frames(count, complete)) {
    x = reinterpret_cast<const float*>(gst_acoustok_element_peek_items(base, static_cast<guint64>(count)));
  }
  const acoustok::WindowStep step = seg.windows.run(*self->loaded->extractor, x, count, complete);
  GstBuffer* out = nullptr;
  if (step.frames > 0) {
    const int64_t n = step.frames;
    const size_t row = static_cast<size_t>(step.features.dim);
    out = gst_buffer_new_allocate(nullptr, static_cast<size_t>(n) * row * sizeof(float), nullptr);
    gst_buffer_fill(out, 0, step.features.data.data() + static_cast<size_t>(step.row) * row,
                    static_cast<size_t>(n) * row * sizeof(float));
    const guint64 first_sample = seg.first + static_cast<guint64>(step.first_frame * kHop);
    GST_BUFFER_PTS(out) = gst_acoustok_element_time_of(base, first_sample);
    GST_BUFFER_DURATION(out) = static_cast<GstClockTime>(n) * acoustok::gst::kFrameDuration;
    GST_BUFFER_OFFSET(out) = static_cast<guint64>(step.first_frame);
    GST_BUFFER_OFFSET_END(out) = static_cast<guint64>(step.first_frame + n);
  }
  gst_acoustok_element_flush_items(base, static_cast<guint64>(step.drop));
  if (complete) seg.first = gst_acoustok_element_head_index(base);
  return out ? gst_acoustok_element_push(base, out) : GST_FLOW_OK;
}

// Frames [step.first_frame, ...) of the segment as one buffer (none when empty).
static GstFlowReturn push_stream_step(GstXlsrFeat* self, const acoustok::StreamStep& step) {
  GstAcoustokElement* base = GST_ACOUSTOK_ELEMENT(self);
  const int64_t n = step.features.frames;
  if (n == 0) return GST_FLOW_OK;
  const size_t bytes = step.features.data.size() * sizeof(float);
  GstBuffer* out = gst_buffer_new_allocate(nullptr, bytes, nullptr);
  gst_buffer_fill(out, 0, step.features.data.data(), bytes);
  // A segment holds no break: its frames follow its first sample's time.
  const GstClockTime start = self->segment->first_time;
  GST_BUFFER_PTS(out) = GST_CLOCK_TIME_IS_VALID(start)
                            ? start + static_cast<GstClockTime>(step.first_frame) * acoustok::gst::kFrameDuration
                            : GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION(out) = static_cast<GstClockTime>(n) * acoustok::gst::kFrameDuration;
  GST_BUFFER_OFFSET(out) = static_cast<guint64>(step.first_frame);
  GST_BUFFER_OFFSET_END(out) = static_cast<guint64>(step.first_frame + n);
  return gst_acoustok_element_push(base, out);
}

static GstClockTime reported_latency(GstXlsrFeat* self);

// Live input only: when the newest audio has waited over a second longer than
// the latency reported, the model does not keep up: a QoS message (jitter =
// how late) and, once per segment, a warning say so instead of drifting.
static void check_keeping_up(GstXlsrFeat* self, GstClockTime input_end) {
  GstAcoustokElement* base = GST_ACOUSTOK_ELEMENT(self);
  Segment& seg = *self->segment;
  if (seg.live < 0) {
    GstQuery* query = gst_query_new_latency();
    gboolean live = FALSE;
    if (gst_pad_peer_query(base->sinkpad, query)) gst_query_parse_latency(query, &live, nullptr, nullptr);
    gst_query_unref(query);
    seg.live = live ? 1 : 0;
  }
  if (seg.live == 0 || !GST_CLOCK_TIME_IS_VALID(input_end)) return;
  GstClock* clock = gst_element_get_clock(GST_ELEMENT(self));
  if (!clock) return;
  const GstClockTime now = gst_clock_get_time(clock), base_time = gst_element_get_base_time(GST_ELEMENT(self));
  gst_object_unref(clock);
  const guint64 running = gst_segment_to_running_time(&base->segment, GST_FORMAT_TIME, input_end);
  if (!GST_CLOCK_TIME_IS_VALID(running) || now < base_time) return;
  const GstClockTimeDiff late = GST_CLOCK_DIFF(running, now - base_time);
  const GstClockTimeDiff budget = static_cast<GstClockTimeDiff>(reported_latency(self) + GST_SECOND);
  if (late <= budget) return;
  GstMessage* qos = gst_message_new_qos(GST_OBJECT(self), TRUE, running, GST_CLOCK_TIME_NONE, input_end, GST_CLOCK_TIME_NONE);
  gst_message_set_qos_values(qos, late, 1.0, 1000000);
  gst_element_post_message(GST_ELEMENT(self), qos);
  if (!seg.warned) {
    seg.warned = true;
    GST_ELEMENT_WARNING(self, STREAM, FAILED, ("xlsrfeat does not keep up with the live source"),
                        ("audio waits %.2f s, %.2f s more than the latency reported: raise chunk-time or lower "
                         "context-time (or use precision=bf16)",
                         static_cast<double>(late) / GST_SECOND, static_cast<double>(late - budget + GST_SECOND) / GST_SECOND));
  }
}

// Streaming: all the audio goes to the core, which gives every chunk whose
// lookahead has arrived.
static GstFlowReturn stream_input(GstXlsrFeat* self) {
  GstAcoustokElement* base = GST_ACOUSTOK_ELEMENT(self);
  const guint64 n = gst_acoustok_element_available(base);
  if (n == 0) return GST_FLOW_OK;
  Segment& seg = *self->segment;
  if (!GST_CLOCK_TIME_IS_VALID(seg.first_time)) seg.first_time = gst_acoustok_element_time_of(base, seg.first);
  const GstClockTime input_end = gst_acoustok_element_time_of(base, gst_acoustok_element_head_index(base) + n);
  const auto* x = reinterpret_cast<const float*>(gst_acoustok_element_peek_items(base, n));
  const acoustok::StreamStep step = self->segment->stream->push(x, static_cast<size_t>(n));
  gst_acoustok_element_flush_items(base, n);
  const GstFlowReturn ret = push_stream_step(self, step);
  check_keeping_up(self, input_end);
  return ret;
}

// Every full window is run as it fills.
static GstFlowReturn gst_xlsr_feat_handle_input(GstAcoustokElement* base, const guint8*, gsize) {
  GstXlsrFeat* self = GST_XLSR_FEAT(base);
  if (self->segment->stream) return stream_input(self);
  const int64_t window = self->segment->windows.window_samples();
  GstFlowReturn ret = GST_FLOW_OK;
  while (ret == GST_FLOW_OK && gst_acoustok_element_available(base) >= static_cast<guint64>(window)) {
    ret = process(self, window, false);
  }
  return ret;
}

// A segment ended: its features go out before the event.
static GstFlowReturn gst_xlsr_feat_finish_segment(GstAcoustokElement* base, GstAcoustokSegmentEnd) {
  GstXlsrFeat* self = GST_XLSR_FEAT(base);
  if (!self->segment) return GST_FLOW_OK;
  if (self->segment->stream) {
    GstFlowReturn ret = stream_input(self);
    if (ret == GST_FLOW_OK) ret = push_stream_step(self, self->segment->stream->finish());
    self->segment->first = gst_acoustok_element_head_index(base);
    self->segment->first_time = GST_CLOCK_TIME_NONE;
    return ret;
  }
  return process(self, static_cast<int64_t>(gst_acoustok_element_available(base)), true);
}

// Windows: a frame waits for the end of its window, at most max-window-time.
// Streaming: the first frame of a chunk waits for the rest of the chunk and
// the lookahead, then for one run, measured at load (counted 1.5 times:
// neighbours share the CPUs).
static GstClockTime reported_latency(GstXlsrFeat* self) {
  const Model* m = self->loaded;
  if (m && m->streaming) {
    const acoustok::StreamingFeatures shape(*m->extractor, m->stream);
    return gst_util_uint64_scale(static_cast<guint64>(shape.wait_samples()), GST_SECOND, acoustok::grid::kSampleRate) +
           m->run_time * 3 / 2;
  }
  GST_OBJECT_LOCK(self);
  const GstClockTime window = self->max_window_time;
  GST_OBJECT_UNLOCK(self);
  return window;
}

static void gst_xlsr_feat_latency(GstAcoustokElement* base, GstClockTime* ours, gboolean*) {
  *ours = reported_latency(GST_XLSR_FEAT(base));
}
