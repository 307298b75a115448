/**
 * SECTION:element-bpemotif
 * @title: bpemotif
 *
 * Encodes units into BPE motifs with a model from `acoustok bpe` (a
 * SentencePiece BPE model over units), exactly as `acoustok bpe encode` does.
 *
 * Input: units, binary (`application/x-acoustok-units`, uint16 per frame) or
 * text (`text/x-raw, format=utf8`, one segment of space-separated ids per
 * line). Output: motifs, binary (`application/x-acoustok-motifs`, per motif an
 * int32 token id and a uint32 frame count) or text (one line per segment,
 * each motif as its unit ids joined by '-'); downstream caps choose.
 *
 * One encoding per segment. A segment of binary input ends with an
 * `acoustok-segment` event (forwarded after the segment's motifs), a
 * discontinuity (DISCONT flag, a GAP event or a timestamp jump of more than
 * half a frame), EOS, or when #GstBpeMotif:max-window-time of units is
 * pending; a stream without segment events is thus encoded in windows of
 * max-window-time. A line of text input is one segment. Each output buffer
 * holds the motifs of one segment: PTS = time of its first frame, DURATION =
 * frames x 20 ms, OFFSET/OFFSET_END = its frame indices. Text input has no
 * timestamps of its own: its lines follow each other from the first buffer's
 * PTS (or 0).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=units.txt ! text/x-raw,format=utf8 ! \
 *     bpemotif model=bpe/bpe.model ! text/x-raw,format=utf8 ! filesink location=motifs.txt
 * ]|
 */
#include <gst/gst.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "acoustok/error.hpp"
#include "acoustok/motif_model.hpp"
#include "acoustok/unit_text.hpp"
#include "common.hpp"

GST_DEBUG_CATEGORY_STATIC(bpe_motif_debug);
#define GST_CAT_DEFAULT bpe_motif_debug

#define DEFAULT_MODEL nullptr
#define DEFAULT_MAX_WINDOW_TIME (60 * GST_SECOND)

enum {
  PROP_0,
  PROP_MODEL,
  PROP_MAX_WINDOW_TIME,
};

namespace {

using acoustok::gst::kFrameDuration;

// Streaming state, made on READY->PAUSED and reset on FLUSH_STOP.
struct MotifState {
  std::vector<int> frames;                       // pending units of the open segment
  GstClockTime first_pts = GST_CLOCK_TIME_NONE;  // time of frames[0]
  guint64 first_offset = 0;                      // frame index of frames[0]
  GstClockTime next_pts = GST_CLOCK_TIME_NONE;   // where the next frame is expected
  guint64 next_offset = 0;
  std::string text_tail;                         // text input after the last newline
  int64_t text_line = 0;                         // text lines read, for error messages
};

}  // namespace

struct GstBpeMotif {
  GstElement parent;
  GstPad* sinkpad;
  GstPad* srcpad;

  // Properties, guarded by the object lock.
  gchar* model_path;
  GstClockTime max_window_time;

  // Made on NULL->READY, dropped on READY->NULL.
  acoustok::MotifModel* model;
  // Streaming thread only.
  MotifState* state;
  guint64 window_frames;  // copied from max-window-time on READY->PAUSED; 0: unbounded
  bool text_in;
  bool text_out;
  bool src_caps_set;
};

struct GstBpeMotifClass {
  GstElementClass parent_class;
};

#define GST_TYPE_BPE_MOTIF (gst_bpe_motif_get_type())
#define GST_BPE_MOTIF(obj) (reinterpret_cast<GstBpeMotif*>(obj))
GType gst_bpe_motif_get_type(void);
G_DEFINE_TYPE(GstBpeMotif, gst_bpe_motif, GST_TYPE_ELEMENT)
GST_ELEMENT_REGISTER_DEFINE(bpemotif, "bpemotif", GST_RANK_NONE, GST_TYPE_BPE_MOTIF)

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_UNITS_CAPS "; " ACOUSTOK_TEXT_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_MOTIFS_CAPS "; " ACOUSTOK_TEXT_CAPS));

static void gst_bpe_motif_set_property(GObject* object, guint prop_id, const GValue* value, GParamSpec* pspec);
static void gst_bpe_motif_get_property(GObject* object, guint prop_id, GValue* value, GParamSpec* pspec);
static void gst_bpe_motif_finalize(GObject* object);
static GstStateChangeReturn gst_bpe_motif_change_state(GstElement* element, GstStateChange transition);
static GstFlowReturn gst_bpe_motif_chain(GstPad* pad, GstObject* parent, GstBuffer* buffer);
static gboolean gst_bpe_motif_sink_event(GstPad* pad, GstObject* parent, GstEvent* event);
static gboolean gst_bpe_motif_src_query(GstPad* pad, GstObject* parent, GstQuery* query);

static void gst_bpe_motif_class_init(GstBpeMotifClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);

  gobject_class->set_property = gst_bpe_motif_set_property;
  gobject_class->get_property = gst_bpe_motif_get_property;
  gobject_class->finalize = gst_bpe_motif_finalize;

  const auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  g_object_class_install_property(
      gobject_class, PROP_MODEL,
      g_param_spec_string("model", "BPE model",
                          "Path of the BPE model (bpe.model from `acoustok bpe`), loaded on NULL->READY",
                          DEFAULT_MODEL, flags));
  g_object_class_install_property(
      gobject_class, PROP_MAX_WINDOW_TIME,
      g_param_spec_uint64("max-window-time", "Maximum window (ns)",
                          "Pending units are encoded once this much has gathered without a segment end "
                          "(the window rule of streams without acoustok-segment events; bounds latency). 0 = no bound",
                          0, G_MAXUINT64, DEFAULT_MAX_WINDOW_TIME, flags));

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(
      element_class, "BPE motif encoder", "Codec/Encoder/Analyzer",
      "Encodes unit segments into SentencePiece BPE motifs, like `acoustok bpe encode`. "
      "Example: gst-launch-1.0 filesrc location=units.txt ! text/x-raw,format=utf8 ! bpemotif model=bpe.model ! "
      "text/x-raw,format=utf8 ! filesink location=motifs.txt",
      "acoustok developers");
  element_class->change_state = GST_DEBUG_FUNCPTR(gst_bpe_motif_change_state);

  GST_DEBUG_CATEGORY_INIT(bpe_motif_debug, "bpemotif", 0, "acoustok BPE motif encoder");
}

static void gst_bpe_motif_init(GstBpeMotif* self) {
  self->sinkpad = gst_pad_new_from_static_template(&sink_template, "sink");
  gst_pad_set_chain_function(self->sinkpad, GST_DEBUG_FUNCPTR(gst_bpe_motif_chain));
  gst_pad_set_event_function(self->sinkpad, GST_DEBUG_FUNCPTR(gst_bpe_motif_sink_event));
  gst_element_add_pad(GST_ELEMENT(self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template(&src_template, "src");
  gst_pad_set_query_function(self->srcpad, GST_DEBUG_FUNCPTR(gst_bpe_motif_src_query));
  gst_pad_use_fixed_caps(self->srcpad);
  gst_element_add_pad(GST_ELEMENT(self), self->srcpad);

  self->model_path = g_strdup(DEFAULT_MODEL);
  self->max_window_time = DEFAULT_MAX_WINDOW_TIME;
  self->model = nullptr;
  self->state = nullptr;
  self->window_frames = 0;
  self->text_in = false;
  self->text_out = false;
  self->src_caps_set = false;
}

static void gst_bpe_motif_finalize(GObject* object) {
  GstBpeMotif* self = GST_BPE_MOTIF(object);
  delete self->state;
  delete self->model;
  g_free(self->model_path);
  G_OBJECT_CLASS(gst_bpe_motif_parent_class)->finalize(object);
}

static void gst_bpe_motif_set_property(GObject* object, guint prop_id, const GValue* value, GParamSpec* pspec) {
  GstBpeMotif* self = GST_BPE_MOTIF(object);
  GST_OBJECT_LOCK(self);
  // The model is loaded on NULL->READY and the window read on READY->PAUSED:
  // later changes would silently not apply.
  if (GST_STATE(self) > GST_STATE_READY || GST_STATE_PENDING(self) > GST_STATE_READY) {
    GST_OBJECT_UNLOCK(self);
    g_warning("bpemotif: property '%s' can only be set in the NULL or READY state", pspec->name);
    return;
  }
  switch (prop_id) {
    case PROP_MODEL:
      g_free(self->model_path);
      self->model_path = g_value_dup_string(value);
      break;
    case PROP_MAX_WINDOW_TIME: self->max_window_time = g_value_get_uint64(value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK(self);
}

static void gst_bpe_motif_get_property(GObject* object, guint prop_id, GValue* value, GParamSpec* pspec) {
  GstBpeMotif* self = GST_BPE_MOTIF(object);
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
    case PROP_MODEL: g_value_set_string(value, self->model_path); break;
    case PROP_MAX_WINDOW_TIME: g_value_set_uint64(value, self->max_window_time); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK(self);
}

static bool gst_bpe_motif_load_model(GstBpeMotif* self) {
  GST_OBJECT_LOCK(self);
  const std::string path = self->model_path ? self->model_path : "";
  GST_OBJECT_UNLOCK(self);
  return acoustok::gst::guarded(GST_ELEMENT(self), true, [&] {
    if (path.empty()) throw acoustok::Error("bpemotif: no model: set the 'model' property to a bpe.model");
    auto fresh = std::make_unique<acoustok::MotifModel>(path);
    GST_INFO_OBJECT(self, "model %s: %d pieces%s", path.c_str(), fresh->vocab_size(),
                    fresh->dedup() ? ", collapses repeated units" : "");
    delete self->model;
    self->model = fresh.release();
  });
}

static void gst_bpe_motif_reset(GstBpeMotif* self) {
  delete self->state;
  self->state = new MotifState();
}

// ---- output -------------------------------------------------------------

static GstCaps* gst_bpe_motif_src_caps(GstBpeMotif* self) {
  GstCaps* caps = gst_caps_from_string(ACOUSTOK_MOTIFS_CAPS "; " ACOUSTOK_TEXT_CAPS);
  if (self->model) {
    caps = gst_caps_make_writable(caps);
    gst_structure_set(gst_caps_get_structure(caps, 0), "vocab-size", G_TYPE_INT, self->model->vocab_size(), nullptr);
  }
  return caps;
}

// Picks binary or text output from what downstream accepts (binary first).
static bool gst_bpe_motif_negotiate(GstBpeMotif* self) {
  GstCaps* ours = gst_bpe_motif_src_caps(self);
  GstCaps* allowed = gst_pad_peer_query_caps(self->srcpad, ours);
  gst_caps_unref(ours);
  if (!allowed || gst_caps_is_empty(allowed)) {
    if (allowed) gst_caps_unref(allowed);
    GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("downstream accepts neither motifs nor text"), (nullptr));
    return false;
  }
  allowed = gst_caps_truncate(allowed);
  allowed = gst_caps_fixate(allowed);
  self->text_out = gst_structure_has_name(gst_caps_get_structure(allowed, 0), "text/x-raw");
  const bool ok = gst_pad_set_caps(self->srcpad, allowed);
  gst_caps_unref(allowed);
  if (!ok) {
    GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("could not set output caps"), (nullptr));
    return false;
  }
  self->src_caps_set = true;
  return true;
}

static GstBuffer* motif_buffer(const GstBpeMotif* self, const acoustok::Encoding& enc) {
  if (self->text_out) {
    const std::string line = enc.text() + "\n";
    GstBuffer* b = gst_buffer_new_allocate(nullptr, line.size(), nullptr);
    gst_buffer_fill(b, 0, line.data(), line.size());
    return b;
  }
  GstBuffer* b = gst_buffer_new_allocate(nullptr, enc.motifs.size() * 8, nullptr);
  GstMapInfo map;
  gst_buffer_map(b, &map, GST_MAP_WRITE);
  for (size_t k = 0; k < enc.motifs.size(); ++k) {
    const gint32 id = enc.motifs[k].id;
    const guint32 frames = static_cast<guint32>(enc.motifs[k].frames());
    std::memcpy(map.data + 8 * k, &id, 4);
    std::memcpy(map.data + 8 * k + 4, &frames, 4);
  }
  gst_buffer_unmap(b, &map);
  return b;
}

// Encodes the pending units (one segment) and pushes their motifs.
static GstFlowReturn gst_bpe_motif_flush_segment(GstBpeMotif* self, bool keep_empty = false) {
  MotifState& st = *self->state;
  if (st.frames.empty() && !keep_empty) return GST_FLOW_OK;
  // Downstream may change what it accepts (RECONFIGURE) between segments.
  if ((!self->src_caps_set || gst_pad_check_reconfigure(self->srcpad)) && !gst_bpe_motif_negotiate(self)) {
    return GST_FLOW_NOT_NEGOTIATED;
  }
  GstBuffer* out = nullptr;
  if (!acoustok::gst::guarded(GST_ELEMENT(self), false, [&] { out = motif_buffer(self, self->model->encode(st.frames)); })) {
    return GST_FLOW_ERROR;
  }
  const guint64 n = st.frames.size();
  GST_BUFFER_PTS(out) = st.first_pts;
  GST_BUFFER_DURATION(out) = n * kFrameDuration;
  GST_BUFFER_OFFSET(out) = st.first_offset;
  GST_BUFFER_OFFSET_END(out) = st.first_offset + n;
  st.frames.clear();
  GST_LOG_OBJECT(self, "segment of %" G_GUINT64_FORMAT " frames at %" GST_TIME_FORMAT, n, GST_TIME_ARGS(st.first_pts));
  return gst_pad_push(self->srcpad, out);
}

// ---- input --------------------------------------------------------------

// Appends frames that start at `pts` and frame index `offset` (NONE: right
// after the previous ones). `windowed`: end the segment at max-window-time.
static GstFlowReturn gst_bpe_motif_add_frames(GstBpeMotif* self, const int* units, size_t n, GstClockTime pts,
                                              guint64 offset, bool discont, bool windowed) {
  MotifState& st = *self->state;
  GstFlowReturn ret = GST_FLOW_OK;
  const auto half_frame = static_cast<GstClockTimeDiff>(kFrameDuration / 2);
  if (!st.frames.empty() && GST_CLOCK_TIME_IS_VALID(pts) && GST_CLOCK_TIME_IS_VALID(st.next_pts)) {
    const GstClockTimeDiff jump = GST_CLOCK_DIFF(st.next_pts, pts);
    if (jump > half_frame || jump < -half_frame) discont = true;
  }
  if (discont) ret = gst_bpe_motif_flush_segment(self);
  if (st.frames.empty() && offset != GST_BUFFER_OFFSET_NONE) {
    st.next_offset = offset;
  } else if (GST_CLOCK_TIME_IS_VALID(pts) && GST_CLOCK_TIME_IS_VALID(st.next_pts) && pts > st.next_pts) {
    st.next_offset += (pts - st.next_pts + kFrameDuration / 2) / kFrameDuration;  // frames skipped by a jump
  }
  if (GST_CLOCK_TIME_IS_VALID(pts)) {
    st.next_pts = pts;
  } else if (!GST_CLOCK_TIME_IS_VALID(st.next_pts)) {
    st.next_pts = 0;
  }
  for (size_t i = 0; i < n && ret == GST_FLOW_OK; ++i) {
    if (st.frames.empty()) {
      st.first_pts = st.next_pts;
      st.first_offset = st.next_offset;
    }
    st.frames.push_back(units[i]);
    st.next_pts += kFrameDuration;
    ++st.next_offset;
    if (windowed && self->window_frames > 0 && st.frames.size() >= self->window_frames) {
      ret = gst_bpe_motif_flush_segment(self);
    }
  }
  return ret;
}

static GstFlowReturn gst_bpe_motif_chain_units(GstBpeMotif* self, GstBuffer* buffer, const GstMapInfo& map) {
  if (map.size % 2 != 0) {
    GST_ELEMENT_ERROR(self, STREAM, FORMAT, ("units buffer of %" G_GSIZE_FORMAT " bytes: not uint16 per frame", map.size),
                      (nullptr));
    return GST_FLOW_ERROR;
  }
  const size_t n = map.size / 2;
  std::vector<int> units(n);
  for (size_t i = 0; i < n; ++i) {
    guint16 u;
    std::memcpy(&u, map.data + 2 * i, 2);
    if (u > acoustok::kMaxUnitId) {
      GST_ELEMENT_ERROR(self, STREAM, FORMAT,
                        ("unit %u at frame %" G_GUINT64_FORMAT " is beyond the largest unit id %d a BPE model can hold",
                         u, self->state->next_offset + i, acoustok::kMaxUnitId),
                        (nullptr));
      return GST_FLOW_ERROR;
    }
    units[i] = u;
  }
  return gst_bpe_motif_add_frames(self, units.data(), n, GST_BUFFER_PTS(buffer), GST_BUFFER_OFFSET(buffer),
                                  GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DISCONT), /*windowed=*/true);
}

// Every complete line of text is one segment, whatever its length: the line
// is in memory already, and an output line per input line keeps them aligned.
static GstFlowReturn gst_bpe_motif_text_line(GstBpeMotif* self, const std::string& line) {
  MotifState& st = *self->state;
  std::vector<int> units;
  if (!acoustok::gst::guarded(GST_ELEMENT(self), false,
                              [&] { acoustok::parse_unit_line(line, &units, "bpemotif text input", ++st.text_line); })) {
    return GST_FLOW_ERROR;
  }
  GstFlowReturn ret = gst_bpe_motif_add_frames(self, units.data(), units.size(), GST_CLOCK_TIME_NONE,
                                               GST_BUFFER_OFFSET_NONE, false, /*windowed=*/false);
  if (ret != GST_FLOW_OK) return ret;
  if (st.frames.empty()) {
    st.first_pts = st.next_pts;
    st.first_offset = st.next_offset;
  }
  return gst_bpe_motif_flush_segment(self, /*keep_empty=*/true);  // an empty line stays an empty line
}

static GstFlowReturn gst_bpe_motif_chain_text(GstBpeMotif* self, GstBuffer* buffer, const GstMapInfo& map) {
  MotifState& st = *self->state;
  if (!GST_CLOCK_TIME_IS_VALID(st.next_pts)) st.next_pts = GST_BUFFER_PTS_IS_VALID(buffer) ? GST_BUFFER_PTS(buffer) : 0;
  st.text_tail.append(reinterpret_cast<const char*>(map.data), map.size);
  GstFlowReturn ret = GST_FLOW_OK;
  size_t start = 0;
  for (size_t nl; ret == GST_FLOW_OK && (nl = st.text_tail.find('\n', start)) != std::string::npos; start = nl + 1) {
    ret = gst_bpe_motif_text_line(self, st.text_tail.substr(start, nl - start));
  }
  st.text_tail.erase(0, start);
  return ret;
}

static GstFlowReturn gst_bpe_motif_chain(GstPad*, GstObject* parent, GstBuffer* buffer) {
  GstBpeMotif* self = GST_BPE_MOTIF(parent);
  if (!self->model || !self->state) {
    gst_buffer_unref(buffer);
    GST_ELEMENT_ERROR(self, CORE, STATE_CHANGE, ("no model loaded"), (nullptr));
    return GST_FLOW_ERROR;
  }
  GstMapInfo map;
  if (!gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    gst_buffer_unref(buffer);
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("could not map input buffer"), (nullptr));
    return GST_FLOW_ERROR;
  }
  const GstFlowReturn ret =
      self->text_in ? gst_bpe_motif_chain_text(self, buffer, map) : gst_bpe_motif_chain_units(self, buffer, map);
  gst_buffer_unmap(buffer, &map);
  gst_buffer_unref(buffer);
  return ret;
}

// Ends the open segment: pending units and, for text, an unterminated last line.
static GstFlowReturn gst_bpe_motif_drain(GstBpeMotif* self) {
  if (!self->state || !self->model) return GST_FLOW_OK;
  MotifState& st = *self->state;
  if (self->text_in && !st.text_tail.empty()) {
    const std::string last = st.text_tail;
    st.text_tail.clear();
    if (last.find_first_not_of(" \t\r") != std::string::npos) return gst_bpe_motif_text_line(self, last);
  }
  return gst_bpe_motif_flush_segment(self);
}

static gboolean gst_bpe_motif_sink_event(GstPad* pad, GstObject* parent, GstEvent* event) {
  GstBpeMotif* self = GST_BPE_MOTIF(parent);
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_CAPS: {
      GstCaps* caps;
      gst_event_parse_caps(event, &caps);
      self->text_in = gst_structure_has_name(gst_caps_get_structure(caps, 0), "text/x-raw");
      gst_event_unref(event);
      return self->model ? gst_bpe_motif_negotiate(self) : FALSE;
    }
    case GST_EVENT_SEGMENT: {
      // Text input often comes in BYTES; our buffers are on a time line.
      const GstSegment* seg;
      gst_event_parse_segment(event, &seg);
      if (seg->format != GST_FORMAT_TIME) {
        GstSegment time_segment;
        gst_segment_init(&time_segment, GST_FORMAT_TIME);
        const guint32 seqnum = gst_event_get_seqnum(event);
        gst_event_unref(event);
        event = gst_event_new_segment(&time_segment);
        gst_event_set_seqnum(event, seqnum);
      }
      break;
    }
    case GST_EVENT_GAP:
      gst_bpe_motif_drain(self);
      break;
    case GST_EVENT_EOS:
      gst_bpe_motif_drain(self);
      break;
    case GST_EVENT_FLUSH_STOP:
      if (self->state) gst_bpe_motif_reset(self);
      break;
    case GST_EVENT_CUSTOM_DOWNSTREAM:
      // The motifs of a segment go out before the event that closes it.
      if (acoustok::gst::is_segment_event(event)) gst_bpe_motif_drain(self);
      break;
    default:
      break;
  }
  return gst_pad_event_default(pad, parent, event);
}

static gboolean gst_bpe_motif_src_query(GstPad* pad, GstObject* parent, GstQuery* query) {
  GstBpeMotif* self = GST_BPE_MOTIF(parent);
  switch (GST_QUERY_TYPE(query)) {
    case GST_QUERY_CAPS: {
      GstCaps* filter;
      gst_query_parse_caps(query, &filter);
      GstCaps* caps = gst_pad_get_current_caps(pad);
      if (!caps) caps = gst_bpe_motif_src_caps(self);
      if (filter) {
        GstCaps* both = gst_caps_intersect_full(filter, caps, GST_CAPS_INTERSECT_FIRST);
        gst_caps_unref(caps);
        caps = both;
      }
      gst_query_set_caps_result(query, caps);
      gst_caps_unref(caps);
      return TRUE;
    }
    case GST_QUERY_LATENCY: {
      if (!gst_pad_peer_query(self->sinkpad, query)) return FALSE;
      gboolean live;
      GstClockTime min, max;
      gst_query_parse_latency(query, &live, &min, &max);
      // A segment's motifs leave once it ends: at most a window later.
      GST_OBJECT_LOCK(self);
      const GstClockTime ours = self->max_window_time;
      GST_OBJECT_UNLOCK(self);
      if (ours > 0) {
        min += ours;
        if (GST_CLOCK_TIME_IS_VALID(max)) max += ours;
      } else {
        max = GST_CLOCK_TIME_NONE;
      }
      gst_query_set_latency(query, live, min, max);
      return TRUE;
    }
    default:
      return gst_pad_query_default(pad, parent, query);
  }
}

static GstStateChangeReturn gst_bpe_motif_change_state(GstElement* element, GstStateChange transition) {
  GstBpeMotif* self = GST_BPE_MOTIF(element);
  switch (transition) {
    case GST_STATE_CHANGE_NULL_TO_READY:
      if (!gst_bpe_motif_load_model(self)) return GST_STATE_CHANGE_FAILURE;
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      GST_OBJECT_LOCK(self);
      // A window holds at least one frame.
      self->window_frames = self->max_window_time ? MAX(self->max_window_time / kFrameDuration, 1) : 0;
      GST_OBJECT_UNLOCK(self);
      self->src_caps_set = false;
      self->text_in = false;
      gst_bpe_motif_reset(self);
      break;
    default:
      break;
  }
  const GstStateChangeReturn ret = GST_ELEMENT_CLASS(gst_bpe_motif_parent_class)->change_state(element, transition);
  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      delete self->state;
      self->state = nullptr;
      break;
    case GST_STATE_CHANGE_READY_TO_NULL:
      delete self->model;
      self->model = nullptr;
      break;
    default:
      break;
  }
  return ret;
}
