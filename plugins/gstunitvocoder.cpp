/**
 * SECTION:element-unitvocoder
 * @title: unitvocoder
 *
 * Speaks acoustic units: a unit HiFi-GAN checkpoint (`acoustok vocoder
 * train`) turns each 20 ms unit into exactly 320 samples of 16 kHz audio.
 * Units arrive as `application/x-acoustok-units` (uint16 per frame, as
 * kmeansunits sends them) or as `text/x-raw, format=utf8` lines (one utterance
 * per line, as the command line writes them). Binary units are synthesised in
 * chunks of #GstUnitVocoder:chunk-frames as they arrive, each computed with
 * the generator's whole receptive field of real units on both sides, so the
 * stream equals whole-utterance synthesis (within 1e-5) with no seams; an
 * `acoustok-segment` event or EOS ends an utterance and flushes it. Output
 * buffers carry the timestamps of their units.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=units.txt ! text/x-raw,format=utf8 ! \
 *     unitvocoder model=vocoder_final.pt ! audioconvert ! wavenc ! filesink location=out.wav
 * ]|
 */
#include <gst/gst.h>

#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "acoustok/error.hpp"
#include "acoustok/frame_grid.hpp"
#include "acoustok/vocoder.hpp"
#include "acoustok/vocoder_data.hpp"
#include "common.hpp"

GST_DEBUG_CATEGORY_STATIC(unit_vocoder_debug);
#define GST_CAT_DEFAULT unit_vocoder_debug

#define DEFAULT_MODEL nullptr
#define DEFAULT_CHUNK_FRAMES 25
#define DEFAULT_DEVICE "cpu"

enum {
  PROP_0,
  PROP_MODEL,
  PROP_CHUNK_FRAMES,
  PROP_DEVICE,
};

namespace {

constexpr int kHop = acoustok::grid::kHop;

// Streaming state, made on READY->PAUSED (and at FLUSH_STOP).
struct StreamState {
  StreamState(acoustok::Vocoder& v, int chunk) : stream(v, chunk) {}
  acoustok::StreamingVocoder stream;
  bool text = false;             // text/x-raw lines instead of binary units
  std::string pending_text;      // an incomplete last line
  int64_t frames_in = 0;         // units received (global frame index)
  int64_t frames_out = 0;        // units whose audio went out
  int64_t utterance_start = 0;   // global index of the current utterance's first unit
  // Timestamps of received units: (first frame, PTS) per input buffer.
  std::deque<std::pair<int64_t, GstClockTime>> anchors;
};

}  // namespace

struct GstUnitVocoder {
  GstElement parent;
  GstPad* sinkpad;
  GstPad* srcpad;

  // Properties, guarded by the object lock.
  gchar* model;
  guint chunk_frames;
  gchar* device;

  // Made at NULL->READY, dropped at READY->NULL.
  std::unique_ptr<acoustok::Vocoder>* vocoder;
  // Streaming thread only.
  StreamState* state;
  GstSegment segment;
};

struct GstUnitVocoderClass {
  GstElementClass parent_class;
};

#define GST_TYPE_UNIT_VOCODER (gst_unit_vocoder_get_type())
#define GST_UNIT_VOCODER(obj) (reinterpret_cast<GstUnitVocoder*>(obj))
GType gst_unit_vocoder_get_type(void);
G_DEFINE_TYPE(GstUnitVocoder, gst_unit_vocoder, GST_TYPE_ELEMENT)
GST_ELEMENT_REGISTER_DEFINE(unitvocoder, "unitvocoder", GST_RANK_NONE, GST_TYPE_UNIT_VOCODER)

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_UNITS_CAPS "; " ACOUSTOK_TEXT_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_AUDIO_CAPS));

static void gst_unit_vocoder_set_property(GObject* object, guint prop_id, const GValue* value, GParamSpec* pspec);
static void gst_unit_vocoder_get_property(GObject* object, guint prop_id, GValue* value, GParamSpec* pspec);
static void gst_unit_vocoder_finalize(GObject* object);
static GstStateChangeReturn gst_unit_vocoder_change_state(GstElement* element, GstStateChange transition);
static GstFlowReturn gst_unit_vocoder_chain(GstPad* pad, GstObject* parent, GstBuffer* buffer);
static gboolean gst_unit_vocoder_sink_event(GstPad* pad, GstObject* parent, GstEvent* event);
static gboolean gst_unit_vocoder_src_query(GstPad* pad, GstObject* parent, GstQuery* query);

static void gst_unit_vocoder_class_init(GstUnitVocoderClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);

  gobject_class->set_property = gst_unit_vocoder_set_property;
  gobject_class->get_property = gst_unit_vocoder_get_property;
  gobject_class->finalize = gst_unit_vocoder_finalize;

  const auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  g_object_class_install_property(
      gobject_class, PROP_MODEL,
      g_param_spec_string("model", "Vocoder checkpoint",
                          "Path of a unit vocoder checkpoint (vocoder_final.pt of acoustok vocoder train); "
                          "loaded on NULL->READY",
                          DEFAULT_MODEL, flags));
  g_object_class_install_property(
      gobject_class, PROP_CHUNK_FRAMES,
      g_param_spec_uint("chunk-frames", "Chunk (frames)",
                        "Units synthesised per step once their right context has arrived; smaller lowers latency "
                        "and raises the cost",
                        1, 10000, DEFAULT_CHUNK_FRAMES, flags));
  g_object_class_install_property(
      gobject_class, PROP_DEVICE,
      g_param_spec_string("device", "Device", "Where the generator runs: cpu, cuda or auto", DEFAULT_DEVICE, flags));

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(
      element_class, "Unit vocoder", "Codec/Decoder/Audio",
      "Synthesises 16 kHz speech from acoustic units with a unit HiFi-GAN, streaming and seamless. "
      "Example: gst-launch-1.0 filesrc location=units.txt ! text/x-raw,format=utf8 ! unitvocoder "
      "model=vocoder_final.pt ! audioconvert ! wavenc ! filesink location=out.wav",
      "acoustok developers");
  element_class->change_state = GST_DEBUG_FUNCPTR(gst_unit_vocoder_change_state);

  GST_DEBUG_CATEGORY_INIT(unit_vocoder_debug, "unitvocoder", 0, "acoustok unit vocoder");
}

static void gst_unit_vocoder_init(GstUnitVocoder* self) {
  self->sinkpad = gst_pad_new_from_static_template(&sink_template, "sink");
  gst_pad_set_chain_function(self->sinkpad, GST_DEBUG_FUNCPTR(gst_unit_vocoder_chain));
  gst_pad_set_event_function(self->sinkpad, GST_DEBUG_FUNCPTR(gst_unit_vocoder_sink_event));
  gst_element_add_pad(GST_ELEMENT(self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template(&src_template, "src");
  gst_pad_set_query_function(self->srcpad, GST_DEBUG_FUNCPTR(gst_unit_vocoder_src_query));
  gst_pad_use_fixed_caps(self->srcpad);
  gst_element_add_pad(GST_ELEMENT(self), self->srcpad);

  self->model = g_strdup(DEFAULT_MODEL);
  self->chunk_frames = DEFAULT_CHUNK_FRAMES;
  self->device = g_strdup(DEFAULT_DEVICE);
  self->vocoder = new std::unique_ptr<acoustok::Vocoder>();
  self->state = nullptr;
  gst_segment_init(&self->segment, GST_FORMAT_TIME);
}

static void gst_unit_vocoder_finalize(GObject* object) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(object);
  delete self->state;
  self->state = nullptr;
  delete self->vocoder;
  self->vocoder = nullptr;
  g_free(self->model);
  g_free(self->device);
  G_OBJECT_CLASS(gst_unit_vocoder_parent_class)->finalize(object);
}

static void gst_unit_vocoder_set_property(GObject* object, guint prop_id, const GValue* value, GParamSpec* pspec) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(object);
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free(self->model);
      self->model = g_value_dup_string(value);
      break;
    case PROP_CHUNK_FRAMES: self->chunk_frames = g_value_get_uint(value); break;
    case PROP_DEVICE:
      g_free(self->device);
      self->device = g_value_dup_string(value);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK(self);
}

static void gst_unit_vocoder_get_property(GObject* object, guint prop_id, GValue* value, GParamSpec* pspec) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(object);
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
    case PROP_MODEL: g_value_set_string(value, self->model); break;
    case PROP_CHUNK_FRAMES: g_value_set_uint(value, self->chunk_frames); break;
    case PROP_DEVICE: g_value_set_string(value, self->device); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK(self);
}

static bool gst_unit_vocoder_load(GstUnitVocoder* self) {
  GST_OBJECT_LOCK(self);
  const std::string model = self->model ? self->model : "";
  const std::string device = self->device ? self->device : "cpu";
  GST_OBJECT_UNLOCK(self);
  return acoustok::gst::guarded(GST_ELEMENT(self), true, [&] {
    if (model.empty()) throw acoustok::Error("unitvocoder: the 'model' property (a vocoder checkpoint) is not set");
    *self->vocoder = acoustok::Vocoder::load(model, device);
  });
}

// Fresh streaming state; keeps the negotiated input format.
static bool gst_unit_vocoder_start(GstUnitVocoder* self) {
  GST_OBJECT_LOCK(self);
  const int chunk = static_cast<int>(self->chunk_frames);
  GST_OBJECT_UNLOCK(self);
  return acoustok::gst::guarded(GST_ELEMENT(self), false, [&] {
    if (!*self->vocoder) throw acoustok::Error("unitvocoder: no model loaded");
    auto fresh = std::make_unique<StreamState>(**self->vocoder, chunk);
    if (self->state) fresh->text = self->state->text;
    delete self->state;
    self->state = fresh.release();
  });
}

// PTS of global frame f: the last input anchor at or before f, plus 20 ms a frame.
static GstClockTime frame_time(GstUnitVocoder* self, int64_t f) {
  StreamState& st = *self->state;
  for (auto it = st.anchors.rbegin(); it != st.anchors.rend(); ++it) {
    if (it->first <= f && GST_CLOCK_TIME_IS_VALID(it->second))
      return it->second + static_cast<GstClockTime>(f - it->first) * acoustok::gst::kFrameDuration;
  }
  const GstClockTime base = GST_CLOCK_TIME_IS_VALID(self->segment.start) ? self->segment.start : 0;
  return base + static_cast<GstClockTime>(f) * acoustok::gst::kFrameDuration;
}

static GstFlowReturn push_audio(GstUnitVocoder* self, const std::vector<float>& audio) {
  StreamState& st = *self->state;
  if (audio.empty()) return GST_FLOW_OK;
  const int64_t frames = static_cast<int64_t>(audio.size()) / kHop;
  GstBuffer* out = gst_buffer_new_allocate(nullptr, audio.size() * sizeof(float), nullptr);
  gst_buffer_fill(out, 0, audio.data(), audio.size() * sizeof(float));
  GST_BUFFER_PTS(out) = frame_time(self, st.frames_out);
  GST_BUFFER_DURATION(out) = static_cast<GstClockTime>(frames) * acoustok::gst::kFrameDuration;
  GST_BUFFER_OFFSET(out) = static_cast<guint64>(st.frames_out * kHop);  // first sample
  GST_BUFFER_OFFSET_END(out) = static_cast<guint64>((st.frames_out + frames) * kHop);
  st.frames_out += frames;
  // Anchors before the oldest unit still needed are no longer used.
  while (st.anchors.size() > 1 && st.anchors[1].first <= st.frames_out) st.anchors.pop_front();
  return gst_pad_push(self->srcpad, out);
}

static GstFlowReturn add_units(GstUnitVocoder* self, const std::vector<int32_t>& units, GstClockTime pts) {
  StreamState& st = *self->state;
  acoustok::check_units_in_range(units, (*self->vocoder)->num_units(), "unitvocoder: input");
  st.anchors.emplace_back(st.frames_in, pts);
  st.frames_in += static_cast<int64_t>(units.size());
  return push_audio(self, st.stream.push(units.data(), units.size()));
}

// Ends the utterance in progress: its remaining units are synthesised.
static GstFlowReturn finish_utterance(GstUnitVocoder* self) {
  StreamState& st = *self->state;
  const GstFlowReturn ret = push_audio(self, st.stream.finish());
  st.utterance_start = st.frames_in;
  return ret;
}

static GstFlowReturn gst_unit_vocoder_chain(GstPad*, GstObject* parent, GstBuffer* buffer) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(parent);
  if (!self->state && !gst_unit_vocoder_start(self)) {
    gst_buffer_unref(buffer);
    return GST_FLOW_ERROR;
  }
  StreamState& st = *self->state;
  GstMapInfo map;
  if (!gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    gst_buffer_unref(buffer);
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("could not map input buffer"), (nullptr));
    return GST_FLOW_ERROR;
  }
  const GstClockTime pts = GST_BUFFER_PTS(buffer);
  GstFlowReturn ret = GST_FLOW_OK;
  const bool ok = acoustok::gst::guarded(GST_ELEMENT(self), false, [&] {
    if (!st.text) {
      if (map.size % 2 != 0) throw acoustok::Error("unitvocoder: a units buffer holds an odd number of bytes");
      std::vector<int32_t> units(map.size / 2);
      for (size_t i = 0; i < units.size(); ++i) {
        guint16 v;
        std::memcpy(&v, map.data + 2 * i, 2);
        units[i] = v;
      }
      ret = add_units(self, units, pts);
      return;
    }
    // Text: every complete line is one utterance, synthesised whole.
    st.pending_text.append(reinterpret_cast<const char*>(map.data), map.size);
    GstClockTime line_pts = pts;
    size_t nl;
    while (ret == GST_FLOW_OK && (nl = st.pending_text.find('\n')) != std::string::npos) {
      const std::string line = st.pending_text.substr(0, nl);
      st.pending_text.erase(0, nl + 1);
      const auto parsed = acoustok::parse_unit_lines(line, "unitvocoder: text input");
      if (parsed.empty() || parsed[0].empty()) continue;
      ret = add_units(self, parsed[0], line_pts);
      if (ret == GST_FLOW_OK) ret = finish_utterance(self);
      line_pts = GST_CLOCK_TIME_NONE;  // later lines follow on
    }
  });
  if (!ok) ret = GST_FLOW_ERROR;
  gst_buffer_unmap(buffer, &map);
  gst_buffer_unref(buffer);
  return ret;
}

static bool set_input_caps(GstUnitVocoder* self, GstCaps* caps) {
  const GstStructure* s = gst_caps_get_structure(caps, 0);
  const bool text = gst_structure_has_name(s, "text/x-raw");
  if (!text) {
    gint vocab = 0;
    const int k = (*self->vocoder)->num_units();
    if (gst_structure_get_int(s, "vocab-size", &vocab) && vocab > k) {
      GST_ELEMENT_ERROR(self, STREAM, FORMAT, ("units of vocab-size %d do not fit this vocoder (k=%d)", vocab, k),
                        (nullptr));
      return false;
    }
  }
  if (self->state) self->state->text = text;
  GstCaps* out = gst_caps_from_string(ACOUSTOK_AUDIO_CAPS);
  const bool ok = gst_pad_set_caps(self->srcpad, out);
  gst_caps_unref(out);
  return ok;
}

static gboolean gst_unit_vocoder_sink_event(GstPad* pad, GstObject* parent, GstEvent* event) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(parent);
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_CAPS: {
      GstCaps* caps;
      gst_event_parse_caps(event, &caps);
      if (!self->state && !gst_unit_vocoder_start(self)) {
        gst_event_unref(event);
        return FALSE;
      }
      const bool ok = set_input_caps(self, caps);
      gst_event_unref(event);
      return ok;
    }
    case GST_EVENT_SEGMENT:
      gst_event_copy_segment(event, &self->segment);
      if (self->segment.format != GST_FORMAT_TIME) {
        // Text from filesrc comes in bytes; the audio goes out in time.
        gst_segment_init(&self->segment, GST_FORMAT_TIME);
        gst_event_unref(event);
        return gst_pad_push_event(self->srcpad, gst_event_new_segment(&self->segment));
      }
      break;
    case GST_EVENT_CUSTOM_DOWNSTREAM:
      // The end of a speech segment ends the utterance: flush it before the event.
      if (acoustok::gst::is_segment_event(event) && self->state)
        acoustok::gst::guarded(GST_ELEMENT(self), false, [&] { finish_utterance(self); });
      break;
    case GST_EVENT_EOS:
      if (self->state) {
        acoustok::gst::guarded(GST_ELEMENT(self), false, [&] {
          // A last text line may lack its newline.
          StreamState& st = *self->state;
          if (st.text && !st.pending_text.empty()) {
            const auto parsed = acoustok::parse_unit_lines(st.pending_text, "unitvocoder: text input");
            st.pending_text.clear();
            if (!parsed.empty() && !parsed[0].empty()) add_units(self, parsed[0], GST_CLOCK_TIME_NONE);
          }
          finish_utterance(self);
        });
      }
      break;
    case GST_EVENT_FLUSH_STOP:
      gst_segment_init(&self->segment, GST_FORMAT_TIME);
      if (self->state) gst_unit_vocoder_start(self);
      break;
    default:
      break;
  }
  return gst_pad_event_default(pad, parent, event);
}

static gboolean gst_unit_vocoder_src_query(GstPad* pad, GstObject* parent, GstQuery* query) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(parent);
  if (GST_QUERY_TYPE(query) != GST_QUERY_LATENCY) return gst_pad_query_default(pad, parent, query);
  if (!gst_pad_peer_query(self->sinkpad, query)) return FALSE;
  gboolean live;
  GstClockTime min, max;
  gst_query_parse_latency(query, &live, &min, &max);
  // A unit's samples leave once the rest of its chunk and the right context
  // have arrived: at most chunk + context - 1 frames later.
  GST_OBJECT_LOCK(self);
  const int chunk = static_cast<int>(self->chunk_frames);
  GST_OBJECT_UNLOCK(self);
  const int context = *self->vocoder ? (*self->vocoder)->config().receptive_field_frames() : 0;
  const GstClockTime ours = static_cast<GstClockTime>(chunk + context - 1) * acoustok::gst::kFrameDuration;
  min += ours;
  if (GST_CLOCK_TIME_IS_VALID(max)) max += ours;
  GST_DEBUG_OBJECT(self, "latency: ours %" GST_TIME_FORMAT, GST_TIME_ARGS(ours));
  gst_query_set_latency(query, live, min, max);
  return TRUE;
}

static GstStateChangeReturn gst_unit_vocoder_change_state(GstElement* element, GstStateChange transition) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(element);
  if (transition == GST_STATE_CHANGE_NULL_TO_READY && !gst_unit_vocoder_load(self)) return GST_STATE_CHANGE_FAILURE;
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    gst_segment_init(&self->segment, GST_FORMAT_TIME);
    if (!gst_unit_vocoder_start(self)) return GST_STATE_CHANGE_FAILURE;
  }
  GstStateChangeReturn ret = GST_ELEMENT_CLASS(gst_unit_vocoder_parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
    delete self->state;
    self->state = nullptr;
  }
  if (transition == GST_STATE_CHANGE_READY_TO_NULL) self->vocoder->reset();
  return ret;
}
