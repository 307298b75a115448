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
 * Output: `application/x-acoustok-features` (float32 [frames, dim] per
 * buffer), PTS = time of the first frame on the source timeline (frame i of a
 * segment starting at t is at t + 20 ms i), DURATION = frames x 20 ms, OFFSET =
 * index of the first frame within its segment.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=talk.wav ! decodebin ! audioconvert ! audioresample ! \
 *     silencesplit ! xlsrfeat model=models/xlsr53 layer=14 ! kmeansunits model=kmeans.safetensors ! \
 *     text/x-raw,format=utf8 ! filesink location=units.txt
 * ]|
 */
#include "config.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "acoustok/error.hpp"
#include "acoustok/feature_windows.hpp"
#include "acoustok/features.hpp"
#include "acoustok/process.hpp"
#include "gstacoustokelement.hpp"

GST_DEBUG_CATEGORY_STATIC(xlsr_feat_debug);
#define GST_CAT_DEFAULT xlsr_feat_debug

#define DEFAULT_LAYER 14
#define DEFAULT_DEVICE acoustok::gst::kDeviceCpu
#define DEFAULT_PRECISION static_cast<gint>(acoustok::Precision::fp32)
#define DEFAULT_THREADS 0
#define DEFAULT_MAX_WINDOW_TIME (30 * GST_SECOND)
#define DEFAULT_CONTEXT_TIME (2 * GST_SECOND)

enum {
  PROP_0,
  PROP_MODEL,
  PROP_LAYER,
  PROP_DEVICE,
  PROP_PRECISION,
  PROP_THREADS,
  PROP_MAX_WINDOW_TIME,
  PROP_CONTEXT_TIME,
};

namespace {

using acoustok::grid::kHop;

// The model and its windowing, made on NULL->READY.
struct Model {
  std::unique_ptr<acoustok::FeatureExtractor> extractor;
  acoustok::WindowOptions windows;  // max-window-time, context-time
};

// The segment in progress. Its audio from sample windows.base() on waits in
// the base class's adapter; frames before windows.next_frame() went out.
struct Segment {
  explicit Segment(const acoustok::WindowOptions& o) : windows(o) {}
  guint64 first = 0;  // input index of the segment's sample 0
  acoustok::FeatureWindows windows;
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
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_AUDIO_CAPS));
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
   * model.safetensors or pytorch_model.bin) of the wav2vec2 family or HuBERT.
   * Loaded on NULL->READY; only the blocks up to #GstXlsrFeat:layer are read.
   */
  g_object_class_install_property(
      gobject_class, PROP_MODEL,
      g_param_spec_string("model", "Feature model",
                          "Hugging Face wav2vec2 / XLSR-53 / HuBERT folder (config.json, model.safetensors or "
                          "pytorch_model.bin), e.g. models/xlsr53 from models/fetch-xlsr53.sh",
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
   * GPU), or `auto` (CUDA when there is one, else the CPU). The same choices
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
   * Audio every frame keeps on each side where a long span is cut into
   * windows, in nanoseconds; less than half of #GstXlsrFeat:max-window-time.
   */
  g_object_class_install_property(
      gobject_class, PROP_CONTEXT_TIME,
      g_param_spec_uint64("context-time", "Context (ns)",
                          "Audio a frame keeps on each side where a long span is cut into windows (ns); must be less "
                          "than half of max-window-time",
                          0, G_MAXUINT64, DEFAULT_CONTEXT_TIME, ready_only));

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
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK(self);
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
  GST_OBJECT_UNLOCK(self);
  if (path.empty()) throw acoustok::Error("xlsrfeat: no model set (property 'model')");
  // The window is held in memory (and run through the model at once): an
  // hour at most, so a typo cannot ask for gigabytes.
  if (window > 3600 * GST_SECOND) throw acoustok::Error("xlsrfeat: max-window-time must be at most 3600 s (1 hour)");
  if (context >= window / 2) throw acoustok::Error("xlsrfeat: context-time must be less than half of max-window-time");
  auto fresh = std::make_unique<Model>();
  fresh->windows = acoustok::WindowOptions{window, context};
  if (!acoustok::FeatureWindows::fits(fresh->windows)) {
    throw acoustok::Error("xlsrfeat: context-time must be less than half of max-window-time");
  }
  acoustok::configure_process(process);
  fresh->extractor = acoustok::FeatureExtractor::load(path, options);
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
  self->segment = new Segment(self->loaded->windows);
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

// Every full window is run as it fills.
static GstFlowReturn gst_xlsr_feat_handle_input(GstAcoustokElement* base, const guint8*, gsize) {
  GstXlsrFeat* self = GST_XLSR_FEAT(base);
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
  return process(self, static_cast<int64_t>(gst_acoustok_element_available(base)), true);
}

// A frame waits for the end of its window: at most max-window-time.
static void gst_xlsr_feat_latency(GstAcoustokElement* base, GstClockTime* ours, gboolean*) {
  GstXlsrFeat* self = GST_XLSR_FEAT(base);
  GST_OBJECT_LOCK(self);
  *ours = self->max_window_time;
  GST_OBJECT_UNLOCK(self);
}
