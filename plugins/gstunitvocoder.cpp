// SPDX-License-Identifier: MIT
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
 * the generator's whole receptive field of real units before it and
 * #GstUnitVocoder:lookahead-frames units after it. With the default lookahead
 * (the whole receptive field) the stream equals whole-utterance synthesis
 * (within 1e-5) with no seams; a shorter lookahead lowers the latency to
 * chunk-frames + lookahead-frames - 1 frames and makes the audio an
 * approximation whose chunks join by a one-frame crossfade, without clicks
 * or level jumps (docs/gstreamer.md measures its distance from whole
 * synthesis). An `acoustok-segment` event, a break in the input (a GAP
 * event, a DISCONT buffer, a PTS jump) or EOS ends an utterance and flushes
 * it. Output buffers carry the timestamps of their units.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=units.txt ! text/x-raw,format=utf8 ! \
 *     unitvocoder model=vocoder_final.pt ! audioconvert ! wavenc ! filesink location=out.wav
 * ]|
 */
#include "config.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "acoustok/error.hpp"
#include "acoustok/frame_grid.hpp"
#include "acoustok/unit_text.hpp"
#include "acoustok/vocoder.hpp"
#include "acoustok/vocoder_data.hpp"
#include "gstacoustokelement.hpp"

GST_DEBUG_CATEGORY_STATIC(unit_vocoder_debug);
#define GST_CAT_DEFAULT unit_vocoder_debug

#define DEFAULT_MODEL nullptr
#define DEFAULT_CHUNK_FRAMES 25
#define DEFAULT_LOOKAHEAD_FRAMES -1
#define DEFAULT_DEVICE acoustok::gst::kDeviceAuto

enum {
  PROP_0,
  PROP_MODEL,
  PROP_CHUNK_FRAMES,
  PROP_LOOKAHEAD_FRAMES,
  PROP_DEVICE,
};

namespace {

using acoustok::grid::kHop;

// Streaming state, made on READY->PAUSED and after a flush. Units are
// numbered from 0 across utterances; `times` maps that number to the time of
// the unit (binary input: from the input's own time line; text: a line's PTS,
// later lines following on).
struct StreamState {
  StreamState(acoustok::Vocoder& v, int chunk, int lookahead) : stream(v, chunk, -1, lookahead) {}
  acoustok::StreamingVocoder stream;
  acoustok::gst::Timeline times;
  guint64 frames_in = 0;   // units received
  guint64 frames_out = 0;  // units whose audio went out
};

}  // namespace

struct GstUnitVocoder {
  GstAcoustokElement parent;

  // Properties, guarded by the object lock.
  gchar* model;
  guint chunk_frames;
  gint lookahead_frames;
  int device;

  acoustok::Vocoder* vocoder;  // NULL->READY .. READY->NULL
  StreamState* state;          // streaming thread only
};

struct GstUnitVocoderClass {
  GstAcoustokElementClass parent_class;
};

#define GST_TYPE_UNIT_VOCODER (gst_unit_vocoder_get_type())
#define GST_UNIT_VOCODER(obj) (reinterpret_cast<GstUnitVocoder*>(obj))
GType gst_unit_vocoder_get_type(void);
G_DEFINE_TYPE(GstUnitVocoder, gst_unit_vocoder, GST_TYPE_ACOUSTOK_ELEMENT)
GST_ELEMENT_REGISTER_DEFINE(unitvocoder, "unitvocoder", GST_RANK_NONE, GST_TYPE_UNIT_VOCODER)

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_UNITS_CAPS "; " ACOUSTOK_TEXT_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_AUDIO_CAPS));

static void gst_unit_vocoder_set_property(GObject* object, guint prop_id, const GValue* value, GParamSpec* pspec);
static void gst_unit_vocoder_get_property(GObject* object, guint prop_id, GValue* value, GParamSpec* pspec);
static void gst_unit_vocoder_finalize(GObject* object);
static void gst_unit_vocoder_load(GstAcoustokElement* base);
static void gst_unit_vocoder_unload(GstAcoustokElement* base);
static void gst_unit_vocoder_start(GstAcoustokElement* base);
static void gst_unit_vocoder_stop(GstAcoustokElement* base);
static void gst_unit_vocoder_set_caps(GstAcoustokElement* base, const GstStructure* caps);
static GstFlowReturn gst_unit_vocoder_handle_input(GstAcoustokElement* base, const guint8* data, gsize size);
static GstFlowReturn gst_unit_vocoder_handle_line(GstAcoustokElement* base, std::string_view line, guint64 line_no,
                                                  GstClockTime pts);
static GstFlowReturn gst_unit_vocoder_finish_segment(GstAcoustokElement* base, GstAcoustokSegmentEnd reason);
static void gst_unit_vocoder_latency(GstAcoustokElement* base, GstClockTime* ours, gboolean* unbounded);

static void gst_unit_vocoder_class_init(GstUnitVocoderClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstAcoustokElementClass* base_class = GST_ACOUSTOK_ELEMENT_CLASS(klass);

  gobject_class->set_property = gst_unit_vocoder_set_property;
  gobject_class->get_property = gst_unit_vocoder_get_property;
  gobject_class->finalize = gst_unit_vocoder_finalize;

  const auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  /**
   * GstUnitVocoder:model:
   *
   * A vocoder checkpoint of `acoustok vocoder train` (vocoder_final.pt), whose
   * stored config says the architecture, or a released speech-resynthesis /
   * fairseq unit HiFi-GAN (g_XXXXXXXX) with its config.json in the same
   * folder. Loaded on NULL->READY.
   */
  g_object_class_install_property(
      gobject_class, PROP_MODEL,
      g_param_spec_string("model", "Vocoder checkpoint",
                          "Path of a unit vocoder checkpoint: acoustok's vocoder_final.pt, or a released "
                          "speech-resynthesis/fairseq one with config.json beside it; loaded on NULL->READY",
                          DEFAULT_MODEL, flags));
  /**
   * GstUnitVocoder:chunk-frames:
   *
   * Units synthesised per step once their right context has arrived: smaller
   * lowers the latency (chunk + lookahead - 1 frames) and raises the cost.
   */
  g_object_class_install_property(
      gobject_class, PROP_CHUNK_FRAMES,
      g_param_spec_uint("chunk-frames", "Chunk (frames)",
                        "Units synthesised per step once their right context has arrived; smaller lowers latency "
                        "and raises the cost",
                        1, 10000, DEFAULT_CHUNK_FRAMES, flags));
  /**
   * GstUnitVocoder:lookahead-frames:
   *
   * Units after a chunk that it waits for before it is synthesised: -1 (the
   * default) is the generator's whole receptive field, exact (the stream
   * equals whole-utterance synthesis); fewer lower the latency to
   * chunk-frames + lookahead-frames - 1 frames and make the audio an
   * approximation, chunks joined by a one-frame crossfade. The left context
   * is always the whole receptive field (it costs compute, not latency). A
   * value above the receptive field is refused on NULL->READY.
   */
  g_object_class_install_property(
      gobject_class, PROP_LOOKAHEAD_FRAMES,
      g_param_spec_int("lookahead-frames", "Lookahead (frames)",
                       "Units after a chunk that it waits for: -1 = the generator's whole receptive field (exact); "
                       "fewer lower the latency (chunk + lookahead - 1 frames), chunks then join by a crossfade",
                       -1, 10000, DEFAULT_LOOKAHEAD_FRAMES, flags));
  /**
   * GstUnitVocoder:device:
   *
   * Where the generator runs: `cpu`, `cuda` (LibTorch with CUDA and a visible
   * GPU), or `auto` (the default: CUDA when there is one, else the CPU). The
   * same choices and default
   * as xlsrfeat's.
   */
  g_object_class_install_property(
      gobject_class, PROP_DEVICE,
      g_param_spec_enum("device", "Device", "Where the generator runs", acoustok::gst::device_get_type(), DEFAULT_DEVICE,
                        flags));

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(element_class, "Unit vocoder", "Codec/Decoder/Audio",
                                        "Synthesises 16 kHz speech from acoustic units with a unit HiFi-GAN",
                                        "acoustok developers");

  base_class->load = gst_unit_vocoder_load;
  base_class->unload = gst_unit_vocoder_unload;
  base_class->start = gst_unit_vocoder_start;
  base_class->stop = gst_unit_vocoder_stop;
  base_class->set_caps = gst_unit_vocoder_set_caps;
  base_class->handle_input = gst_unit_vocoder_handle_input;
  base_class->handle_line = gst_unit_vocoder_handle_line;
  base_class->finish_segment = gst_unit_vocoder_finish_segment;
  base_class->latency = gst_unit_vocoder_latency;

  GST_DEBUG_CATEGORY_INIT(unit_vocoder_debug, "unitvocoder", 0, "acoustok unit vocoder");
}

static void gst_unit_vocoder_init(GstUnitVocoder* self) {
  self->model = g_strdup(DEFAULT_MODEL);
  self->chunk_frames = DEFAULT_CHUNK_FRAMES;
  self->lookahead_frames = DEFAULT_LOOKAHEAD_FRAMES;
  self->device = DEFAULT_DEVICE;
  self->vocoder = nullptr;
  self->state = nullptr;
}

static void gst_unit_vocoder_finalize(GObject* object) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(object);
  delete self->state;
  delete self->vocoder;
  g_free(self->model);
  G_OBJECT_CLASS(gst_unit_vocoder_parent_class)->finalize(object);
}

static void gst_unit_vocoder_set_property(GObject* object, guint prop_id, const GValue* value, GParamSpec* pspec) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(object);
  if (!gst_acoustok_element_may_set(GST_ACOUSTOK_ELEMENT(self), pspec)) return;
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free(self->model);
      self->model = g_value_dup_string(value);
      break;
    case PROP_CHUNK_FRAMES: self->chunk_frames = g_value_get_uint(value); break;
    case PROP_LOOKAHEAD_FRAMES: self->lookahead_frames = g_value_get_int(value); break;
    case PROP_DEVICE: self->device = g_value_get_enum(value); break;
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
    case PROP_LOOKAHEAD_FRAMES: g_value_set_int(value, self->lookahead_frames); break;
    case PROP_DEVICE: g_value_set_enum(value, self->device); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK(self);
}

// More lookahead than the receptive field would only add latency. Checked on
// NULL->READY and again on READY->PAUSED (the property may change in READY).
static void check_lookahead(int lookahead, const acoustok::Vocoder& vocoder) {
  const int field = vocoder.config().receptive_field_frames();
  if (lookahead > field) {
    throw acoustok::Error("unitvocoder: 'lookahead-frames' (" + std::to_string(lookahead) +
                          ") must be -1 or at most the vocoder's receptive field, " + std::to_string(field) +
                          " frames");
  }
}

static void gst_unit_vocoder_load(GstAcoustokElement* base) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(base);
  GST_OBJECT_LOCK(self);
  const std::string model = self->model ? self->model : "";
  const std::string device = acoustok::gst::device_name(self->device);
  const int lookahead = self->lookahead_frames;
  GST_OBJECT_UNLOCK(self);
  if (model.empty()) throw acoustok::Error("unitvocoder: the 'model' property (a vocoder checkpoint) is not set");
  std::unique_ptr<acoustok::Vocoder> fresh = acoustok::Vocoder::load(model, device);
  check_lookahead(lookahead, *fresh);
  delete self->vocoder;
  self->vocoder = fresh.release();
}

static void gst_unit_vocoder_unload(GstAcoustokElement* base) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(base);
  gst_unit_vocoder_stop(base);
  delete self->vocoder;
  self->vocoder = nullptr;
}

static void gst_unit_vocoder_start(GstAcoustokElement* base) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(base);
  GST_OBJECT_LOCK(self);
  const int chunk = static_cast<int>(self->chunk_frames);
  const int lookahead = self->lookahead_frames;
  GST_OBJECT_UNLOCK(self);
  check_lookahead(lookahead, *self->vocoder);
  auto fresh = std::make_unique<StreamState>(*self->vocoder, chunk, lookahead);
  delete self->state;
  self->state = fresh.release();
}

static void gst_unit_vocoder_stop(GstAcoustokElement* base) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(base);
  delete self->state;
  self->state = nullptr;
}

// Binary units must fit the vocoder's vocabulary.
static void gst_unit_vocoder_set_caps(GstAcoustokElement* base, const GstStructure* caps) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(base);
  if (base->text_in) return;
  gint vocab = 0;
  const int k = self->vocoder->num_units();
  if (gst_structure_get_int(caps, "vocab-size", &vocab) && vocab > k) {
    throw acoustok::Error("units of vocab-size " + std::to_string(vocab) + " do not fit this vocoder (k=" +
                          std::to_string(k) + ")");
  }
  base->item_bytes = sizeof(guint16);
  base->items_per_second = acoustok::grid::kFrameRate;
}

static GstFlowReturn push_audio(GstUnitVocoder* self, const std::vector<float>& audio) {
  GstAcoustokElement* base = GST_ACOUSTOK_ELEMENT(self);
  StreamState& st = *self->state;
  if (audio.empty()) return GST_FLOW_OK;
  const guint64 frames = audio.size() / kHop;
  GstBuffer* out = gst_buffer_new_allocate(nullptr, audio.size() * sizeof(float), nullptr);
  gst_buffer_fill(out, 0, audio.data(), audio.size() * sizeof(float));
  GST_BUFFER_PTS(out) = st.times.time_of(st.frames_out, base->segment.start);
  GST_BUFFER_DURATION(out) = frames * acoustok::gst::kFrameDuration;
  GST_BUFFER_OFFSET(out) = st.frames_out * kHop;  // first sample
  GST_BUFFER_OFFSET_END(out) = (st.frames_out + frames) * kHop;
  st.frames_out += frames;
  st.times.forget_before(st.frames_out);
  return gst_acoustok_element_push(base, out);
}

static GstFlowReturn add_units(GstUnitVocoder* self, const std::vector<int32_t>& units, GstClockTime pts,
                               const std::string& where = "unitvocoder: input") {
  StreamState& st = *self->state;
  acoustok::check_units_in_range(units, self->vocoder->num_units(), where);
  st.times.mark(st.frames_in, pts, GST_BUFFER_OFFSET_NONE);
  st.frames_in += units.size();
  return push_audio(self, st.stream.push(units.data(), units.size()));
}

static GstFlowReturn gst_unit_vocoder_handle_input(GstAcoustokElement* base, const guint8*, gsize) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(base);
  const guint64 n = gst_acoustok_element_available(base);
  if (n == 0) return GST_FLOW_OK;
  const guint64 first = gst_acoustok_element_head_index(base);
  const guint8* data = gst_acoustok_element_peek_items(base, n);
  std::vector<int32_t> units(n);
  for (guint64 i = 0; i < n; ++i) {
    guint16 v;
    std::memcpy(&v, data + 2 * i, 2);
    units[i] = v;
  }
  const GstClockTime pts = gst_acoustok_element_time_of(base, first);
  gst_acoustok_element_flush_items(base, n);
  return add_units(self, units, pts);
}

// Ends the utterance in progress: its remaining units are synthesised.
static GstFlowReturn finish_utterance(GstUnitVocoder* self) { return push_audio(self, self->state->stream.finish()); }

// Text: every line is one utterance, synthesised whole.
static GstFlowReturn gst_unit_vocoder_handle_line(GstAcoustokElement* base, std::string_view line, guint64 line_no,
                                                  GstClockTime pts) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(base);
  std::vector<int> parsed;
  acoustok::parse_unit_line(line, &parsed, "unitvocoder text input", static_cast<int64_t>(line_no));
  if (parsed.empty()) return GST_FLOW_OK;
  const GstFlowReturn ret =
      add_units(self, std::vector<int32_t>(parsed.begin(), parsed.end()), pts,
                "unitvocoder text input: line " + std::to_string(line_no) + " (the vocoder has k=" +
                    std::to_string(self->vocoder->num_units()) + ")");
  return ret == GST_FLOW_OK ? finish_utterance(self) : ret;
}

// The end of a speech segment ends the utterance.
static GstFlowReturn gst_unit_vocoder_finish_segment(GstAcoustokElement* base, GstAcoustokSegmentEnd) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(base);
  return self->state ? finish_utterance(self) : GST_FLOW_OK;
}

// A unit's samples leave once the rest of its chunk and the lookahead have
// arrived: at most chunk + lookahead - 1 frames later (the crossfade holds
// nothing back; StreamingVocoder::latency_frames).
static void gst_unit_vocoder_latency(GstAcoustokElement* base, GstClockTime* ours, gboolean*) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(base);
  GST_OBJECT_LOCK(self);
  const int chunk = static_cast<int>(self->chunk_frames);
  const int lookahead = self->lookahead_frames;
  GST_OBJECT_UNLOCK(self);
  const int field = self->vocoder ? self->vocoder->config().receptive_field_frames() : 0;
  *ours = static_cast<GstClockTime>(chunk + (lookahead < 0 ? field : lookahead) - 1) * acoustok::gst::kFrameDuration;
}
