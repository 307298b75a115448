// SPDX-License-Identifier: MIT
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
 * the silence outside the kept padding is not passed on. A break in the input
 * (a GAP event, a DISCONT buffer, a PTS jump of more than 40 ms) ends
 * the segment open there with its last sample, and the audio after it is
 * split afresh from its own PTS; no buffer spans a break, and DURATION is
 * always that of the samples carried.
 *
 * Input: F32LE audio at any rate from 1 kHz to 768 kHz, any channel count,
 * made 16 kHz mono exactly as `acoustok segment` reads a file (channels
 * averaged, then soxr's HQ resampler over the whole stream, drained at a
 * break and at EOS): the same samples, so the same segments, and no
 * audioresample is needed. Output: 16 kHz mono F32LE.
 *
 * By default audio leaves once it is certain to belong to a segment, which
 * waits for the pause decision (about min-silence-time). With
 * #GstSilenceSplit:low-latency, for live chains, speech leaves
 * within keep-silence-time + 1 ms of its arrival, while the pause that ends its
 * segment is still being decided: the segments and their events are the
 * same, but an event then follows some audio after its `stop` (the beginning
 * of the pause), and audio that turned out to be silence (that pause
 * beginning, a noise too short to start a segment) went out too.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m filesrc location=talk.mp3 ! decodebin ! audioconvert ! \
 *     silencesplit keep-silence-time=100000000 ! fakesink
 * gst-launch-1.0 autoaudiosrc ! audioconvert ! \
 *     silencesplit low-latency=true max-segment-time=3000000000 ! fakesink
 * ]|
 */
#include "config.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>

#include "acoustok/silence.hpp"
#include "gstacoustokelement.hpp"

GST_DEBUG_CATEGORY_STATIC(silence_split_debug);
#define GST_CAT_DEFAULT silence_split_debug

#define DEFAULT_THRESHOLD_DB -40.0
#define DEFAULT_MIN_SILENCE_TIME (500 * GST_MSECOND)
#define DEFAULT_KEEP_SILENCE_TIME (100 * GST_MSECOND)
#define DEFAULT_MIN_SEGMENT_TIME 0
#define DEFAULT_MAX_SEGMENT_TIME 0
#define DEFAULT_DROP_SILENCE TRUE
#define DEFAULT_LOW_LATENCY FALSE

enum {
  PROP_0,
  PROP_THRESHOLD_DB,
  PROP_MIN_SILENCE_TIME,
  PROP_KEEP_SILENCE_TIME,
  PROP_MIN_SEGMENT_TIME,
  PROP_MAX_SEGMENT_TIME,
  PROP_DROP_SILENCE,
  PROP_LOW_LATENCY,
};

namespace {

// Streaming state, made on READY->PAUSED and after a flush. The audio not yet
// passed on or dropped waits in the base's adapter: its first sample is the
// base's head index.
struct SplitState {
  SplitState(const acoustok::SilenceOptions& o, bool drop, int64_t at)
      : splitter(o), drop_silence(drop), origin(at) {}
  acoustok::SilenceSplitter splitter;
  bool drop_silence;
  // A break in the input ends the splitter's stream and a fresh one starts
  // after it: `origin` is the input index of its sample 0, `first_index` the
  // index its first segment gets; `announced` counts the segments sent.
  int64_t origin;
  int64_t first_index = 0;
  int64_t announced = 0;
  // Start of the segment being passed on (input index) and its time, taken
  // while its first sample was still in the adapter.
  std::optional<std::pair<int64_t, GstClockTime>> started;
  // Low latency: a segment's bounds are known after its samples left the
  // adapter (and the base's timeline), so the times of the input buffers
  // (first input index, its time) are kept until no bound can fall there.
  std::deque<std::pair<int64_t, GstClockTime>> anchors;
};

}  // namespace

struct GstSilenceSplit {
  GstAcoustokElement parent;

  // Properties, guarded by the object lock.
  gdouble threshold_db;
  GstClockTime min_silence_time;
  GstClockTime keep_silence_time;
  GstClockTime min_segment_time;
  GstClockTime max_segment_time;
  gboolean drop_silence;
  gboolean low_latency;

  SplitState* state;  // streaming thread only
};

struct GstSilenceSplitClass {
  GstAcoustokElementClass parent_class;
};

#define GST_TYPE_SILENCE_SPLIT (gst_silence_split_get_type())
#define GST_SILENCE_SPLIT(obj) (G_TYPE_CHECK_INSTANCE_CAST((obj), GST_TYPE_SILENCE_SPLIT, GstSilenceSplit))
GType gst_silence_split_get_type(void);
G_DEFINE_TYPE(GstSilenceSplit, gst_silence_split, GST_TYPE_ACOUSTOK_ELEMENT)
GST_ELEMENT_REGISTER_DEFINE(silencesplit, "silencesplit", GST_RANK_NONE, GST_TYPE_SILENCE_SPLIT)

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_AUDIO_ANY_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_AUDIO_CAPS));

static void gst_silence_split_finalize(GObject* object);
static void gst_silence_split_load(GstAcoustokElement* base);
static void gst_silence_split_start(GstAcoustokElement* base);
static void gst_silence_split_stop(GstAcoustokElement* base);
static void gst_silence_split_set_caps(GstAcoustokElement* base, const GstStructure* caps);
static GstFlowReturn gst_silence_split_handle_input(GstAcoustokElement* base, const guint8* data, gsize size);
static GstFlowReturn gst_silence_split_finish_segment(GstAcoustokElement* base, GstAcoustokSegmentEnd reason);
static void gst_silence_split_latency(GstAcoustokElement* base, GstClockTime* ours, gboolean* unbounded);

static void gst_silence_split_class_init(GstSilenceSplitClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstAcoustokElementClass* base_class = GST_ACOUSTOK_ELEMENT_CLASS(klass);

  gobject_class->finalize = GST_DEBUG_FUNCPTR(gst_silence_split_finalize);

  /**
   * GstSilenceSplit:threshold-db:
   *
   * A 0.5 s window (min-silence-time) whose RMS, in dBFS of 16-bit samples, is at or
   * below this level is silent; as pydub's `silence_thresh`.
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_THRESHOLD_DB, GstSilenceSplit, threshold_db,
      g_param_spec_double("threshold-db", "Threshold (dBFS)",
                          "A window whose RMS is at or below this level is silent", -120.0, 0.0,
                          DEFAULT_THRESHOLD_DB, GST_ACOUSTOK_PARAM_FLAGS));
  /**
   * GstSilenceSplit:min-silence-time:
   *
   * Shortest pause that ends a segment, in nanoseconds; also the length of the
   * analysis window (pydub's `min_silence_len`). Applies at READY->PAUSED.
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_MIN_SILENCE_TIME, GstSilenceSplit, min_silence_time,
      g_param_spec_uint64("min-silence-time", "Minimum silence (ns)",
                          "Shortest pause that ends a segment, in ns; also the analysis window", GST_MSECOND,
                          600 * GST_SECOND, DEFAULT_MIN_SILENCE_TIME, GST_ACOUSTOK_PARAM_FLAGS));
  /**
   * GstSilenceSplit:keep-silence-time:
   *
   * Silence kept before and after each segment, in nanoseconds (pydub's
   * `keep_silence`); when two paddings would overlap they meet at the midpoint.
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_KEEP_SILENCE_TIME, GstSilenceSplit, keep_silence_time,
      g_param_spec_uint64(
          "keep-silence-time", "Kept silence (ns)",
          "Silence kept before and after each segment, in ns (split at the midpoint when they overlap)", 0,
          600 * GST_SECOND, DEFAULT_KEEP_SILENCE_TIME, GST_ACOUSTOK_PARAM_FLAGS));
  /**
   * GstSilenceSplit:min-segment-time:
   *
   * Segments shorter than this, in nanoseconds, merge into a neighbour; 0 turns
   * it off. Holds one segment back, which adds to the latency.
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_MIN_SEGMENT_TIME, GstSilenceSplit, min_segment_time,
      g_param_spec_uint64(
          "min-segment-time", "Minimum segment (ns)",
          "Segments shorter than this, in ns, merge into a neighbour (0 = off; holds one segment back)", 0,
          3600 * GST_SECOND, DEFAULT_MIN_SEGMENT_TIME, GST_ACOUSTOK_PARAM_FLAGS));
  /**
   * GstSilenceSplit:max-segment-time:
   *
   * Longer speech is split at its quietest 20 ms, in nanoseconds; 0 turns it
   * off. Bounds the segments the following elements hold.
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_MAX_SEGMENT_TIME, GstSilenceSplit, max_segment_time,
      g_param_spec_uint64(
          "max-segment-time", "Maximum segment (ns)",
          "Longer speech, in ns, is split at its quietest point so segments stay bounded (0 = off)", 0,
          3600 * GST_SECOND, DEFAULT_MAX_SEGMENT_TIME, GST_ACOUSTOK_PARAM_FLAGS));
  /**
   * GstSilenceSplit:drop-silence:
   *
   * When TRUE, the silence outside the kept padding is not passed on; when
   * FALSE every sample is passed on and only the events mark the segments.
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_DROP_SILENCE, GstSilenceSplit, drop_silence,
      g_param_spec_boolean("drop-silence", "Drop silence",
                           "Do not pass on the silence outside the kept padding", DEFAULT_DROP_SILENCE,
                           GST_ACOUSTOK_PARAM_FLAGS));
  /**
   * GstSilenceSplit:low-latency:
   *
   * For live chains: pass speech on within keep-silence-time + 1 ms of its
   * arrival instead of once the pause that ends its segment is decided
   * (about min-silence-time later). The segments are the same; each event
   * follows its segment's audio and the beginning of the pause after it,
   * and a noise in a pause that never becomes a segment is passed on too.
   * min-segment-time must be 0 (merging needs the segment after it) and
   * max-segment-time 0 or longer than min-silence-time, else NULL->READY
   * fails; long speech is cut exactly at max-segment-time (the quietest
   * point would lie in audio already passed on).
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_LOW_LATENCY, GstSilenceSplit, low_latency,
      g_param_spec_boolean(
          "low-latency", "Low latency",
          "Pass speech on before the pause ending its segment is decided (live chains; events follow "
          "later, max-segment-time cuts at the limit, min-segment-time must be 0)",
          DEFAULT_LOW_LATENCY, GST_ACOUSTOK_PARAM_FLAGS));

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(
      element_class, "Silence splitter", "Filter/Analyzer/Audio",
      "Cuts speech into segments at pauses, marking each with an acoustok-segment event",
      "acoustok developers");

  base_class->load = GST_DEBUG_FUNCPTR(gst_silence_split_load);
  base_class->start = GST_DEBUG_FUNCPTR(gst_silence_split_start);
  base_class->stop = GST_DEBUG_FUNCPTR(gst_silence_split_stop);
  base_class->set_caps = GST_DEBUG_FUNCPTR(gst_silence_split_set_caps);
  base_class->handle_input = GST_DEBUG_FUNCPTR(gst_silence_split_handle_input);
  base_class->finish_segment = GST_DEBUG_FUNCPTR(gst_silence_split_finish_segment);
  base_class->latency = GST_DEBUG_FUNCPTR(gst_silence_split_latency);

  GST_DEBUG_CATEGORY_INIT(silence_split_debug, "silencesplit", 0, "acoustok silence splitter");
}

static void gst_silence_split_init(GstSilenceSplit* self) { self->state = nullptr; }

static void gst_silence_split_finalize(GObject* object) {
  GstSilenceSplit* self = GST_SILENCE_SPLIT(object);
  delete self->state;
  G_OBJECT_CLASS(gst_silence_split_parent_class)->finalize(object);
}

// The core's options from the properties; the object lock is held.
static acoustok::SilenceOptions options_locked(GstSilenceSplit* self) {
  acoustok::SilenceOptions o;
  o.threshold_db = self->threshold_db;
  o.min_silence = static_cast<double>(self->min_silence_time) / GST_SECOND;
  o.keep_silence = static_cast<double>(self->keep_silence_time) / GST_SECOND;
  o.min_segment = static_cast<double>(self->min_segment_time) / GST_SECOND;
  o.max_segment = static_cast<double>(self->max_segment_time) / GST_SECOND;
  o.low_latency = self->low_latency;
  return o;
}

// No model: NULL->READY checks the settings, so one that cannot work fails
// the state change naming its rule (READY->PAUSED checks again, as the
// properties may change in READY).
static void gst_silence_split_load(GstAcoustokElement* base) {
  GstSilenceSplit* self = GST_SILENCE_SPLIT(base);
  GST_OBJECT_LOCK(self);
  const acoustok::SilenceOptions o = options_locked(self);
  GST_OBJECT_UNLOCK(self);
  o.validate();
}

// Fresh streaming state from the current properties.
static void gst_silence_split_start(GstAcoustokElement* base) {
  GstSilenceSplit* self = GST_SILENCE_SPLIT(base);
  GST_OBJECT_LOCK(self);
  const acoustok::SilenceOptions o = options_locked(self);
  const bool drop = self->drop_silence;
  GST_OBJECT_UNLOCK(self);
  GST_DEBUG_OBJECT(self, "threshold %.1f dB, min silence %.3f s, keep %.3f s%s%s", o.threshold_db,
                   o.min_silence, o.keep_silence, drop ? ", drop silence" : "",
                   o.low_latency ? ", low latency" : "");
  auto fresh =
      std::make_unique<SplitState>(o, drop, static_cast<int64_t>(gst_acoustok_element_head_index(base)));
  delete self->state;
  self->state = fresh.release();
}

static void gst_silence_split_stop(GstAcoustokElement* base) {
  GstSilenceSplit* self = GST_SILENCE_SPLIT(base);
  delete self->state;
  self->state = nullptr;
}

static void gst_silence_split_set_caps(GstAcoustokElement* base, const GstStructure*) {
  base->item_bytes = sizeof(float);
  base->items_per_second = acoustok::grid::kSampleRate;
}

// Brings the output up to sample `until`: samples inside a segment are
// pushed, others only when drop-silence is off.
static GstFlowReturn advance(GstSilenceSplit* self, int64_t until, bool inside_segment) {
  GstAcoustokElement* base = GST_ACOUSTOK_ELEMENT(self);
  const auto done = static_cast<int64_t>(gst_acoustok_element_head_index(base));
  if (until <= done) return GST_FLOW_OK;
  const auto n = static_cast<guint64>(until - done);
  if (inside_segment || !self->state->drop_silence) {
    return gst_acoustok_element_push(base, gst_acoustok_element_take_buffer(base, n));
  }
  gst_acoustok_element_flush_items(base, n);
  return GST_FLOW_OK;
}

// Time of input sample `index`: the base's timeline while the adapter holds
// it, else (low latency) the input buffer it came in, as the timeline would.
static GstClockTime time_of(GstSilenceSplit* self, int64_t index) {
  GstAcoustokElement* base = GST_ACOUSTOK_ELEMENT(self);
  const auto& anchors = self->state->anchors;
  if (index >= static_cast<int64_t>(gst_acoustok_element_head_index(base)) || anchors.empty() ||
      anchors.front().first > index) {
    return gst_acoustok_element_time_of(base, static_cast<guint64>(index));
  }
  auto it =
      std::upper_bound(anchors.begin(), anchors.end(), index,
                       [](int64_t i, const std::pair<int64_t, GstClockTime>& a) { return i < a.first; });
  --it;
  return it->second + gst_util_uint64_scale_int(static_cast<guint64>(index - it->first), GST_SECOND,
                                                base->items_per_second);
}

// Low latency: drops the input buffers' times that no segment bound still
// to come can need (bounds come at or after `from`).
static void forget_anchors_before(SplitState& st, int64_t from) {
  while (st.anchors.size() > 1 && st.anchors[1].first <= from) st.anchors.pop_front();
}

// Remembers the time of a segment's first sample while it is known.
static void mark_start(GstSilenceSplit* self, int64_t start) {
  SplitState& st = *self->state;
  if (st.started && st.started->first == start) return;
  st.started = std::make_pair(start, time_of(self, start));
}

static void announce_segment(GstSilenceSplit* self, const acoustok::Segment& seg) {
  GstAcoustokElement* base = GST_ACOUSTOK_ELEMENT(self);
  SplitState& st = *self->state;
  const GstClockTime start =
      st.started && st.started->first == seg.start ? st.started->second : time_of(self, seg.start);
  const GstClockTime stop = time_of(self, seg.end);
  st.started.reset();
  GST_DEBUG_OBJECT(self, "segment %" G_GINT64_FORMAT ": %" GST_TIME_FORMAT " - %" GST_TIME_FORMAT,
                   static_cast<gint64>(seg.index), GST_TIME_ARGS(start), GST_TIME_ARGS(stop));
  gst_pad_push_event(base->srcpad,
                     acoustok::gst::make_segment_event(static_cast<guint64>(seg.index), start, stop));
  const GstClockTime running = gst_segment_to_running_time(&base->segment, GST_FORMAT_TIME, stop);
  GstStructure* s = gst_structure_new("silencesplit", "index", G_TYPE_UINT64, static_cast<guint64>(seg.index),
                                      "start", G_TYPE_UINT64, start, "stop", G_TYPE_UINT64, stop,
                                      "running-time", G_TYPE_UINT64, running, nullptr);
  gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), s));
}

// Passes on everything the splitter has decided (its positions are from its
// origin on; the segments are numbered on across breaks).
static GstFlowReturn drain_decided(GstSilenceSplit* self) {
  SplitState& st = *self->state;
  const int64_t o = st.origin;
  GstFlowReturn ret = GST_FLOW_OK;
  for (auto seg : st.splitter.take_segments()) {
    seg.index += st.first_index;
    seg.start += o;
    seg.end += o;
    if (ret == GST_FLOW_OK) ret = advance(self, seg.start, false);
    if (ret == GST_FLOW_OK) mark_start(self, seg.start);
    if (ret == GST_FLOW_OK) ret = advance(self, seg.end, true);
    announce_segment(self, seg);
    st.announced = seg.index + 1;
  }
  if (ret != GST_FLOW_OK) return ret;
  if (auto open = st.splitter.open_segment()) {
    ret = advance(self, o + open->start, false);
    if (ret == GST_FLOW_OK) mark_start(self, o + open->start);
    if (ret == GST_FLOW_OK) ret = advance(self, o + open->certain_end, true);
    return ret;
  }
  return advance(self, o + st.splitter.keep_from(), false);
}

// Low latency: the splitter's releases, in order (what may belong to a
// segment goes out before the segment is decided; each event follows once
// it is). The times of the bounds to come are kept from the input buffers.
static GstFlowReturn drain_released(GstSilenceSplit* self) {
  SplitState& st = *self->state;
  const int64_t o = st.origin;
  GstFlowReturn ret = GST_FLOW_OK;
  for (const auto& r : st.splitter.take_releases()) {
    if (r.kind != acoustok::SilenceSplitter::Release::announce) {
      if (ret == GST_FLOW_OK)
        ret = advance(self, o + r.end, r.kind == acoustok::SilenceSplitter::Release::pass);
      continue;
    }
    auto seg = r.segment;
    seg.index += st.first_index;
    seg.start += o;
    seg.end += o;
    announce_segment(self, seg);
    st.announced = seg.index + 1;
  }
  // A segment under way: its start's time now; later bounds lie after what
  // is certain to be in it.
  if (const auto open = st.splitter.open_segment()) {
    mark_start(self, o + open->start);
    forget_anchors_before(st, o + open->certain_end);
  } else {
    forget_anchors_before(st, o + st.splitter.keep_from());
  }
  return ret;
}

// After a break: the audio before it is done with (what a failed push left is
// dropped), and a fresh splitter starts at the audio after it.
static void restart_after_break(GstSilenceSplit* self) {
  GstAcoustokElement* base = GST_ACOUSTOK_ELEMENT(self);
  SplitState& st = *self->state;
  gst_acoustok_element_flush_items(base, gst_acoustok_element_available(base));
  st.splitter = acoustok::SilenceSplitter(st.splitter.options());
  st.origin = static_cast<int64_t>(gst_acoustok_element_head_index(base));
  st.first_index = st.announced;
  st.started.reset();
  st.anchors.clear();
}

static GstFlowReturn gst_silence_split_handle_input(GstAcoustokElement* base, const guint8* data,
                                                    gsize size) {
  GstSilenceSplit* self = GST_SILENCE_SPLIT(base);
  SplitState& st = *self->state;
  const gsize n = size / sizeof(float);
  if (st.splitter.options().low_latency && n > 0) {
    // The first sample of this buffer carries its time (the base marked it).
    const guint64 first = gst_acoustok_element_head_index(base) + gst_acoustok_element_available(base) - n;
    st.anchors.emplace_back(static_cast<int64_t>(first), gst_acoustok_element_time_of(base, first));
  }
  st.splitter.push(reinterpret_cast<const float*>(data), n);
  return st.splitter.options().low_latency ? drain_released(self) : drain_decided(self);
}

// The last segment ends with the input, and at a break: the segment open
// there ends with the last sample before it (audio on both sides of a gap is
// never one segment), and the audio after it is split afresh.
static GstFlowReturn gst_silence_split_finish_segment(GstAcoustokElement* base,
                                                      GstAcoustokSegmentEnd reason) {
  GstSilenceSplit* self = GST_SILENCE_SPLIT(base);
  if (reason == GST_ACOUSTOK_SEGMENT_EVENT || !self->state) return GST_FLOW_OK;
  self->state->splitter.finish();
  const GstFlowReturn ret =
      self->state->splitter.options().low_latency ? drain_released(self) : drain_decided(self);
  if (reason == GST_ACOUSTOK_DISCONT) restart_after_break(self);
  return ret;
}

// A boundary is known only once a whole pause (plus the padding after it) has
// been heard: that much audio is held back. With low latency only what may
// still turn out to be silence before a segment is held: keep-silence-time
// and the 1 ms analysis block in progress (the same without drop-silence, so
// that the events fall at the same samples).
static void gst_silence_split_latency(GstAcoustokElement* base, GstClockTime* ours, gboolean*) {
  GstSilenceSplit* self = GST_SILENCE_SPLIT(base);
  GST_OBJECT_LOCK(self);
  if (self->low_latency) {
    // The core works in whole milliseconds (keep-silence-time rounded).
    const GstClockTime keep_ms = (self->keep_silence_time + GST_MSECOND / 2) / GST_MSECOND;
    *ours = (keep_ms + 1) * GST_MSECOND;
    GST_OBJECT_UNLOCK(self);
    return;
  }
  *ours = self->min_silence_time + self->keep_silence_time + GST_MSECOND;
  if (self->min_segment_time > 0) *ours += MAX(self->max_segment_time, self->min_segment_time);
  GST_OBJECT_UNLOCK(self);
}
