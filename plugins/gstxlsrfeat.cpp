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
 * from a window where it has at least that much audio around it.
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
#include <gst/gst.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "acoustok/error.hpp"
#include "acoustok/features.hpp"
#include "acoustok/process.hpp"
#include "common.hpp"

GST_DEBUG_CATEGORY_STATIC(xlsr_feat_debug);
#define GST_CAT_DEFAULT xlsr_feat_debug

#define DEFAULT_LAYER 14
#define DEFAULT_DEVICE "cpu"
#define DEFAULT_THREADS 0
#define DEFAULT_MAX_WINDOW_TIME (30 * GST_SECOND)
#define DEFAULT_CONTEXT_TIME (2 * GST_SECOND)

enum {
  PROP_0,
  PROP_MODEL,
  PROP_LAYER,
  PROP_DEVICE,
  PROP_THREADS,
  PROP_MAX_WINDOW_TIME,
  PROP_CONTEXT_TIME,
};

namespace {

constexpr int64_t kRate = 16000;
constexpr int64_t kHop = 320;     // samples per frame step
constexpr int64_t kField = 400;   // samples one frame sees

// Model (loaded on NULL->READY) and the audio of the current segment.
//
// `samples` holds the segment's audio from sample `base` on (a multiple of the
// hop, so window frames sit on the segment's frame grid); frames before
// `next_frame` have been pushed.
struct FeatState {
  std::unique_ptr<acoustok::FeatureExtractor> extractor;
  int64_t window_samples = 0;   // max-window-time
  int64_t context_frames = 0;   // context-time, whole frames
  bool caps_sent = false;
  GstClockTime segment_pts = GST_CLOCK_TIME_NONE;  // time of the segment's sample 0
  std::vector<float> samples;
  int64_t base = 0;
  int64_t next_frame = 0;

  void reset_segment() {
    segment_pts = GST_CLOCK_TIME_NONE;
    samples.clear();
    base = 0;
    next_frame = 0;
  }
  int64_t end() const { return base + static_cast<int64_t>(samples.size()); }
};

}  // namespace

struct GstXlsrFeat {
  GstElement parent;
  GstPad* sinkpad;
  GstPad* srcpad;

  // properties, guarded by the object lock
  gchar* model;
  gint layer;
  gchar* device;
  gint threads;
  guint64 max_window_time;
  guint64 context_time;

  FeatState* state;
};

struct GstXlsrFeatClass {
  GstElementClass parent_class;
};

#define GST_TYPE_XLSR_FEAT (gst_xlsr_feat_get_type())
#define GST_XLSR_FEAT(obj) (reinterpret_cast<GstXlsrFeat*>(obj))
GType gst_xlsr_feat_get_type(void);
G_DEFINE_TYPE(GstXlsrFeat, gst_xlsr_feat, GST_TYPE_ELEMENT)
GST_ELEMENT_REGISTER_DEFINE(xlsrfeat, "xlsrfeat", GST_RANK_NONE, GST_TYPE_XLSR_FEAT)

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_AUDIO_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_FEATURES_CAPS));

static void gst_xlsr_feat_set_property(GObject* object, guint prop_id, const GValue* value, GParamSpec* pspec);
static void gst_xlsr_feat_get_property(GObject* object, guint prop_id, GValue* value, GParamSpec* pspec);
static void gst_xlsr_feat_finalize(GObject* object);
static GstStateChangeReturn gst_xlsr_feat_change_state(GstElement* element, GstStateChange transition);
static GstFlowReturn gst_xlsr_feat_chain(GstPad* pad, GstObject* parent, GstBuffer* buffer);
static gboolean gst_xlsr_feat_sink_event(GstPad* pad, GstObject* parent, GstEvent* event);
static gboolean gst_xlsr_feat_src_query(GstPad* pad, GstObject* parent, GstQuery* query);

static void gst_xlsr_feat_class_init(GstXlsrFeatClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);

  gobject_class->set_property = gst_xlsr_feat_set_property;
  gobject_class->get_property = gst_xlsr_feat_get_property;
  gobject_class->finalize = gst_xlsr_feat_finalize;

  const auto ready_only = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  g_object_class_install_property(
      gobject_class, PROP_MODEL,
      g_param_spec_string("model", "Feature model",
                          "Hugging Face wav2vec2 / XLSR-53 / HuBERT folder (config.json, model.safetensors or "
                          "pytorch_model.bin), e.g. models/xlsr53 from models/fetch-xlsr53.sh",
                          nullptr, ready_only));
  g_object_class_install_property(
      gobject_class, PROP_LAYER,
      g_param_spec_int("layer", "Layer", "Transformer layer whose output is the feature (1-based; blocks above it never run)",
                       1, 1024, DEFAULT_LAYER, ready_only));
  g_object_class_install_property(
      gobject_class, PROP_DEVICE,
      g_param_spec_string("device", "Device", "Where the model runs: cpu or cuda", DEFAULT_DEVICE, ready_only));
  g_object_class_install_property(
      gobject_class, PROP_THREADS,
      g_param_spec_int("threads", "Threads", "LibTorch intra-op threads (0: its default)", 0, 1024, DEFAULT_THREADS,
                       ready_only));
  g_object_class_install_property(
      gobject_class, PROP_MAX_WINDOW_TIME,
      g_param_spec_uint64("max-window-time", "Maximum window time",
                          "Longest audio run through the model at once (ns); longer segments and streams without "
                          "segment events are cut into overlapping windows of at most this",
                          GST_SECOND, G_MAXUINT64, DEFAULT_MAX_WINDOW_TIME, ready_only));
  g_object_class_install_property(
      gobject_class, PROP_CONTEXT_TIME,
      g_param_spec_uint64("context-time", "Context time",
                          "Audio a frame keeps on each side where a long span is cut into windows (ns); must be less "
                          "than half of max-window-time",
                          0, G_MAXUINT64, DEFAULT_CONTEXT_TIME, ready_only));

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(
      element_class, "wav2vec2 features", "Filter/Analyzer/Audio",
      "wav2vec2 / XLSR-53 / HuBERT transformer-layer features of each speech segment, as acoustok features computes "
      "them. Example: gst-launch-1.0 filesrc location=talk.wav ! decodebin ! audioconvert ! audioresample ! "
      "silencesplit ! xlsrfeat model=models/xlsr53 ! kmeansunits model=kmeans.safetensors ! text/x-raw,format=utf8 ! "
      "filesink location=units.txt",
      "acoustok developers");
  element_class->change_state = GST_DEBUG_FUNCPTR(gst_xlsr_feat_change_state);

  GST_DEBUG_CATEGORY_INIT(xlsr_feat_debug, "xlsrfeat", 0, "acoustok wav2vec2 features");
}

static void gst_xlsr_feat_init(GstXlsrFeat* self) {
  self->sinkpad = gst_pad_new_from_static_template(&sink_template, "sink");
  gst_pad_set_chain_function(self->sinkpad, GST_DEBUG_FUNCPTR(gst_xlsr_feat_chain));
  gst_pad_set_event_function(self->sinkpad, GST_DEBUG_FUNCPTR(gst_xlsr_feat_sink_event));
  gst_element_add_pad(GST_ELEMENT(self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template(&src_template, "src");
  gst_pad_set_query_function(self->srcpad, GST_DEBUG_FUNCPTR(gst_xlsr_feat_src_query));
  gst_pad_use_fixed_caps(self->srcpad);
  gst_element_add_pad(GST_ELEMENT(self), self->srcpad);

  self->model = nullptr;
  self->layer = DEFAULT_LAYER;
  self->device = g_strdup(DEFAULT_DEVICE);
  self->threads = DEFAULT_THREADS;
  self->max_window_time = DEFAULT_MAX_WINDOW_TIME;
  self->context_time = DEFAULT_CONTEXT_TIME;
  self->state = nullptr;
}

static void gst_xlsr_feat_finalize(GObject* object) {
  GstXlsrFeat* self = GST_XLSR_FEAT(object);
  delete self->state;
  self->state = nullptr;
  g_free(self->model);
  g_free(self->device);
  G_OBJECT_CLASS(gst_xlsr_feat_parent_class)->finalize(object);
}

static void gst_xlsr_feat_set_property(GObject* object, guint prop_id, const GValue* value, GParamSpec* pspec) {
  GstXlsrFeat* self = GST_XLSR_FEAT(object);
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free(self->model);
      self->model = g_value_dup_string(value);
      break;
    case PROP_LAYER: self->layer = g_value_get_int(value); break;
    case PROP_DEVICE:
      g_free(self->device);
      self->device = g_value_dup_string(value);
      break;
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
    case PROP_DEVICE: g_value_set_string(value, self->device); break;
    case PROP_THREADS: g_value_set_int(value, self->threads); break;
    case PROP_MAX_WINDOW_TIME: g_value_set_uint64(value, self->max_window_time); break;
    case PROP_CONTEXT_TIME: g_value_set_uint64(value, self->context_time); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK(self);
}

// NULL->READY: loads the model named by the properties.
static bool gst_xlsr_feat_load(GstXlsrFeat* self) {
  GST_OBJECT_LOCK(self);
  const std::string path = self->model ? self->model : "";
  acoustok::FeatureOptions options;
  options.layer = self->layer;
  options.device = self->device ? self->device : DEFAULT_DEVICE;
  const int threads = self->threads;
  const guint64 window = self->max_window_time, context = self->context_time;
  GST_OBJECT_UNLOCK(self);
  return acoustok::gst::guarded(GST_ELEMENT(self), true, [&] {
    if (path.empty()) throw acoustok::Error("xlsrfeat: no model set (property 'model')");
    auto fresh = std::make_unique<FeatState>();
    fresh->window_samples = static_cast<int64_t>(gst_util_uint64_scale(window, kRate, GST_SECOND));
    fresh->context_frames = static_cast<int64_t>(gst_util_uint64_scale_ceil(context, kRate, GST_SECOND) + kHop - 1) / kHop;
    // A window must keep at least one frame beyond its two contexts.
    if ((2 * fresh->context_frames + 1) * kHop + kField > fresh->window_samples) {
      throw acoustok::Error("xlsrfeat: context-time must be less than half of max-window-time");
    }
    acoustok::ProcessOptions process;
    process.threads = threads;
    process.tune_allocator = true;
    acoustok::configure_process(process);
    fresh->extractor = acoustok::FeatureExtractor::load(path, options);
    delete self->state;
    self->state = fresh.release();
  });
}

static bool send_caps(GstXlsrFeat* self) {
  FeatState& st = *self->state;
  if (st.caps_sent) return true;
  GstCaps* caps = gst_caps_from_string(ACOUSTOK_FEATURES_CAPS);
  gst_caps_set_simple(caps, "dim", G_TYPE_INT, static_cast<gint>(st.extractor->dim()), "layer", G_TYPE_INT,
                      st.extractor->layer(), nullptr);
  st.caps_sent = gst_pad_set_caps(self->srcpad, caps);
  gst_caps_unref(caps);
  return st.caps_sent;
}

// Runs the model on the held audio and pushes frames [next_frame, last):
// `last` = all frames of the audio when the segment is complete, else the
// frames that still have context-time of audio after them. Keeps the audio
// the next window needs (context-time before its first frame).
static GstFlowReturn process(GstXlsrFeat* self, bool complete) {
  FeatState& st = *self->state;
  const int64_t all_frames = acoustok::feature_frames(st.end());
  const int64_t last = complete ? all_frames : std::max<int64_t>(st.next_frame, all_frames - st.context_frames);
  GstBuffer* out = nullptr;
  const bool ok = acoustok::gst::guarded(GST_ELEMENT(self), false, [&] {
    if (last <= st.next_frame) return;
    const acoustok::Features f = st.extractor->extract(st.samples.data(), st.samples.size());
    const int64_t first_in_window = st.base / kHop;  // base is on the frame grid
    const int64_t from = st.next_frame - first_in_window, n = last - st.next_frame;
    if (from < 0 || from + n > f.frames) throw acoustok::Error("xlsrfeat: internal window arithmetic error");
    const size_t row = static_cast<size_t>(f.dim);
    out = gst_buffer_new_allocate(nullptr, static_cast<size_t>(n) * row * sizeof(float), nullptr);
    gst_buffer_fill(out, 0, f.data.data() + static_cast<size_t>(from) * row, static_cast<size_t>(n) * row * sizeof(float));
    GST_BUFFER_PTS(out) = GST_CLOCK_TIME_IS_VALID(st.segment_pts)
                              ? st.segment_pts + static_cast<GstClockTime>(st.next_frame) * acoustok::gst::kFrameDuration
                              : GST_CLOCK_TIME_NONE;
    GST_BUFFER_DURATION(out) = static_cast<GstClockTime>(n) * acoustok::gst::kFrameDuration;
    GST_BUFFER_OFFSET(out) = static_cast<guint64>(st.next_frame);
    GST_BUFFER_OFFSET_END(out) = static_cast<guint64>(last);
  });
  if (!ok) return GST_FLOW_ERROR;
  if (complete) {
    st.reset_segment();
  } else if (out) {
    st.next_frame = last;
    // The next window starts context-time before its first frame.
    const int64_t keep_from = std::max<int64_t>(st.base, (last - st.context_frames) * kHop);
    st.samples.erase(st.samples.begin(), st.samples.begin() + (keep_from - st.base));
    st.base = keep_from;
  }
  if (!out) return GST_FLOW_OK;
  if (!send_caps(self)) {
    gst_buffer_unref(out);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  return gst_pad_push(self->srcpad, out);
}

static GstFlowReturn gst_xlsr_feat_chain(GstPad*, GstObject* parent, GstBuffer* buffer) {
  GstXlsrFeat* self = GST_XLSR_FEAT(parent);
  if (!self->state) {
    gst_buffer_unref(buffer);
    GST_ELEMENT_ERROR(self, CORE, STATE_CHANGE, ("no model loaded"), (nullptr));
    return GST_FLOW_ERROR;
  }
  FeatState& st = *self->state;
  GstMapInfo map;
  if (!gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    gst_buffer_unref(buffer);
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("could not map input buffer"), (nullptr));
    return GST_FLOW_ERROR;
  }
  if (st.samples.empty() && st.base == 0 && st.next_frame == 0) st.segment_pts = GST_BUFFER_PTS(buffer);
  const auto* x = reinterpret_cast<const float*>(map.data);
  size_t count = map.size / sizeof(float), at = 0;
  GstFlowReturn ret = GST_FLOW_OK;
  while (at < count && ret == GST_FLOW_OK) {
    // Take what fits in the current window; a full window is run.
    const size_t room = static_cast<size_t>(std::max<int64_t>(0, st.window_samples - static_cast<int64_t>(st.samples.size())));
    const size_t take = std::min(room, count - at);
    st.samples.insert(st.samples.end(), x + at, x + at + take);
    at += take;
    if (static_cast<int64_t>(st.samples.size()) >= st.window_samples) ret = process(self, false);
  }
  gst_buffer_unmap(buffer, &map);
  gst_buffer_unref(buffer);
  return ret;
}

static gboolean gst_xlsr_feat_sink_event(GstPad* pad, GstObject* parent, GstEvent* event) {
  GstXlsrFeat* self = GST_XLSR_FEAT(parent);
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_CAPS:
      // Input caps are fixed by the template; ours follow from the model.
      gst_event_unref(event);
      return self->state && send_caps(self);
    case GST_EVENT_CUSTOM_DOWNSTREAM:
      // A segment ended: its features go out before the event.
      if (acoustok::gst::is_segment_event(event) && self->state && process(self, true) == GST_FLOW_ERROR) {
        gst_event_unref(event);
        return FALSE;
      }
      break;
    case GST_EVENT_EOS:
      if (self->state) process(self, true);
      break;
    case GST_EVENT_FLUSH_STOP:
      if (self->state) self->state->reset_segment();
      break;
    default:
      break;
  }
  return gst_pad_event_default(pad, parent, event);
}

static gboolean gst_xlsr_feat_src_query(GstPad* pad, GstObject* parent, GstQuery* query) {
  GstXlsrFeat* self = GST_XLSR_FEAT(parent);
  if (GST_QUERY_TYPE(query) != GST_QUERY_LATENCY) return gst_pad_query_default(pad, parent, query);
  // A frame waits for the end of its window: at most max-window-time.
  gboolean live = FALSE;
  GstClockTime min = 0, max = GST_CLOCK_TIME_NONE;
  if (gst_pad_peer_query(self->sinkpad, query)) gst_query_parse_latency(query, &live, &min, &max);
  GST_OBJECT_LOCK(self);
  const GstClockTime window = self->max_window_time;
  GST_OBJECT_UNLOCK(self);
  min += window;
  if (GST_CLOCK_TIME_IS_VALID(max)) max += window;
  gst_query_set_latency(query, live, min, max);
  return TRUE;
}

static GstStateChangeReturn gst_xlsr_feat_change_state(GstElement* element, GstStateChange transition) {
  GstXlsrFeat* self = GST_XLSR_FEAT(element);
  if (transition == GST_STATE_CHANGE_NULL_TO_READY && !gst_xlsr_feat_load(self)) return GST_STATE_CHANGE_FAILURE;
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && self->state) {
    self->state->reset_segment();
    self->state->caps_sent = false;
  }
  GstStateChangeReturn ret = GST_ELEMENT_CLASS(gst_xlsr_feat_parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_READY_TO_NULL) {
    delete self->state;
    self->state = nullptr;
  }
  return ret;
}
