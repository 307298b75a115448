// SPDX-License-Identifier: MIT
// About 600 lines with its documentation blocks: the two inputs (frame and
// reduced units) and the streaming vocoder share one chunking state.
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
 * Reduced units (`application/x-acoustok-units, reduced=(boolean)true`, as
 * `kmeansunits dedup=true` sends them: per run a uint16 unit and a uint16
 * length in frames) are spoken either at their own timing (each unit
 * repeated by its run length) or, with #GstUnitVocoder:dur-prediction, for
 * the frames the vocoder's duration predictor gives each (released fairseq
 * CodeHiFiGAN vocoders with dur_predictor_params). Predicted audio runs on
 * the predicted timeline: an utterance's output starts at the time of its
 * first unit and goes on 20 ms per predicted frame, so it may end before or
 * after its input did. Multi-speaker vocoders take #GstUnitVocoder:speaker or
 * #GstUnitVocoder:speaker-embedding.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=units.txt ! text/x-raw,format=utf8 ! \
 *     unitvocoder model=vocoder_final.pt ! audioconvert ! wavenc ! filesink location=out.wav
 * gst-launch-1.0 filesrc location=speech.wav ! decodebin ! audioconvert ! audioresample ! \
 *     xlsrfeat model=mhubert layer=11 ! kmeansunits model=km1000.bin dedup=true ! \
 *     unitvocoder model=g_00500000 dur-prediction=on speaker=0 ! audioconvert ! wavenc ! filesink
 * location=out.wav
 * ]|
 */
#include "config.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "acoustok/error.hpp"
#include "acoustok/frame_grid.hpp"
#include "acoustok/tensor_file.hpp"
#include "acoustok/unit_text.hpp"
#include "acoustok/vocoder.hpp"
#include "acoustok/vocoder_data.hpp"
#include "gstacoustokelement.hpp"

GST_DEBUG_CATEGORY_STATIC(unit_vocoder_debug);
#define GST_CAT_DEFAULT unit_vocoder_debug

#define DEFAULT_CHUNK_FRAMES 25
#define DEFAULT_LOOKAHEAD_FRAMES -1
#define DEFAULT_DUR_PREDICTION DUR_PREDICTION_AUTO
#define DEFAULT_SPEAKER -1
#define DEFAULT_SPEAKER_EMBEDDING nullptr

enum {
  PROP_0,
  PROP_MODEL,
  PROP_CHUNK_FRAMES,
  PROP_LOOKAHEAD_FRAMES,
  PROP_DEVICE,
  PROP_DUR_PREDICTION,
  PROP_SPEAKER,
  PROP_SPEAKER_EMBEDDING,
};

enum { DUR_PREDICTION_AUTO = 0, DUR_PREDICTION_ON = 1, DUR_PREDICTION_OFF = 2 };

static GType dur_prediction_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {DUR_PREDICTION_AUTO, "On when the vocoder has a duration predictor and the units are reduced", "auto"},
      {DUR_PREDICTION_ON, "Each unit lasts the frames the vocoder predicts", "on"},
      {DUR_PREDICTION_OFF, "Units keep their own timing (reduced ones their run lengths)", "off"},
      {0, nullptr, nullptr},
  };
  if (g_once_init_enter(&type))
    g_once_init_leave(&type, g_enum_register_static("GstUnitVocoderDurPrediction", values));
  return type;
}

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
  guint64 frames_in = 0;      // units received (frames: reduced ones expanded)
  guint64 frames_out = 0;     // units whose audio went out
  bool in_utterance = false;  // predicted durations: the utterance's start is marked
};

}  // namespace

struct GstUnitVocoder {
  GstAcoustokElement parent;

  // Properties, guarded by the object lock.
  gchar* model_path;
  guint chunk_frames;
  gint lookahead_frames;
  int device;
  int dur_prediction;
  gint speaker;
  gchar* speaker_embedding;

  gboolean reduced_in;  // binary input caps say reduced=true (streaming thread)

  acoustok::Vocoder* vocoder;  // NULL->READY .. READY->NULL
  StreamState* state;          // streaming thread only
};

struct GstUnitVocoderClass {
  GstAcoustokElementClass parent_class;
};

#define GST_TYPE_UNIT_VOCODER (gst_unit_vocoder_get_type())
#define GST_UNIT_VOCODER(obj) (G_TYPE_CHECK_INSTANCE_CAST((obj), GST_TYPE_UNIT_VOCODER, GstUnitVocoder))
GType gst_unit_vocoder_get_type(void);
G_DEFINE_TYPE(GstUnitVocoder, gst_unit_vocoder, GST_TYPE_ACOUSTOK_ELEMENT)
GST_ELEMENT_REGISTER_DEFINE(unitvocoder, "unitvocoder", GST_RANK_NONE, GST_TYPE_UNIT_VOCODER)

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_UNITS_CAPS "; " ACOUSTOK_TEXT_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_AUDIO_CAPS));

static void gst_unit_vocoder_finalize(GObject* object);
static void gst_unit_vocoder_load(GstAcoustokElement* base);
static void gst_unit_vocoder_unload(GstAcoustokElement* base);
static void gst_unit_vocoder_start(GstAcoustokElement* base);
static void gst_unit_vocoder_stop(GstAcoustokElement* base);
static void gst_unit_vocoder_set_caps(GstAcoustokElement* base, const GstStructure* caps);
static GstFlowReturn gst_unit_vocoder_handle_input(GstAcoustokElement* base, const guint8* data, gsize size);
static GstFlowReturn gst_unit_vocoder_handle_line(GstAcoustokElement* base, std::string_view line,
                                                  guint64 line_no, GstClockTime pts);
static GstFlowReturn gst_unit_vocoder_finish_segment(GstAcoustokElement* base, GstAcoustokSegmentEnd reason);
static void gst_unit_vocoder_latency(GstAcoustokElement* base, GstClockTime* ours, gboolean* unbounded);

static void gst_unit_vocoder_class_init(GstUnitVocoderClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstAcoustokElementClass* base_class = GST_ACOUSTOK_ELEMENT_CLASS(klass);

  gobject_class->finalize = GST_DEBUG_FUNCPTR(gst_unit_vocoder_finalize);

  /**
   * GstUnitVocoder:model:
   *
   * A vocoder checkpoint of `acoustok vocoder train` (vocoder_final.pt), whose
   * stored config says the architecture, or a released speech-resynthesis /
   * fairseq unit HiFi-GAN (g_XXXXXXXX) with its config.json in the same
   * folder. Loaded on NULL->READY.
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_MODEL, GstUnitVocoder, model_path,
      gst_acoustok_param_spec_model(
          "Vocoder checkpoint",
          "Path of a unit vocoder checkpoint: acoustok's vocoder_final.pt, or a released "
          "speech-resynthesis/fairseq one with config.json beside it; loaded on NULL->READY"));
  /**
   * GstUnitVocoder:chunk-frames:
   *
   * Units synthesised per step once their right context has arrived: smaller
   * lowers the latency (chunk + lookahead - 1 frames) and raises the cost.
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_CHUNK_FRAMES, GstUnitVocoder, chunk_frames,
      g_param_spec_uint(
          "chunk-frames", "Chunk (frames)",
          "Units synthesised per step once their right context has arrived; smaller lowers latency "
          "and raises the cost",
          1, 10000, DEFAULT_CHUNK_FRAMES, GST_ACOUSTOK_PARAM_FLAGS));
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
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_LOOKAHEAD_FRAMES, GstUnitVocoder, lookahead_frames,
      g_param_spec_int(
          "lookahead-frames", "Lookahead (frames)",
          "Units after a chunk that it waits for: -1 = the generator's whole receptive field (exact); "
          "fewer lower the latency (chunk + lookahead - 1 frames), chunks then join by a crossfade",
          -1, 10000, DEFAULT_LOOKAHEAD_FRAMES, GST_ACOUSTOK_PARAM_FLAGS));
  /**
   * GstUnitVocoder:device:
   *
   * Where the generator runs: `cpu`, `cuda` (LibTorch with CUDA and a visible
   * GPU), or `auto` (the default: CUDA when there is one, else the CPU). The
   * same choices and default as xlsrfeat's.
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(klass, PROP_DEVICE, GstUnitVocoder, device,
                                        gst_acoustok_param_spec_device("Where the model runs"));
  /**
   * GstUnitVocoder:dur-prediction:
   *
   * Whether each unit lasts the frames the vocoder's duration predictor
   * gives it (a released CodeHiFiGAN with dur_predictor_params; the units
   * are then reduced: runs collapsed). `auto` (the default): on when the
   * vocoder has a predictor and the input is reduced (binary caps
   * reduced=true; a text line in which no unit equals its neighbour). `on`
   * is refused on NULL->READY for a vocoder without one. `off`: reduced
   * binary units last their run lengths, the original timing. A predicted
   * duration is final once the predictor's context (a few units) has
   * arrived after its unit: the stream equals predicting and synthesising
   * the whole utterance. Output then runs on the predicted timeline (see
   * the element's description), and the latency has no upper bound in time.
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_DUR_PREDICTION, GstUnitVocoder, dur_prediction,
      g_param_spec_enum(
          "dur-prediction", "Duration prediction",
          "Units last the frames the vocoder predicts: auto = when it has a duration predictor and "
          "the units are reduced",
          dur_prediction_get_type(), DEFAULT_DUR_PREDICTION, GST_ACOUSTOK_PARAM_FLAGS));
  /**
   * GstUnitVocoder:speaker:
   *
   * The speaker of a multi-speaker vocoder (a speaker table: num_speakers in
   * its config), 0..num_speakers-1. Required by such a vocoder and refused
   * by others: either is an error on NULL->READY naming the model. -1 (the
   * default): none.
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_SPEAKER, GstUnitVocoder, speaker,
      g_param_spec_int("speaker", "Speaker",
                       "Speaker id of a multi-speaker vocoder (-1: none); checked on NULL->READY", -1,
                       G_MAXINT, DEFAULT_SPEAKER, GST_ACOUSTOK_PARAM_FLAGS));
  /**
   * GstUnitVocoder:speaker-embedding:
   *
   * For a vocoder with a speaker embedder (embedder_params): a NumPy .npy
   * of float32 or float64, shape [D] or [1, D] with D its embedder_dim, the
   * speaker's vector. Required by such a vocoder and refused by others, on
   * NULL->READY.
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_SPEAKER_EMBEDDING, GstUnitVocoder, speaker_embedding,
      g_param_spec_string(
          "speaker-embedding", "Speaker embedding",
          "Path of an .npy speaker vector ([D] or [1, D]) for a vocoder with a speaker embedder",
          DEFAULT_SPEAKER_EMBEDDING, GST_ACOUSTOK_PARAM_FLAGS));

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(element_class, "Unit vocoder", "Codec/Decoder/Audio",
                                        "Synthesises 16 kHz speech from acoustic units with a unit HiFi-GAN",
                                        "acoustok developers");

  base_class->load = GST_DEBUG_FUNCPTR(gst_unit_vocoder_load);
  base_class->unload = GST_DEBUG_FUNCPTR(gst_unit_vocoder_unload);
  base_class->start = GST_DEBUG_FUNCPTR(gst_unit_vocoder_start);
  base_class->stop = GST_DEBUG_FUNCPTR(gst_unit_vocoder_stop);
  base_class->set_caps = GST_DEBUG_FUNCPTR(gst_unit_vocoder_set_caps);
  base_class->handle_input = GST_DEBUG_FUNCPTR(gst_unit_vocoder_handle_input);
  base_class->handle_line = GST_DEBUG_FUNCPTR(gst_unit_vocoder_handle_line);
  base_class->finish_segment = GST_DEBUG_FUNCPTR(gst_unit_vocoder_finish_segment);
  base_class->latency = GST_DEBUG_FUNCPTR(gst_unit_vocoder_latency);

  GST_DEBUG_CATEGORY_INIT(unit_vocoder_debug, "unitvocoder", 0, "acoustok unit vocoder");
}

static void gst_unit_vocoder_init(GstUnitVocoder* self) {
  self->reduced_in = FALSE;
  self->vocoder = nullptr;
  self->state = nullptr;
}

static void gst_unit_vocoder_finalize(GObject* object) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(object);
  delete self->state;
  delete self->vocoder;
  G_OBJECT_CLASS(gst_unit_vocoder_parent_class)->finalize(object);
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

// The speaker and duration properties against what the model conditions
// on; each refusal names the model and the property.
static void set_conditioning(acoustok::Vocoder& vocoder, const std::string& model, int speaker,
                             const std::string& embedding, int dur_prediction) {
  const acoustok::VocoderConfig& c = vocoder.config();
  if (c.has_speaker_table()) {
    const std::string range = "0.." + std::to_string(c.num_speakers - 1);
    if (speaker < 0 || speaker >= c.num_speakers)
      throw acoustok::file_error(model,
                                 "unitvocoder: 'speaker' must be one of this vocoder's speakers " + range +
                                     (speaker < 0 ? " (it is not set)" : ", not " + std::to_string(speaker)));
    vocoder.set_speaker(speaker);
  } else if (speaker >= 0) {
    throw acoustok::file_error(model, "unitvocoder: 'speaker' is set but this vocoder has no speaker table");
  }
  if (c.has_speaker_embedder()) {
    if (embedding.empty())
      throw acoustok::file_error(
          model,
          "unitvocoder: this vocoder takes a speaker embedding: set 'speaker-embedding' "
          "(an .npy of " +
              std::to_string(c.speaker_embedding_dim) + " floats)");
    const acoustok::NpyArray e = acoustok::read_npy(embedding);
    const auto dim = static_cast<int64_t>(c.speaker_embedding_dim);
    if (!((e.shape.size() == 1 && e.shape[0] == dim) ||
          (e.shape.size() == 2 && e.shape[0] == 1 && e.shape[1] == dim)))
      throw acoustok::file_error(embedding, "unitvocoder 'speaker-embedding': " + model + " takes shape [" +
                                                std::to_string(dim) + "] or [1, " + std::to_string(dim) +
                                                "], this has " + std::to_string(e.values.size()) + " values");
    vocoder.set_speaker_embedding(e.values);
  } else if (!embedding.empty()) {
    throw acoustok::file_error(
        model, "unitvocoder: 'speaker-embedding' is set but this vocoder has no speaker embedder");
  }
  if (dur_prediction == DUR_PREDICTION_ON && !c.has_duration_predictor())
    throw acoustok::file_error(
        model,
        "unitvocoder: 'dur-prediction' is on but this vocoder has no duration predictor "
        "(dur_predictor_params)");
}

// The properties load and start apply, read at once.
struct Settings {
  std::string device, embedding;
  int chunk, lookahead, speaker, dur_prediction;
};

static Settings read_settings(GstUnitVocoder* self) {
  GST_OBJECT_LOCK(self);
  Settings s{acoustok::gst::device_name(self->device),
             self->speaker_embedding ? self->speaker_embedding : "",
             static_cast<int>(self->chunk_frames),
             self->lookahead_frames,
             self->speaker,
             self->dur_prediction};
  GST_OBJECT_UNLOCK(self);
  return s;
}

// The settings against the vocoder: on NULL->READY and again on
// READY->PAUSED (the properties may change in READY).
static void apply_settings(GstUnitVocoder* self, acoustok::Vocoder& vocoder, const Settings& s) {
  check_lookahead(s.lookahead, vocoder);
  set_conditioning(vocoder, gst_acoustok_element_model_path(GST_ACOUSTOK_ELEMENT(self)), s.speaker,
                   s.embedding, s.dur_prediction);
}

static void gst_unit_vocoder_load(GstAcoustokElement* base) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(base);
  const std::string path = gst_acoustok_element_model_path(base);
  const Settings settings = read_settings(self);
  std::unique_ptr<acoustok::Vocoder> fresh = acoustok::Vocoder::load(path, settings.device);
  apply_settings(self, *fresh, settings);
  const acoustok::VocoderConfig& c = fresh->config();
  GST_INFO_OBJECT(self, "vocoder %s: k=%d, receptive field %d frames%s", path.c_str(), fresh->num_units(),
                  c.receptive_field_frames(), c.has_duration_predictor() ? ", duration predictor" : "");
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
  const Settings settings = read_settings(self);
  apply_settings(self, *self->vocoder, settings);
  auto fresh = std::make_unique<StreamState>(*self->vocoder, settings.chunk, settings.lookahead);
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
  self->reduced_in = FALSE;
  if (base->text_in) return;
  gint vocab = 0;
  const int k = self->vocoder->num_units();
  if (gst_structure_get_int(caps, "vocab-size", &vocab) && vocab > k) {
    throw acoustok::Error("units of vocab-size " + std::to_string(vocab) +
                          " do not fit this vocoder (k=" + std::to_string(k) + ")");
  }
  gboolean reduced = FALSE;
  self->reduced_in = gst_structure_get_boolean(caps, "reduced", &reduced) && reduced;
  GST_DEBUG_OBJECT(self, "input: %s units, vocab-size %d", self->reduced_in ? "reduced" : "frame", vocab);
  // Reduced: per run a uint16 unit and a uint16 length in frames.
  base->item_bytes = self->reduced_in ? 2 * sizeof(guint16) : sizeof(guint16);
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

// Whether units go through the duration predictor; `reduced`: the input's
// runs are collapsed (binary caps, or a text line without repeats).
static bool predicting(GstUnitVocoder* self, bool reduced) {
  GST_OBJECT_LOCK(self);
  const int mode = self->dur_prediction;
  GST_OBJECT_UNLOCK(self);
  return mode == DUR_PREDICTION_ON ||
         (mode == DUR_PREDICTION_AUTO && reduced && self->vocoder->config().has_duration_predictor());
}

static void count_predicted(StreamState& st) {
  for (int32_t d : st.stream.take_predicted_durations()) st.frames_in += static_cast<guint64>(d);
}

// Reduced units whose frames the vocoder predicts: the utterance's audio
// starts at the time of its first unit and follows the predicted frames
// (later input timestamps say when runs arrived, not how long they last).
static GstFlowReturn add_predicted(GstUnitVocoder* self, const std::vector<int32_t>& units, GstClockTime pts,
                                   const std::string& where = "unitvocoder: input") {
  StreamState& st = *self->state;
  acoustok::check_units_in_range(units, self->vocoder->num_units(), where);
  if (!st.in_utterance) st.times.mark(st.frames_in, pts, GST_BUFFER_OFFSET_NONE);
  st.in_utterance = true;
  // One unit at a time: each may last up to the predictor's cap (16384
  // frames), so the audio held at once stays bounded by one unit's, not by
  // what a whole buffer of units expands to.
  for (const int32_t& unit : units) {
    const auto audio = st.stream.push_reduced(&unit, 1);
    count_predicted(st);
    const GstFlowReturn ret = push_audio(self, audio);
    if (ret != GST_FLOW_OK) return ret;
  }
  return GST_FLOW_OK;
}

// Reduced binary input: per run a uint16 unit and a uint16 length.
static GstFlowReturn handle_reduced(GstUnitVocoder* self, const guint8* data, guint64 n, GstClockTime pts) {
  GstAcoustokElement* base = GST_ACOUSTOK_ELEMENT(self);
  std::vector<int32_t> units(n), runs(n);
  guint64 frames = 0;
  for (guint64 i = 0; i < n; ++i) {
    guint16 v[2];
    std::memcpy(v, data + 4 * i, 4);
    if (v[1] == 0)
      throw acoustok::Error("unitvocoder: reduced input: a run of 0 frames (unit " + std::to_string(v[0]) +
                            ")");
    units[i] = v[0];
    runs[i] = v[1];
    frames += v[1];
  }
  gst_acoustok_element_flush_items(base, n);
  // The next buffer follows on where these runs end.
  if (GST_CLOCK_TIME_IS_VALID(pts))
    gst_acoustok_element_continue_at(base, pts + frames * acoustok::gst::kFrameDuration,
                                     GST_BUFFER_OFFSET_NONE);
  if (predicting(self, true)) return add_predicted(self, units, pts);
  acoustok::check_units_in_range(units, self->vocoder->num_units(), "unitvocoder: input");
  // 4 bytes of input stand for up to 65535 frames: expanded and synthesised
  // a slice of at most kSliceFrames (plus one run) at a time, so memory
  // follows the slice, not the runs a buffer claims.
  constexpr guint64 kSliceFrames = 3000;  // one minute
  std::vector<int32_t> slice;
  GstClockTime at = pts;
  for (guint64 i = 0; i < n; ++i) {
    slice.insert(slice.end(), static_cast<size_t>(runs[i]), units[i]);
    if (slice.size() < kSliceFrames && i + 1 < n) continue;
    const GstFlowReturn ret = add_units(self, slice, at);
    if (ret != GST_FLOW_OK) return ret;
    if (GST_CLOCK_TIME_IS_VALID(at)) at += slice.size() * acoustok::gst::kFrameDuration;
    slice.clear();
  }
  return GST_FLOW_OK;
}

static GstFlowReturn gst_unit_vocoder_handle_input(GstAcoustokElement* base, const guint8*, gsize) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(base);
  const guint64 n = gst_acoustok_element_available(base);
  if (n == 0) return GST_FLOW_OK;
  const guint64 first = gst_acoustok_element_head_index(base);
  const guint8* data = gst_acoustok_element_peek_items(base, n);
  const GstClockTime pts = gst_acoustok_element_time_of(base, first);
  if (self->reduced_in) return handle_reduced(self, data, n, pts);
  std::vector<int32_t> units(n);
  for (guint64 i = 0; i < n; ++i) {
    guint16 v;
    std::memcpy(&v, data + 2 * i, 2);
    units[i] = v;
  }
  gst_acoustok_element_flush_items(base, n);
  return predicting(self, false) ? add_predicted(self, units, pts) : add_units(self, units, pts);
}

// Ends the utterance in progress: its remaining units are synthesised.
static GstFlowReturn finish_utterance(GstUnitVocoder* self) {
  StreamState& st = *self->state;
  const auto audio = st.stream.finish();
  count_predicted(st);
  st.in_utterance = false;
  return push_audio(self, audio);
}

// Text: every line is one utterance, synthesised whole.
static GstFlowReturn gst_unit_vocoder_handle_line(GstAcoustokElement* base, std::string_view line,
                                                  guint64 line_no, GstClockTime pts) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(base);
  std::vector<int> parsed;
  acoustok::parse_unit_line(line, &parsed, "unitvocoder text input", static_cast<int64_t>(line_no));
  if (parsed.empty()) return GST_FLOW_OK;
  const std::vector<int32_t> units(parsed.begin(), parsed.end());
  const std::string where = "unitvocoder text input: line " + std::to_string(line_no) +
                            " (the vocoder has k=" + std::to_string(self->vocoder->num_units()) + ")";
  const bool reduced = std::adjacent_find(units.begin(), units.end()) == units.end();
  const GstFlowReturn ret =
      predicting(self, reduced) ? add_predicted(self, units, pts, where) : add_units(self, units, pts, where);
  return ret == GST_FLOW_OK ? finish_utterance(self) : ret;
}

// The end of a speech segment ends the utterance.
static GstFlowReturn gst_unit_vocoder_finish_segment(GstAcoustokElement* base, GstAcoustokSegmentEnd) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(base);
  return self->state ? finish_utterance(self) : GST_FLOW_OK;
}

// A unit's samples leave once the rest of its chunk and the lookahead have
// arrived: at most chunk + lookahead - 1 frames later (the crossfade holds
// nothing back; StreamingVocoder::latency_frames). A predicted duration
// first waits for the predictor's context, that many more reduced units:
// their frames are added, the wait when every run is one frame long; as a
// run can be any length, the wait has no upper bound.
static void gst_unit_vocoder_latency(GstAcoustokElement* base, GstClockTime* ours, gboolean* unbounded) {
  GstUnitVocoder* self = GST_UNIT_VOCODER(base);
  GST_OBJECT_LOCK(self);
  const int chunk = static_cast<int>(self->chunk_frames);
  const int lookahead = self->lookahead_frames;
  GST_OBJECT_UNLOCK(self);
  const int field = self->vocoder ? self->vocoder->config().receptive_field_frames() : 0;
  int frames = chunk + (lookahead < 0 ? field : lookahead) - 1;
  if (self->vocoder && predicting(self, self->reduced_in || base->text_in)) {
    frames += self->vocoder->config().duration_context_units();
    *unbounded = TRUE;
  }
  *ours = static_cast<GstClockTime>(frames) * acoustok::gst::kFrameDuration;
}
