// SPDX-License-Identifier: MIT
/**
 * SECTION:element-kmeansunits
 * @title: kmeansunits
 *
 * Turns feature frames into discrete units: each frame becomes the index of
 * its nearest k-means centroid (exact, as `acoustok kmeans predict` and
 * `acoustok units` assign them). The model is a k-means file of
 * `acoustok kmeans fit` / `acoustok units` (safetensors `centroids` [k, dim]),
 * a NumPy .npy of centroids or fairseq's km.bin (scikit-learn k-means saved by
 * joblib.dump or pickle.dump).
 *
 * Output is negotiated: `application/x-acoustok-units` (one uint16 per frame,
 * with the PTS/DURATION/OFFSET of the frames), or `text/x-raw, format=utf8`:
 * one line of space-separated ids per segment, pushed at each
 * `acoustok-segment` event (before the event), at a break in the input (a
 * GAP event, a DISCONT buffer, a PTS jump) and at EOS. Input whose feature
 * dimension is not the model's is refused at caps negotiation with an error
 * naming both.
 *
 * With #GstKMeansUnits:dedup the units are reduced: each run of a repeated
 * unit becomes one unit with its length in frames. Binary output is then
 * `application/x-acoustok-units, reduced=(boolean)true`, per run a uint16
 * unit id and a uint16 run length in frames (a run of more than 65535 frames
 * is cut into several entries), each buffer stamped with the PTS and OFFSET
 * of its first run's first frame and DURATION = the frames of its runs;
 * text output is one line of reduced ids per segment. A run leaves once it
 * has ended: when a different unit follows, at a segment end (an
 * `acoustok-segment` event, a break in the input) or at EOS; a flush drops
 * it. How long a unit is held thus depends on the speech (a unit repeats for
 * a few frames typically, 65535 frames at most) and is not part of the
 * latency the element reports.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=talk.wav ! decodebin ! audioconvert ! \
 *     silencesplit ! xlsrfeat model=xlsr53/ ! kmeansunits model=kmeans.safetensors ! \
 *     text/x-raw,format=utf8 ! filesink location=units.txt
 * ]|
 * Reduced units for a duration-predicting vocoder:
 * |[
 * gst-launch-1.0 filesrc location=talk.wav ! decodebin ! audioconvert ! silencesplit ! \
 *     xlsrfeat model=mhubert/ layer=11 ! kmeansunits model=km1000.bin dedup=true ! \
 *     unitvocoder model=en_ljspeech/g_00500000 ! audioconvert ! autoaudiosink
 * ]|
 */
#include "config.h"

#include <memory>
#include <string>
#include <vector>

#include "acoustok/error.hpp"
#include "acoustok/kmeans.hpp"
#include "acoustok/unit_text.hpp"
#include "gstacoustokelement.hpp"

GST_DEBUG_CATEGORY_STATIC(kmeans_units_debug);
#define GST_CAT_DEFAULT kmeans_units_debug

enum {
  PROP_0,
  PROP_MODEL,
  PROP_DEDUP,
};

#define DEFAULT_DEDUP FALSE

namespace {

// Text mode: the ids of the current segment so far.
struct Line {
  std::string text;
  guint64 frames = 0;
  // Of its first frame, taken while the input's time line still holds it.
  GstClockTime pts = GST_CLOCK_TIME_NONE;
  guint64 offset = GST_BUFFER_OFFSET_NONE;
  int last = -1;  // dedup: the unit written last
};

// dedup, binary: the run held until it ends, and the ended runs of the
// buffer being made.
struct Runs {
  acoustok::RunReducer reducer;
  GstClockTime held_pts = GST_CLOCK_TIME_NONE;  // of the held run's first frame
  guint64 held_offset = GST_BUFFER_OFFSET_NONE;
  std::vector<guint16> out;  // (unit, frames) pairs
  guint64 out_frames = 0;
  GstClockTime out_pts = GST_CLOCK_TIME_NONE;
  guint64 out_offset = GST_BUFFER_OFFSET_NONE;
};

}  // namespace

struct GstKMeansUnits {
  GstAcoustokElement parent;

  // Properties, guarded by the object lock.
  gchar* model_path;
  gboolean dedup;

  acoustok::KMeansModel* kmeans;  // loaded from model_path: NULL->READY .. READY->NULL
  Line* line;                     // READY->PAUSED .. PAUSED->READY
  Runs* runs;
  bool reduce;  // dedup, as of READY->PAUSED
};

struct GstKMeansUnitsClass {
  GstAcoustokElementClass parent_class;
};

#define GST_TYPE_KMEANS_UNITS (gst_kmeans_units_get_type())
#define GST_KMEANS_UNITS(obj) (G_TYPE_CHECK_INSTANCE_CAST((obj), GST_TYPE_KMEANS_UNITS, GstKMeansUnits))
GType gst_kmeans_units_get_type(void);
G_DEFINE_TYPE(GstKMeansUnits, gst_kmeans_units, GST_TYPE_ACOUSTOK_ELEMENT)
GST_ELEMENT_REGISTER_DEFINE(kmeansunits, "kmeansunits", GST_RANK_NONE, GST_TYPE_KMEANS_UNITS)

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_FEATURES_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_UNITS_CAPS "; " ACOUSTOK_TEXT_CAPS));

static void gst_kmeans_units_finalize(GObject* object);
static void gst_kmeans_units_load(GstAcoustokElement* base);
static void gst_kmeans_units_unload(GstAcoustokElement* base);
static void gst_kmeans_units_start(GstAcoustokElement* base);
static void gst_kmeans_units_set_caps(GstAcoustokElement* base, const GstStructure* caps);
static GstCaps* gst_kmeans_units_src_caps(GstAcoustokElement* base);
static GstFlowReturn gst_kmeans_units_handle_input(GstAcoustokElement* base, const guint8* data, gsize size);
static GstFlowReturn gst_kmeans_units_finish_segment(GstAcoustokElement* base, GstAcoustokSegmentEnd reason);
static void gst_kmeans_units_latency(GstAcoustokElement* base, GstClockTime* ours, gboolean* unbounded);

static void gst_kmeans_units_class_init(GstKMeansUnitsClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstAcoustokElementClass* base_class = GST_ACOUSTOK_ELEMENT_CLASS(klass);

  gobject_class->finalize = GST_DEBUG_FUNCPTR(gst_kmeans_units_finalize);

  /**
   * GstKMeansUnits:model:
   *
   * The k-means file: safetensors with `centroids` [k, dim] as `acoustok
   * kmeans fit` and `acoustok units` write it, a NumPy .npy of centroids, or
   * fairseq's km.bin: scikit-learn's KMeans / MiniBatchKMeans saved by
   * joblib.dump (uncompressed) or pickle.dump, read without executing
   * anything (only its cluster_centers_ is used). The kind is recognised by
   * the file's first bytes. Loaded on NULL->READY.
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_MODEL, GstKMeansUnits, model_path,
      gst_acoustok_param_spec_model(
          "k-means model",
          "k-means file: safetensors with centroids [k, dim] (acoustok kmeans fit / acoustok units), "
          "a NumPy .npy of centroids or fairseq's km.bin (scikit-learn k-means, joblib/pickle)"));
  /**
   * GstKMeansUnits:dedup:
   *
   * Reduced units: collapse each run of a repeated unit into one unit and
   * its length in frames (binary caps `reduced=(boolean)true`: per run a
   * uint16 unit and a uint16 frame count; text: the collapsed ids), what
   * duration-predicting vocoders (fairseq's CodeHiFiGAN) read. Runs never
   * span a segment end or a break in the input. A unit leaves when its run
   * ends. Applies on READY->PAUSED.
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_DEDUP, GstKMeansUnits, dedup,
      g_param_spec_boolean("dedup", "Reduced units",
                           "Collapse runs of a repeated unit into one unit with its length in frames "
                           "(caps reduced=true: uint16 unit, uint16 frames); a unit leaves when its run ends",
                           DEFAULT_DEDUP, GST_ACOUSTOK_PARAM_FLAGS));

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(element_class, "k-means units", "Filter/Analyzer/Audio",
                                        "Assigns each feature frame to its nearest k-means centroid",
                                        "acoustok developers");

  base_class->load = GST_DEBUG_FUNCPTR(gst_kmeans_units_load);
  base_class->unload = GST_DEBUG_FUNCPTR(gst_kmeans_units_unload);
  base_class->start = GST_DEBUG_FUNCPTR(gst_kmeans_units_start);
  base_class->set_caps = GST_DEBUG_FUNCPTR(gst_kmeans_units_set_caps);
  base_class->src_caps = GST_DEBUG_FUNCPTR(gst_kmeans_units_src_caps);
  base_class->handle_input = GST_DEBUG_FUNCPTR(gst_kmeans_units_handle_input);
  base_class->finish_segment = GST_DEBUG_FUNCPTR(gst_kmeans_units_finish_segment);
  base_class->latency = GST_DEBUG_FUNCPTR(gst_kmeans_units_latency);

  GST_DEBUG_CATEGORY_INIT(kmeans_units_debug, "kmeansunits", 0, "acoustok k-means units");
}

static void gst_kmeans_units_init(GstKMeansUnits* self) {
  self->kmeans = nullptr;
  self->line = nullptr;
  self->runs = nullptr;
  self->reduce = false;
}

static void gst_kmeans_units_finalize(GObject* object) {
  GstKMeansUnits* self = GST_KMEANS_UNITS(object);
  delete self->line;
  delete self->runs;
  delete self->kmeans;
  G_OBJECT_CLASS(gst_kmeans_units_parent_class)->finalize(object);
}

static void gst_kmeans_units_load(GstAcoustokElement* base) {
  GstKMeansUnits* self = GST_KMEANS_UNITS(base);
  const std::string path = gst_acoustok_element_model_path(base);
  auto fresh = std::make_unique<acoustok::KMeansModel>(acoustok::KMeansModel::load(path));
  GST_INFO_OBJECT(self, "k-means %s: k=%d, dim=%d", path.c_str(), static_cast<int>(fresh->k()),
                  static_cast<int>(fresh->dim()));
  delete self->kmeans;
  self->kmeans = fresh.release();
}

static void gst_kmeans_units_unload(GstAcoustokElement* base) {
  GstKMeansUnits* self = GST_KMEANS_UNITS(base);
  delete self->kmeans;
  self->kmeans = nullptr;
}

static void gst_kmeans_units_start(GstAcoustokElement* base) {
  GstKMeansUnits* self = GST_KMEANS_UNITS(base);
  delete self->line;
  self->line = new Line();
  delete self->runs;
  self->runs = new Runs();
  GST_OBJECT_LOCK(self);
  self->reduce = self->dedup;
  GST_OBJECT_UNLOCK(self);
  GST_DEBUG_OBJECT(self, "streaming: %s units", self->reduce ? "reduced" : "frame");
}

// The feature dimension must be the model's.
static void gst_kmeans_units_set_caps(GstAcoustokElement* base, const GstStructure* caps) {
  GstKMeansUnits* self = GST_KMEANS_UNITS(base);
  gint dim = 0;
  if (!gst_structure_get_int(caps, "dim", &dim) || dim != self->kmeans->dim()) {
    throw acoustok::Error("feature dimension " + std::to_string(dim) +
                          " of the input differs from the k-means model's " +
                          std::to_string(self->kmeans->dim()) + " (" + self->model_path + ")");
  }
  GST_DEBUG_OBJECT(self, "input: %d-dim features", dim);
  base->item_bytes = static_cast<gsize>(dim) * sizeof(float);
  base->items_per_second = acoustok::grid::kFrameRate;
}

static GstCaps* gst_kmeans_units_src_caps(GstAcoustokElement* base) {
  GstKMeansUnits* self = GST_KMEANS_UNITS(base);
  GstCaps* caps = gst_caps_from_string(ACOUSTOK_UNITS_CAPS "; " ACOUSTOK_TEXT_CAPS);
  gst_structure_set(gst_caps_get_structure(caps, 0), "vocab-size", G_TYPE_INT,
                    static_cast<gint>(self->kmeans->k()), nullptr);
  if (self->reduce)
    gst_structure_set(gst_caps_get_structure(caps, 0), "reduced", G_TYPE_BOOLEAN, TRUE, nullptr);
  return caps;
}

// Text mode: pushes the current line (possibly empty: a segment without a
// whole frame still gets its line).
static GstFlowReturn push_line(GstKMeansUnits* self) {
  GstAcoustokElement* base = GST_ACOUSTOK_ELEMENT(self);
  Line& line = *self->line;
  const std::string text = line.text + "\n";
  GstBuffer* out = gst_buffer_new_allocate(nullptr, text.size(), nullptr);
  gst_buffer_fill(out, 0, text.data(), text.size());
  const guint64 head = gst_acoustok_element_head_index(base);
  GST_BUFFER_PTS(out) = line.frames ? line.pts : gst_acoustok_element_time_of(base, head);
  GST_BUFFER_DURATION(out) = line.frames * acoustok::gst::kFrameDuration;
  GST_BUFFER_OFFSET(out) = line.frames ? line.offset : gst_acoustok_element_offset_of(base, head);
  if (GST_BUFFER_OFFSET_IS_VALID(out)) GST_BUFFER_OFFSET_END(out) = GST_BUFFER_OFFSET(out) + line.frames;
  *self->line = Line();
  return gst_acoustok_element_push(base, out);
}

// dedup: an ended run joins the buffer being made.
static void add_run(Runs& runs, const acoustok::UnitRun& run) {
  if (runs.out.empty()) {
    runs.out_pts = runs.held_pts;
    runs.out_offset = runs.held_offset;
  }
  runs.out.push_back(static_cast<guint16>(run.unit));
  runs.out.push_back(static_cast<guint16>(run.frames));
  runs.out_frames += static_cast<guint64>(run.frames);
}

// dedup: pushes the ended runs, if any, as one buffer.
static GstFlowReturn push_runs(GstKMeansUnits* self) {
  Runs& runs = *self->runs;
  if (runs.out.empty()) return GST_FLOW_OK;
  const gsize bytes = runs.out.size() * sizeof(guint16);
  GstBuffer* out = gst_buffer_new_allocate(nullptr, bytes, nullptr);
  gst_buffer_fill(out, 0, runs.out.data(), bytes);
  GST_BUFFER_PTS(out) = runs.out_pts;
  GST_BUFFER_DURATION(out) = runs.out_frames * acoustok::gst::kFrameDuration;
  GST_BUFFER_OFFSET(out) = runs.out_offset;
  if (runs.out_offset != GST_BUFFER_OFFSET_NONE)
    GST_BUFFER_OFFSET_END(out) = runs.out_offset + runs.out_frames;
  runs.out.clear();
  runs.out_frames = 0;
  return gst_acoustok_element_push(GST_ACOUSTOK_ELEMENT(self), out);
}

// Every whole frame in the adapter: units out, or onto the segment's line.
static GstFlowReturn gst_kmeans_units_handle_input(GstAcoustokElement* base, const guint8*, gsize) {
  GstKMeansUnits* self = GST_KMEANS_UNITS(base);
  const guint64 frames = gst_acoustok_element_available(base);
  if (frames == 0) return GST_FLOW_OK;
  const GstFlowReturn ready = gst_acoustok_element_prepare_output(base);
  if (ready != GST_FLOW_OK) return ready;
  const guint64 first = gst_acoustok_element_head_index(base);
  const auto* x = reinterpret_cast<const float*>(gst_acoustok_element_peek_items(base, frames));
  const std::vector<int32_t> labels = self->kmeans->predict(x, static_cast<int64_t>(frames));
  if (base->text_out) {
    Line& line = *self->line;
    if (line.frames == 0) {
      line.pts = gst_acoustok_element_time_of(base, first);
      line.offset = gst_acoustok_element_offset_of(base, first);
    }
    for (int32_t l : labels) {
      if (self->reduce && l == line.last) continue;
      if (!line.text.empty()) line.text += ' ';
      line.text += std::to_string(l);
      line.last = l;
    }
    line.frames += frames;
    gst_acoustok_element_flush_items(base, frames);
    return GST_FLOW_OK;
  }
  if (self->reduce) {
    Runs& runs = *self->runs;
    acoustok::UnitRun done;
    for (guint64 i = 0; i < frames; ++i) {
      if (!runs.reducer.push(labels[i], &done)) continue;
      if (done.frames > 0) add_run(runs, done);
      runs.held_pts = gst_acoustok_element_time_of(base, first + i);
      runs.held_offset = gst_acoustok_element_offset_of(base, first + i);
    }
    gst_acoustok_element_flush_items(base, frames);
    return push_runs(self);
  }
  const GstClockTime pts = gst_acoustok_element_time_of(base, first);
  const guint64 offset = gst_acoustok_element_offset_of(base, first);
  gst_acoustok_element_flush_items(base, frames);
  GstBuffer* out = gst_buffer_new_allocate(nullptr, frames * sizeof(guint16), nullptr);
  GstMapInfo map;
  gst_buffer_map(out, &map, GST_MAP_WRITE);
  auto* units = reinterpret_cast<guint16*>(map.data);
  for (guint64 i = 0; i < frames; ++i) units[i] = static_cast<guint16>(labels[i]);
  gst_buffer_unmap(out, &map);
  GST_BUFFER_PTS(out) = pts;
  GST_BUFFER_DURATION(out) =
      frames * acoustok::gst::kFrameDuration;  // the frames carried, never a gap after them
  GST_BUFFER_OFFSET(out) = offset;
  if (offset != GST_BUFFER_OFFSET_NONE) GST_BUFFER_OFFSET_END(out) = offset + frames;
  return gst_acoustok_element_push(base, out);
}

// Text mode: a segment's line goes out when it ends; at EOS or a break in the
// input (which ends the line: units on both sides of a gap are not one
// segment) only when it has frames.
static GstFlowReturn gst_kmeans_units_finish_segment(GstAcoustokElement* base, GstAcoustokSegmentEnd reason) {
  GstKMeansUnits* self = GST_KMEANS_UNITS(base);
  if (!base->text_out && self->reduce && self->runs) {
    // A run ends with its segment: the next frame starts a new one.
    acoustok::UnitRun done;
    if (self->runs->reducer.finish(&done)) add_run(*self->runs, done);
    return push_runs(self);
  }
  if (!base->text_out || !self->line) return GST_FLOW_OK;
  if (reason != GST_ACOUSTOK_SEGMENT_EVENT && self->line->frames == 0) return GST_FLOW_OK;
  return push_line(self);
}

// Units go out with the frames they come from; a text line waits for the end
// of its segment, which has no bound. dedup holds a unit until its run ends:
// that wait is the speech's (a run of one unit lasts as long as the sound
// does), not the element's, so it is left out: reporting "unbounded" would
// make a live pipeline give up on a wait that is a few frames typically (and
// 65535 frames at most); docs/gstreamer.md says so.
static void gst_kmeans_units_latency(GstAcoustokElement* base, GstClockTime*, gboolean* unbounded) {
  *unbounded = base->text_out;
}
