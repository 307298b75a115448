/**
 * SECTION:element-kmeansunits
 * @title: kmeansunits
 *
 * Turns feature frames into discrete units: each frame becomes the index of
 * its nearest k-means centroid (exact, as `acoustok kmeans predict` and
 * `acoustok units` assign them). The model is a k-means file of
 * `acoustok kmeans fit` / `acoustok units` (safetensors `centroids` [k, dim])
 * or a NumPy .npy of centroids.
 *
 * Output is negotiated: `application/x-acoustok-units` (one uint16 per frame,
 * a buffer per input buffer, same PTS/DURATION/OFFSET), or
 * `text/x-raw, format=utf8`: one line of space-separated ids per segment,
 * pushed at each `acoustok-segment` event (before the event) and at EOS.
 * Input whose feature dimension is not the model's is refused at caps
 * negotiation with an error naming both.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=talk.wav ! decodebin ! audioconvert ! audioresample ! \
 *     silencesplit ! xlsrfeat model=xlsr53/ ! kmeansunits model=kmeans.safetensors ! \
 *     text/x-raw,format=utf8 ! filesink location=units.txt
 * ]|
 */
#include <gst/gst.h>

#include <memory>
#include <string>
#include <vector>

#include "acoustok/error.hpp"
#include "acoustok/kmeans.hpp"
#include "common.hpp"

GST_DEBUG_CATEGORY_STATIC(kmeans_units_debug);
#define GST_CAT_DEFAULT kmeans_units_debug

enum {
  PROP_0,
  PROP_MODEL,
};

namespace {

// Model (loaded on NULL->READY) and the line being built in text mode.
struct UnitsState {
  acoustok::KMeansModel model;
  std::string model_path;
  int64_t dim = 0;       // of the negotiated input, 0 before caps
  bool text = false;     // text/x-raw output
  std::string line;      // text mode: ids of the current segment so far
  int64_t line_frames = 0;
  GstClockTime line_pts = GST_CLOCK_TIME_NONE;
  guint64 line_offset = GST_BUFFER_OFFSET_NONE;
};

}  // namespace

struct GstKMeansUnits {
  GstElement parent;
  GstPad* sinkpad;
  GstPad* srcpad;

  gchar* model;  // property, guarded by the object lock
  UnitsState* state;
};

struct GstKMeansUnitsClass {
  GstElementClass parent_class;
};

#define GST_TYPE_KMEANS_UNITS (gst_kmeans_units_get_type())
#define GST_KMEANS_UNITS(obj) (reinterpret_cast<GstKMeansUnits*>(obj))
GType gst_kmeans_units_get_type(void);
G_DEFINE_TYPE(GstKMeansUnits, gst_kmeans_units, GST_TYPE_ELEMENT)
GST_ELEMENT_REGISTER_DEFINE(kmeansunits, "kmeansunits", GST_RANK_NONE, GST_TYPE_KMEANS_UNITS)

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_FEATURES_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_UNITS_CAPS "; " ACOUSTOK_TEXT_CAPS));

static void gst_kmeans_units_set_property(GObject* object, guint prop_id, const GValue* value, GParamSpec* pspec);
static void gst_kmeans_units_get_property(GObject* object, guint prop_id, GValue* value, GParamSpec* pspec);
static void gst_kmeans_units_finalize(GObject* object);
static GstStateChangeReturn gst_kmeans_units_change_state(GstElement* element, GstStateChange transition);
static GstFlowReturn gst_kmeans_units_chain(GstPad* pad, GstObject* parent, GstBuffer* buffer);
static gboolean gst_kmeans_units_sink_event(GstPad* pad, GstObject* parent, GstEvent* event);
static gboolean gst_kmeans_units_src_query(GstPad* pad, GstObject* parent, GstQuery* query);

static void gst_kmeans_units_class_init(GstKMeansUnitsClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);

  gobject_class->set_property = gst_kmeans_units_set_property;
  gobject_class->get_property = gst_kmeans_units_get_property;
  gobject_class->finalize = gst_kmeans_units_finalize;

  g_object_class_install_property(
      gobject_class, PROP_MODEL,
      g_param_spec_string("model", "k-means model",
                          "k-means file: safetensors with centroids [k, dim] (acoustok kmeans fit / acoustok units) "
                          "or a NumPy .npy of centroids",
                          nullptr,
                          static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(
      element_class, "k-means units", "Filter/Analyzer/Audio",
      "Assigns each feature frame to its nearest k-means centroid: units as uint16 per frame, or one text line per "
      "segment. Example: gst-launch-1.0 filesrc location=talk.wav ! decodebin ! audioconvert ! audioresample ! "
      "silencesplit ! xlsrfeat model=xlsr53/ ! kmeansunits model=kmeans.safetensors ! text/x-raw,format=utf8 ! "
      "filesink location=units.txt",
      "acoustok developers");
  element_class->change_state = GST_DEBUG_FUNCPTR(gst_kmeans_units_change_state);

  GST_DEBUG_CATEGORY_INIT(kmeans_units_debug, "kmeansunits", 0, "acoustok k-means units");
}

static void gst_kmeans_units_init(GstKMeansUnits* self) {
  self->sinkpad = gst_pad_new_from_static_template(&sink_template, "sink");
  gst_pad_set_chain_function(self->sinkpad, GST_DEBUG_FUNCPTR(gst_kmeans_units_chain));
  gst_pad_set_event_function(self->sinkpad, GST_DEBUG_FUNCPTR(gst_kmeans_units_sink_event));
  gst_element_add_pad(GST_ELEMENT(self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template(&src_template, "src");
  gst_pad_set_query_function(self->srcpad, GST_DEBUG_FUNCPTR(gst_kmeans_units_src_query));
  gst_pad_use_fixed_caps(self->srcpad);
  gst_element_add_pad(GST_ELEMENT(self), self->srcpad);

  self->model = nullptr;
  self->state = nullptr;
}

static void gst_kmeans_units_finalize(GObject* object) {
  GstKMeansUnits* self = GST_KMEANS_UNITS(object);
  delete self->state;
  self->state = nullptr;
  g_free(self->model);
  G_OBJECT_CLASS(gst_kmeans_units_parent_class)->finalize(object);
}

static void gst_kmeans_units_set_property(GObject* object, guint prop_id, const GValue* value, GParamSpec* pspec) {
  GstKMeansUnits* self = GST_KMEANS_UNITS(object);
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free(self->model);
      self->model = g_value_dup_string(value);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK(self);
}

static void gst_kmeans_units_get_property(GObject* object, guint prop_id, GValue* value, GParamSpec* pspec) {
  GstKMeansUnits* self = GST_KMEANS_UNITS(object);
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
    case PROP_MODEL: g_value_set_string(value, self->model); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK(self);
}

// NULL->READY: loads the model named by the property.
static bool gst_kmeans_units_load(GstKMeansUnits* self) {
  GST_OBJECT_LOCK(self);
  const std::string path = self->model ? self->model : "";
  GST_OBJECT_UNLOCK(self);
  return acoustok::gst::guarded(GST_ELEMENT(self), true, [&] {
    if (path.empty()) throw acoustok::Error("kmeansunits: no model set (property 'model')");
    auto fresh = std::make_unique<UnitsState>();
    fresh->model = acoustok::KMeansModel::load(path);
    fresh->model_path = path;
    delete self->state;
    self->state = fresh.release();
  });
}

static void reset_line(UnitsState& st) {
  st.line.clear();
  st.line_frames = 0;
  st.line_pts = GST_CLOCK_TIME_NONE;
  st.line_offset = GST_BUFFER_OFFSET_NONE;
}

// Input caps: the dimension must be the model's; the output format is the
// first one downstream accepts (units, or text).
static gboolean gst_kmeans_units_set_caps(GstKMeansUnits* self, GstCaps* caps) {
  UnitsState& st = *self->state;
  const GstStructure* s = gst_caps_get_structure(caps, 0);
  gint dim = 0;
  if (!gst_structure_get_int(s, "dim", &dim)) return FALSE;
  if (dim != st.model.dim()) {
    GST_ELEMENT_ERROR(self, CORE, NEGOTIATION,
                      ("feature dimension %d of the input differs from the k-means model's %d (%s)", dim,
                       static_cast<int>(st.model.dim()), st.model_path.c_str()),
                      (nullptr));
    return FALSE;
  }
  GstCaps* ours = gst_caps_from_string(ACOUSTOK_UNITS_CAPS "; " ACOUSTOK_TEXT_CAPS);
  gst_caps_set_simple(ours, "vocab-size", G_TYPE_INT, static_cast<gint>(st.model.k()), nullptr);
  // gst_caps_set_simple sets the field on every structure: drop it from text.
  gst_structure_remove_field(gst_caps_get_structure(ours, 1), "vocab-size");
  GstCaps* peer = gst_pad_peer_query_caps(self->srcpad, ours);
  gst_caps_unref(ours);
  if (gst_caps_is_empty(peer)) {
    gst_caps_unref(peer);
    GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("downstream accepts neither units nor text"), (nullptr));
    return FALSE;
  }
  GstCaps* out = gst_caps_fixate(peer);
  st.text = gst_structure_has_name(gst_caps_get_structure(out, 0), "text/x-raw");
  st.dim = dim;
  reset_line(st);
  GST_DEBUG_OBJECT(self, "input dim %d, output %" GST_PTR_FORMAT, dim, static_cast<void*>(out));
  const gboolean ok = gst_pad_set_caps(self->srcpad, out);
  gst_caps_unref(out);
  return ok;
}

// Text mode: pushes the current line (possibly empty: a segment without a
// whole frame still gets its line).
static GstFlowReturn push_line(GstKMeansUnits* self) {
  UnitsState& st = *self->state;
  const std::string text = st.line + "\n";
  GstBuffer* out = gst_buffer_new_allocate(nullptr, text.size(), nullptr);
  gst_buffer_fill(out, 0, text.data(), text.size());
  GST_BUFFER_PTS(out) = st.line_pts;
  GST_BUFFER_DURATION(out) = st.line_frames * acoustok::gst::kFrameDuration;
  GST_BUFFER_OFFSET(out) = st.line_offset;
  if (st.line_offset != GST_BUFFER_OFFSET_NONE) GST_BUFFER_OFFSET_END(out) = st.line_offset + st.line_frames;
  reset_line(st);
  return gst_pad_push(self->srcpad, out);
}

static GstFlowReturn gst_kmeans_units_chain(GstPad*, GstObject* parent, GstBuffer* buffer) {
  GstKMeansUnits* self = GST_KMEANS_UNITS(parent);
  if (!self->state || self->state->dim == 0) {
    gst_buffer_unref(buffer);
    GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("features arrived before their caps"), (nullptr));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  UnitsState& st = *self->state;
  GstMapInfo map;
  if (!gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    gst_buffer_unref(buffer);
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("could not map input buffer"), (nullptr));
    return GST_FLOW_ERROR;
  }
  const size_t row_bytes = static_cast<size_t>(st.dim) * sizeof(float);
  GstFlowReturn ret = GST_FLOW_ERROR;
  GstBuffer* out = nullptr;
  acoustok::gst::guarded(GST_ELEMENT(self), false, [&] {
    if (map.size % row_bytes != 0) {
      throw acoustok::Error("input buffer of " + std::to_string(map.size) + " bytes is not a whole number of " +
                            std::to_string(st.dim) + "-float frames");
    }
    const int64_t frames = static_cast<int64_t>(map.size / row_bytes);
    const auto labels = st.model.predict(reinterpret_cast<const float*>(map.data), frames);
    if (st.text) {
      if (st.line_frames == 0) {
        st.line_pts = GST_BUFFER_PTS(buffer);
        st.line_offset = GST_BUFFER_OFFSET(buffer);
      }
      for (int32_t l : labels) {
        if (!st.line.empty()) st.line += ' ';
        st.line += std::to_string(l);
      }
      st.line_frames += frames;
      ret = GST_FLOW_OK;
      return;
    }
    out = gst_buffer_new_allocate(nullptr, static_cast<size_t>(frames) * sizeof(guint16), nullptr);
    GstMapInfo omap;
    gst_buffer_map(out, &omap, GST_MAP_WRITE);
    auto* units = reinterpret_cast<guint16*>(omap.data);
    for (int64_t i = 0; i < frames; ++i) units[i] = static_cast<guint16>(labels[static_cast<size_t>(i)]);
    gst_buffer_unmap(out, &omap);
    GST_BUFFER_PTS(out) = GST_BUFFER_PTS(buffer);
    GST_BUFFER_DURATION(out) = frames * acoustok::gst::kFrameDuration;
    GST_BUFFER_OFFSET(out) = GST_BUFFER_OFFSET(buffer);
    if (GST_BUFFER_OFFSET_IS_VALID(buffer)) GST_BUFFER_OFFSET_END(out) = GST_BUFFER_OFFSET(buffer) + frames;
    ret = GST_FLOW_OK;
  });
  gst_buffer_unmap(buffer, &map);
  gst_buffer_unref(buffer);
  if (out) ret = gst_pad_push(self->srcpad, out);
  return ret;
}

static gboolean gst_kmeans_units_sink_event(GstPad* pad, GstObject* parent, GstEvent* event) {
  GstKMeansUnits* self = GST_KMEANS_UNITS(parent);
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_CAPS: {
      GstCaps* caps;
      gst_event_parse_caps(event, &caps);
      const gboolean ok = self->state && gst_kmeans_units_set_caps(self, caps);
      gst_event_unref(event);
      return ok;
    }
    case GST_EVENT_CUSTOM_DOWNSTREAM:
      // A segment ended: its line goes out before the event.
      if (acoustok::gst::is_segment_event(event) && self->state && self->state->text) push_line(self);
      break;
    case GST_EVENT_EOS:
      if (self->state && self->state->text && self->state->line_frames > 0) push_line(self);
      break;
    case GST_EVENT_FLUSH_STOP:
      if (self->state) reset_line(*self->state);
      break;
    default:
      break;
  }
  return gst_pad_event_default(pad, parent, event);
}

static gboolean gst_kmeans_units_src_query(GstPad* pad, GstObject* parent, GstQuery* query) {
  GstKMeansUnits* self = GST_KMEANS_UNITS(parent);
  if (GST_QUERY_TYPE(query) != GST_QUERY_LATENCY) return gst_pad_query_default(pad, parent, query);
  if (!gst_pad_peer_query(self->sinkpad, query)) return FALSE;
  // Units go out with the frames they come from; a text line waits for the
  // end of its segment, which has no bound.
  gboolean live;
  GstClockTime min, max;
  gst_query_parse_latency(query, &live, &min, &max);
  if (self->state && self->state->text) max = GST_CLOCK_TIME_NONE;
  gst_query_set_latency(query, live, min, max);
  return TRUE;
}

static GstStateChangeReturn gst_kmeans_units_change_state(GstElement* element, GstStateChange transition) {
  GstKMeansUnits* self = GST_KMEANS_UNITS(element);
  if (transition == GST_STATE_CHANGE_NULL_TO_READY && !gst_kmeans_units_load(self)) return GST_STATE_CHANGE_FAILURE;
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && self->state) {
    self->state->dim = 0;
    reset_line(*self->state);
  }
  GstStateChangeReturn ret = GST_ELEMENT_CLASS(gst_kmeans_units_parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_READY_TO_NULL) {
    delete self->state;
    self->state = nullptr;
  }
  return ret;
}
