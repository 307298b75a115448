/**
 * SECTION:element-silencesplit
 * @title: silencesplit
 *
 * Cuts speech at pauses, streaming: the segments are those of pydub's
 * detect_nonsilent() (threshold -40 dBFS, pauses of 0.5 s) padded by
 * #GstSilenceSplit:keep-silence-time, exactly as `acoustok segment` cuts a file.
 * After the audio of each segment it sends a serialized custom downstream event
 * `acoustok-segment` (index, start, stop) and posts an element message
 * `silencesplit` (index, start, stop, running-time) on the bus. Buffers keep
 * the timestamps of the source; with #GstSilenceSplit:drop-silence (default)
 * the silence outside the kept padding is not passed on.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m filesrc location=talk.mp3 ! decodebin ! audioconvert ! audioresample ! \
 *     silencesplit keep-silence-time=100000000 ! fakesink
 * ]|
 */
#include <gst/audio/audio.h>
#include <gst/gst.h>

#include <memory>
#include <vector>

#include "acoustok/silence.hpp"
#include "common.hpp"

GST_DEBUG_CATEGORY_STATIC(silence_split_debug);
#define GST_CAT_DEFAULT silence_split_debug

#define DEFAULT_THRESHOLD_DB -40.0
#define DEFAULT_MIN_SILENCE_TIME (500 * GST_MSECOND)
#define DEFAULT_KEEP_SILENCE_TIME (100 * GST_MSECOND)
#define DEFAULT_MIN_SEGMENT_TIME 0
#define DEFAULT_MAX_SEGMENT_TIME 0
#define DEFAULT_DROP_SILENCE TRUE

enum {
  PROP_0,
  PROP_THRESHOLD_DB,
  PROP_MIN_SILENCE_TIME,
  PROP_KEEP_SILENCE_TIME,
  PROP_MIN_SEGMENT_TIME,
  PROP_MAX_SEGMENT_TIME,
  PROP_DROP_SILENCE,
};

namespace {

constexpr int kRate = 16000;

// Streaming state, made on READY->PAUSED and dropped on PAUSED->READY.
struct SplitState {
  explicit SplitState(const acoustok::SilenceOptions& o, bool drop) : splitter(o), drop_silence(drop) {}
  acoustok::SilenceSplitter splitter;
  bool drop_silence;
  std::vector<float> audio;   // samples [audio_start, audio_start + audio.size())
  int64_t audio_start = 0;
  int64_t done_until = 0;     // samples before this were pushed or dropped
  GstClockTime base_pts = GST_CLOCK_TIME_NONE;  // source time of sample 0
};

}  // namespace

struct GstSilenceSplit {
  GstElement parent;
  GstPad* sinkpad;
  GstPad* srcpad;

  // Properties, guarded by the object lock.
  gdouble threshold_db;
  GstClockTime min_silence_time;
  GstClockTime keep_silence_time;
  GstClockTime min_segment_time;
  GstClockTime max_segment_time;
  gboolean drop_silence;

  // Streaming thread only.
  SplitState* state;
  GstSegment segment;
};

struct GstSilenceSplitClass {
  GstElementClass parent_class;
};

#define GST_TYPE_SILENCE_SPLIT (gst_silence_split_get_type())
#define GST_SILENCE_SPLIT(obj) (reinterpret_cast<GstSilenceSplit*>(obj))
GType gst_silence_split_get_type(void);
G_DEFINE_TYPE(GstSilenceSplit, gst_silence_split, GST_TYPE_ELEMENT)
GST_ELEMENT_REGISTER_DEFINE(silencesplit, "silencesplit", GST_RANK_NONE, GST_TYPE_SILENCE_SPLIT)

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_AUDIO_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_AUDIO_CAPS));

static void gst_silence_split_set_property(GObject* object, guint prop_id, const GValue* value, GParamSpec* pspec);
static void gst_silence_split_get_property(GObject* object, guint prop_id, GValue* value, GParamSpec* pspec);
static void gst_silence_split_finalize(GObject* object);
static GstStateChangeReturn gst_silence_split_change_state(GstElement* element, GstStateChange transition);
static GstFlowReturn gst_silence_split_chain(GstPad* pad, GstObject* parent, GstBuffer* buffer);
static gboolean gst_silence_split_sink_event(GstPad* pad, GstObject* parent, GstEvent* event);
static gboolean gst_silence_split_src_query(GstPad* pad, GstObject* parent, GstQuery* query);

static void gst_silence_split_class_init(GstSilenceSplitClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);

  gobject_class->set_property = gst_silence_split_set_property;
  gobject_class->get_property = gst_silence_split_get_property;
  gobject_class->finalize = gst_silence_split_finalize;

  const auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  g_object_class_install_property(
      gobject_class, PROP_THRESHOLD_DB,
      g_param_spec_double("threshold-db", "Threshold (dBFS)",
                          "A window whose RMS is at or below this level is silent", -120.0, 0.0,
                          DEFAULT_THRESHOLD_DB, flags));
  g_object_class_install_property(
      gobject_class, PROP_MIN_SILENCE_TIME,
      g_param_spec_uint64("min-silence-time", "Minimum silence (ns)",
                          "Shortest pause that ends a segment; also the analysis window", GST_MSECOND,
                          600 * GST_SECOND, DEFAULT_MIN_SILENCE_TIME, flags));
  g_object_class_install_property(
      gobject_class, PROP_KEEP_SILENCE_TIME,
      g_param_spec_uint64("keep-silence-time", "Kept silence (ns)",
                          "Silence kept before and after each segment (split at the midpoint when they overlap)", 0,
                          600 * GST_SECOND, DEFAULT_KEEP_SILENCE_TIME, flags));
  g_object_class_install_property(
      gobject_class, PROP_MIN_SEGMENT_TIME,
      g_param_spec_uint64("min-segment-time", "Minimum segment (ns)",
                          "Segments shorter than this merge into a neighbour (0 = off; holds one segment back)", 0,
                          3600 * GST_SECOND, DEFAULT_MIN_SEGMENT_TIME, flags));
  g_object_class_install_property(
      gobject_class, PROP_MAX_SEGMENT_TIME,
      g_param_spec_uint64("max-segment-time", "Maximum segment (ns)",
                          "Longer speech is split at its quietest point so segments stay bounded (0 = off)", 0,
                          3600 * GST_SECOND, DEFAULT_MAX_SEGMENT_TIME, flags));
  g_object_class_install_property(
      gobject_class, PROP_DROP_SILENCE,
      g_param_spec_boolean("drop-silence", "Drop silence",
                           "Do not pass on the silence outside the kept padding", DEFAULT_DROP_SILENCE, flags));

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(
      element_class, "Silence splitter", "Filter/Analyzer/Audio",
      "Cuts speech into segments at pauses (pydub-exact), marking each with an acoustok-segment event. "
      "Example: gst-launch-1.0 -m filesrc location=talk.mp3 ! decodebin ! audioconvert ! audioresample ! "
      "silencesplit ! fakesink",
      "acoustok developers");
  element_class->change_state = GST_DEBUG_FUNCPTR(gst_silence_split_change_state);

  GST_DEBUG_CATEGORY_INIT(silence_split_debug, "silencesplit", 0, "acoustok silence splitter");
}

static void gst_silence_split_init(GstSilenceSplit* self) {
  self->sinkpad = gst_pad_new_from_static_template(&sink_template, "sink");
  gst_pad_set_chain_function(self->sinkpad, GST_DEBUG_FUNCPTR(gst_silence_split_chain));
  gst_pad_set_event_function(self->sinkpad, GST_DEBUG_FUNCPTR(gst_silence_split_sink_event));
  GST_PAD_SET_PROXY_CAPS(self->sinkpad);
  gst_element_add_pad(GST_ELEMENT(self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template(&src_template, "src");
  gst_pad_set_query_function(self->srcpad, GST_DEBUG_FUNCPTR(gst_silence_split_src_query));
  GST_PAD_SET_PROXY_CAPS(self->srcpad);
  gst_element_add_pad(GST_ELEMENT(self), self->srcpad);

  self->threshold_db = DEFAULT_THRESHOLD_DB;
  self->min_silence_time = DEFAULT_MIN_SILENCE_TIME;
  self->keep_silence_time = DEFAULT_KEEP_SILENCE_TIME;
  self->min_segment_time = DEFAULT_MIN_SEGMENT_TIME;
  self->max_segment_time = DEFAULT_MAX_SEGMENT_TIME;
  self->drop_silence = DEFAULT_DROP_SILENCE;
  self->state = nullptr;
  gst_segment_init(&self->segment, GST_FORMAT_TIME);
}

static void gst_silence_split_finalize(GObject* object) {
  GstSilenceSplit* self = GST_SILENCE_SPLIT(object);
  delete self->state;
  self->state = nullptr;
  G_OBJECT_CLASS(gst_silence_split_parent_class)->finalize(object);
}

static void gst_silence_split_set_property(GObject* object, guint prop_id, const GValue* value, GParamSpec* pspec) {
  GstSilenceSplit* self = GST_SILENCE_SPLIT(object);
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
    case PROP_THRESHOLD_DB: self->threshold_db = g_value_get_double(value); break;
    case PROP_MIN_SILENCE_TIME: self->min_silence_time = g_value_get_uint64(value); break;
    case PROP_KEEP_SILENCE_TIME: self->keep_silence_time = g_value_get_uint64(value); break;
    case PROP_MIN_SEGMENT_TIME: self->min_segment_time = g_value_get_uint64(value); break;
    case PROP_MAX_SEGMENT_TIME: self->max_segment_time = g_value_get_uint64(value); break;
    case PROP_DROP_SILENCE: self->drop_silence = g_value_get_boolean(value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK(self);
}

static void gst_silence_split_get_property(GObject* object, guint prop_id, GValue* value, GParamSpec* pspec) {
  GstSilenceSplit* self = GST_SILENCE_SPLIT(object);
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
    case PROP_THRESHOLD_DB: g_value_set_double(value, self->threshold_db); break;
    case PROP_MIN_SILENCE_TIME: g_value_set_uint64(value, self->min_silence_time); break;
    case PROP_KEEP_SILENCE_TIME: g_value_set_uint64(value, self->keep_silence_time); break;
    case PROP_MIN_SEGMENT_TIME: g_value_set_uint64(value, self->min_segment_time); break;
    case PROP_MAX_SEGMENT_TIME: g_value_set_uint64(value, self->max_segment_time); break;
    case PROP_DROP_SILENCE: g_value_set_boolean(value, self->drop_silence); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK(self);
}

// Makes fresh streaming state from the current properties.
static bool gst_silence_split_start(GstSilenceSplit* self) {
  acoustok::SilenceOptions o;
  GST_OBJECT_LOCK(self);
  o.threshold_db = self->threshold_db;
  o.min_silence = static_cast<double>(self->min_silence_time) / GST_SECOND;
  o.keep_silence = static_cast<double>(self->keep_silence_time) / GST_SECOND;
  o.min_segment = static_cast<double>(self->min_segment_time) / GST_SECOND;
  o.max_segment = static_cast<double>(self->max_segment_time) / GST_SECOND;
  const bool drop = self->drop_silence;
  GST_OBJECT_UNLOCK(self);
  return acoustok::gst::guarded(GST_ELEMENT(self), false, [&] {
    auto fresh = std::make_unique<SplitState>(o, drop);
    delete self->state;
    self->state = fresh.release();
  });
}

static GstClockTime sample_time(const SplitState& st, int64_t sample) {
  const GstClockTime base = GST_CLOCK_TIME_IS_VALID(st.base_pts) ? st.base_pts : 0;
  return base + gst_util_uint64_scale_int(static_cast<guint64>(sample), GST_SECOND, kRate);
}

// Pushes samples [from, to) of the held audio as one buffer.
static GstFlowReturn push_range(GstSilenceSplit* self, int64_t from, int64_t to) {
  SplitState& st = *self->state;
  if (to <= from) return GST_FLOW_OK;
  const size_t count = static_cast<size_t>(to - from);
  GstBuffer* out = gst_buffer_new_allocate(nullptr, count * sizeof(float), nullptr);
  gst_buffer_fill(out, 0, st.audio.data() + (from - st.audio_start), count * sizeof(float));
  GST_BUFFER_PTS(out) = sample_time(st, from);
  GST_BUFFER_DURATION(out) = sample_time(st, to) - GST_BUFFER_PTS(out);
  GST_BUFFER_OFFSET(out) = static_cast<guint64>(from);
  GST_BUFFER_OFFSET_END(out) = static_cast<guint64>(to);
  return gst_pad_push(self->srcpad, out);
}

// Brings the output up to `until`: samples inside a segment are pushed,
// others only when drop-silence is off.
static GstFlowReturn advance(GstSilenceSplit* self, int64_t until, bool inside_segment) {
  SplitState& st = *self->state;
  if (until <= st.done_until) return GST_FLOW_OK;
  GstFlowReturn ret = GST_FLOW_OK;
  if (inside_segment || !st.drop_silence) ret = push_range(self, st.done_until, until);
  st.done_until = until;
  return ret;
}

static void announce_segment(GstSilenceSplit* self, const acoustok::Segment& seg) {
  SplitState& st = *self->state;
  const GstClockTime start = sample_time(st, seg.start), stop = sample_time(st, seg.end);
  gst_pad_push_event(self->srcpad, acoustok::gst::make_segment_event(static_cast<guint64>(seg.index), start, stop));
  const GstClockTime running = gst_segment_to_running_time(&self->segment, GST_FORMAT_TIME, stop);
  GstStructure* s = gst_structure_new("silencesplit", "index", G_TYPE_UINT64, static_cast<guint64>(seg.index),
                                      "start", G_TYPE_UINT64, start, "stop", G_TYPE_UINT64, stop, "running-time",
                                      G_TYPE_UINT64, running, nullptr);
  gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), s));
}

// Passes on everything the splitter has decided, then forgets that audio.
static GstFlowReturn drain_decided(GstSilenceSplit* self) {
  SplitState& st = *self->state;
  GstFlowReturn ret = GST_FLOW_OK;
  for (const auto& seg : st.splitter.take_segments()) {
    if (ret == GST_FLOW_OK) ret = advance(self, seg.start, false);
    if (ret == GST_FLOW_OK) ret = advance(self, seg.end, true);
    announce_segment(self, seg);
  }
  if (ret != GST_FLOW_OK) return ret;
  if (auto open = st.splitter.open_segment()) {
    ret = advance(self, open->start, false);
    if (ret == GST_FLOW_OK) ret = advance(self, open->certain_end, true);
  } else {
    ret = advance(self, st.splitter.keep_from(), false);
  }
  const int64_t forget = std::min(st.done_until, st.audio_start + static_cast<int64_t>(st.audio.size()));
  if (forget > st.audio_start) {
    st.audio.erase(st.audio.begin(), st.audio.begin() + (forget - st.audio_start));
    st.audio_start = forget;
  }
  return ret;
}

static GstFlowReturn gst_silence_split_chain(GstPad*, GstObject* parent, GstBuffer* buffer) {
  GstSilenceSplit* self = GST_SILENCE_SPLIT(parent);
  if (!self->state && !gst_silence_split_start(self)) {
    gst_buffer_unref(buffer);
    return GST_FLOW_ERROR;
  }
  SplitState& st = *self->state;
  if (!GST_CLOCK_TIME_IS_VALID(st.base_pts)) {
    st.base_pts = GST_BUFFER_PTS_IS_VALID(buffer) ? GST_BUFFER_PTS(buffer) : self->segment.start;
  }
  GstMapInfo map;
  if (!gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    gst_buffer_unref(buffer);
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("could not map input buffer"), (nullptr));
    return GST_FLOW_ERROR;
  }
  const auto* samples = reinterpret_cast<const float*>(map.data);
  const size_t count = map.size / sizeof(float);
  GstFlowReturn ret = GST_FLOW_ERROR;
  acoustok::gst::guarded(GST_ELEMENT(self), false, [&] {
    st.splitter.push(samples, count);
    st.audio.insert(st.audio.end(), samples, samples + count);
    ret = drain_decided(self);
  });
  gst_buffer_unmap(buffer, &map);
  gst_buffer_unref(buffer);
  return ret;
}

static gboolean gst_silence_split_sink_event(GstPad* pad, GstObject* parent, GstEvent* event) {
  GstSilenceSplit* self = GST_SILENCE_SPLIT(parent);
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_SEGMENT:
      gst_event_copy_segment(event, &self->segment);
      break;
    case GST_EVENT_EOS:
      // The last segment ends with the input.
      if (self->state) {
        acoustok::gst::guarded(GST_ELEMENT(self), false, [&] {
          self->state->splitter.finish();
          drain_decided(self);
        });
      }
      break;
    case GST_EVENT_FLUSH_STOP:
      gst_segment_init(&self->segment, GST_FORMAT_TIME);
      gst_silence_split_start(self);
      break;
    default:
      break;
  }
  return gst_pad_event_default(pad, parent, event);
}

static gboolean gst_silence_split_src_query(GstPad* pad, GstObject* parent, GstQuery* query) {
  GstSilenceSplit* self = GST_SILENCE_SPLIT(parent);
  if (GST_QUERY_TYPE(query) != GST_QUERY_LATENCY) return gst_pad_query_default(pad, parent, query);
  if (!gst_pad_peer_query(self->sinkpad, query)) return FALSE;
  gboolean live;
  GstClockTime min, max;
  gst_query_parse_latency(query, &live, &min, &max);
  // A boundary is known only once a whole pause (plus the padding after
  // it) has been heard: that much audio is held back.
  GST_OBJECT_LOCK(self);
  GstClockTime ours = self->min_silence_time + self->keep_silence_time + GST_MSECOND;
  if (self->min_segment_time > 0) ours += MAX(self->max_segment_time, self->min_segment_time);
  GST_OBJECT_UNLOCK(self);
  min += ours;
  if (GST_CLOCK_TIME_IS_VALID(max)) max += ours;
  GST_DEBUG_OBJECT(self, "latency: ours %" GST_TIME_FORMAT ", total min %" GST_TIME_FORMAT, GST_TIME_ARGS(ours),
                   GST_TIME_ARGS(min));
  gst_query_set_latency(query, live, min, max);
  return TRUE;
}

static GstStateChangeReturn gst_silence_split_change_state(GstElement* element, GstStateChange transition) {
  GstSilenceSplit* self = GST_SILENCE_SPLIT(element);
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    gst_segment_init(&self->segment, GST_FORMAT_TIME);
    if (!gst_silence_split_start(self)) return GST_STATE_CHANGE_FAILURE;
  }
  GstStateChangeReturn ret = GST_ELEMENT_CLASS(gst_silence_split_parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
    delete self->state;
    self->state = nullptr;
  }
  return ret;
}
