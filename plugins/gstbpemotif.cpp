// SPDX-License-Identifier: MIT
/**
 * SECTION:element-bpemotif
 * @title: bpemotif
 *
 * Encodes units into BPE motifs with a model from `acoustok bpe` (a
 * SentencePiece BPE model over units), exactly as `acoustok bpe encode` does.
 *
 * Input: units, binary (`application/x-acoustok-units`, uint16 per frame) or
 * text (`text/x-raw, format=utf8`, one segment of space-separated ids per
 * line), or reduced units (`application/x-acoustok-units,
 * reduced=(boolean)true`: per run a uint16 unit and a uint16 frame count, as
 * `kmeansunits dedup=true` makes them). Output: motifs, binary (`application/x-acoustok-motifs`, per motif an
 * int32 token id and a uint32 frame count) or text (one line per segment,
 * each motif as its unit ids joined by '-'); downstream caps choose.
 *
 * One encoding per segment. A segment of binary input ends with an
 * `acoustok-segment` event (forwarded after the segment's motifs), a
 * discontinuity (DISCONT flag, a GAP event or a timestamp jump of more than
 * 40 ms), EOS, or when #GstBpeMotif:max-window-time of units is
 * pending; a stream without segment events is thus encoded in windows of
 * max-window-time. A line of text input is one segment. Each output buffer
 * holds the motifs of one segment: PTS = time of its first frame, DURATION =
 * frames x 20 ms, OFFSET/OFFSET_END = its frame indices. Text input has no
 * timestamps of its own: its lines follow each other from the first buffer's
 * PTS (or 0). Text lines are numbered from 1 in error messages.
 *
 * Reduced input is encoded over its reduced ids, and a motif's frame count is
 * the sum of the runs it covers, so the motifs of reduced units keep the
 * time line of the frames: a `--dedup` model gives the same motifs, frame
 * counts and timestamps as on the frame units the runs came from (it merges
 * neighbours of one unit, a run cut in two, as it collapses frames); a model
 * trained without `--dedup` sees the reduced ids as they are.
 * max-window-time counts frames, not runs.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=units.txt ! text/x-raw,format=utf8 ! \
 *     bpemotif model=bpe/bpe.model ! text/x-raw,format=utf8 ! filesink location=motifs.txt
 * ]|
 */
#include "config.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "acoustok/error.hpp"
#include "acoustok/motif_model.hpp"
#include "acoustok/unit_text.hpp"
#include "gstacoustokelement.hpp"

GST_DEBUG_CATEGORY_STATIC(bpe_motif_debug);
#define GST_CAT_DEFAULT bpe_motif_debug

#define DEFAULT_MAX_WINDOW_TIME (60 * GST_SECOND)

enum {
  PROP_0,
  PROP_MODEL,
  PROP_MAX_WINDOW_TIME,
};

namespace {

using acoustok::gst::kFrameDuration;

// The open segment, made on READY->PAUSED and after a flush.
struct MotifState {
  std::vector<int> frames;    // its units (reduced input: one per run)
  std::vector<int64_t> runs;  // frames of each (1 but for reduced input)
  guint64 frame_count = 0;    // sum of runs
  guint64 frames_seen = 0;    // reduced input: frames since start (OFFSET when the input has none)
  bool reduced = false;       // the input caps say reduced=true
  GstClockTime first_pts = GST_CLOCK_TIME_NONE;
  guint64 first_offset = 0;   // frame index of frames[0]
  guint64 window_frames = 0;  // from max-window-time; 0: unbounded
  // Text input has no time of its own: lines follow each other from the
  // first buffer's PTS (or 0), and are counted in frames.
  GstClockTime text_pts = GST_CLOCK_TIME_NONE;
  guint64 text_offset = 0;
  // The input's vocab-size (k) when its caps say it; a unit at or above it is
  // no unit of that k-means model: warned about once per stream.
  int vocab_size = 0;
  bool warned_out_of_vocab = false;
};

}  // namespace

struct GstBpeMotif {
  GstAcoustokElement parent;

  // Properties, guarded by the object lock.
  gchar* model_path;
  GstClockTime max_window_time;

  acoustok::MotifModel* bpe;  // loaded from model_path: NULL->READY .. READY->NULL
  MotifState* state;          // streaming thread only
};

struct GstBpeMotifClass {
  GstAcoustokElementClass parent_class;
};

#define GST_TYPE_BPE_MOTIF (gst_bpe_motif_get_type())
#define GST_BPE_MOTIF(obj) (G_TYPE_CHECK_INSTANCE_CAST((obj), GST_TYPE_BPE_MOTIF, GstBpeMotif))
GType gst_bpe_motif_get_type(void);
G_DEFINE_TYPE(GstBpeMotif, gst_bpe_motif, GST_TYPE_ACOUSTOK_ELEMENT)
GST_ELEMENT_REGISTER_DEFINE(bpemotif, "bpemotif", GST_RANK_NONE, GST_TYPE_BPE_MOTIF)

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_UNITS_CAPS "; " ACOUSTOK_TEXT_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_MOTIFS_CAPS "; " ACOUSTOK_TEXT_CAPS));

static void gst_bpe_motif_finalize(GObject* object);
static void gst_bpe_motif_load(GstAcoustokElement* base);
static void gst_bpe_motif_unload(GstAcoustokElement* base);
static void gst_bpe_motif_start(GstAcoustokElement* base);
static void gst_bpe_motif_set_caps(GstAcoustokElement* base, const GstStructure* caps);
static GstCaps* gst_bpe_motif_src_caps(GstAcoustokElement* base);
static GstFlowReturn gst_bpe_motif_handle_input(GstAcoustokElement* base, const guint8* data, gsize size);
static GstFlowReturn gst_bpe_motif_handle_line(GstAcoustokElement* base, std::string_view line,
                                               guint64 line_no, GstClockTime pts);
static GstFlowReturn gst_bpe_motif_finish_segment(GstAcoustokElement* base, GstAcoustokSegmentEnd reason);
static void gst_bpe_motif_latency(GstAcoustokElement* base, GstClockTime* ours, gboolean* unbounded);

static void gst_bpe_motif_class_init(GstBpeMotifClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstAcoustokElementClass* base_class = GST_ACOUSTOK_ELEMENT_CLASS(klass);

  gobject_class->finalize = GST_DEBUG_FUNCPTR(gst_bpe_motif_finalize);

  /**
   * GstBpeMotif:model:
   *
   * The bpe.model `acoustok bpe` trained (a SentencePiece BPE model over
   * units). Loaded on NULL->READY.
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_MODEL, GstBpeMotif, model_path,
      gst_acoustok_param_spec_model(
          "BPE model", "Path of the BPE model (bpe.model from `acoustok bpe`), loaded on NULL->READY"));
  /**
   * GstBpeMotif:max-window-time:
   *
   * Binary units without a segment end are encoded once this much, in
   * nanoseconds, has gathered; 0 waits for the segment end (unbounded latency).
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_MAX_WINDOW_TIME, GstBpeMotif, max_window_time,
      g_param_spec_uint64(
          "max-window-time", "Maximum window (ns)",
          "Pending units are encoded once this much (ns) has gathered without a segment end "
          "(the window rule of streams without acoustok-segment events; bounds latency). 0 = no bound",
          0, G_MAXUINT64, DEFAULT_MAX_WINDOW_TIME, GST_ACOUSTOK_PARAM_FLAGS));

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(element_class, "BPE motif encoder", "Codec/Encoder/Analyzer",
                                        "Encodes unit segments into SentencePiece BPE motifs",
                                        "acoustok developers");

  base_class->load = GST_DEBUG_FUNCPTR(gst_bpe_motif_load);
  base_class->unload = GST_DEBUG_FUNCPTR(gst_bpe_motif_unload);
  base_class->start = GST_DEBUG_FUNCPTR(gst_bpe_motif_start);
  base_class->set_caps = GST_DEBUG_FUNCPTR(gst_bpe_motif_set_caps);
  base_class->src_caps = GST_DEBUG_FUNCPTR(gst_bpe_motif_src_caps);
  base_class->handle_input = GST_DEBUG_FUNCPTR(gst_bpe_motif_handle_input);
  base_class->handle_line = GST_DEBUG_FUNCPTR(gst_bpe_motif_handle_line);
  base_class->finish_segment = GST_DEBUG_FUNCPTR(gst_bpe_motif_finish_segment);
  base_class->latency = GST_DEBUG_FUNCPTR(gst_bpe_motif_latency);

  GST_DEBUG_CATEGORY_INIT(bpe_motif_debug, "bpemotif", 0, "acoustok BPE motif encoder");
}

static void gst_bpe_motif_init(GstBpeMotif* self) {
  self->bpe = nullptr;
  self->state = nullptr;
}

static void gst_bpe_motif_finalize(GObject* object) {
  GstBpeMotif* self = GST_BPE_MOTIF(object);
  delete self->state;
  delete self->bpe;
  G_OBJECT_CLASS(gst_bpe_motif_parent_class)->finalize(object);
}

static void gst_bpe_motif_load(GstAcoustokElement* base) {
  GstBpeMotif* self = GST_BPE_MOTIF(base);
  const std::string path = gst_acoustok_element_model_path(base);
  auto fresh = std::make_unique<acoustok::MotifModel>(path);
  GST_INFO_OBJECT(self, "model %s: %d pieces%s", path.c_str(), fresh->vocab_size(),
                  fresh->dedup() ? ", collapses repeated units" : "");
  delete self->bpe;
  self->bpe = fresh.release();
}

static void gst_bpe_motif_unload(GstAcoustokElement* base) {
  GstBpeMotif* self = GST_BPE_MOTIF(base);
  delete self->bpe;
  self->bpe = nullptr;
}

static void gst_bpe_motif_start(GstAcoustokElement* base) {
  GstBpeMotif* self = GST_BPE_MOTIF(base);
  auto fresh = std::make_unique<MotifState>();
  GST_OBJECT_LOCK(self);
  // A window holds at least one frame.
  fresh->window_frames = self->max_window_time ? MAX(self->max_window_time / kFrameDuration, 1) : 0;
  GST_OBJECT_UNLOCK(self);
  if (self->state) {
    // After a flush the caps stay those of the stream.
    fresh->reduced = self->state->reduced;
    fresh->vocab_size = self->state->vocab_size;
  }
  delete self->state;
  self->state = fresh.release();
}

static void gst_bpe_motif_set_caps(GstAcoustokElement* base, const GstStructure* caps) {
  GstBpeMotif* self = GST_BPE_MOTIF(base);
  gint k = 0;
  gboolean reduced = FALSE;
  if (!gst_structure_get_boolean(caps, "reduced", &reduced)) reduced = FALSE;
  if (self->state) {
    self->state->vocab_size = gst_structure_get_int(caps, "vocab-size", &k) ? k : 0;
    self->state->reduced = reduced;
  }
  GST_DEBUG_OBJECT(self, "input: %s%s units, vocab-size %d", base->text_in ? "text" : "binary",
                   reduced ? " reduced" : "", k);
  // Reduced: one item per run, a uint16 unit and a uint16 frame count.
  base->item_bytes = (reduced ? 2 : 1) * sizeof(guint16);
  base->items_per_second = acoustok::grid::kFrameRate;
}

static GstCaps* gst_bpe_motif_src_caps(GstAcoustokElement* base) {
  GstBpeMotif* self = GST_BPE_MOTIF(base);
  GstCaps* caps = gst_caps_from_string(ACOUSTOK_MOTIFS_CAPS "; " ACOUSTOK_TEXT_CAPS);
  gst_structure_set(gst_caps_get_structure(caps, 0), "vocab-size", G_TYPE_INT, self->bpe->vocab_size(),
                    nullptr);
  return caps;
}

// ---- output -------------------------------------------------------------

static GstBuffer* motif_buffer(bool text, const acoustok::Encoding& enc) {
  if (text) {
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

// Encodes the open segment and pushes its motifs (an empty text line stays
// an empty line when `keep_empty`).
static GstFlowReturn flush_segment(GstBpeMotif* self, bool keep_empty = false) {
  GstAcoustokElement* base = GST_ACOUSTOK_ELEMENT(self);
  MotifState& st = *self->state;
  if (st.frames.empty() && !keep_empty) return GST_FLOW_OK;
  // Downstream may ask for the other format (RECONFIGURE) between segments.
  const GstFlowReturn ready = gst_acoustok_element_prepare_output(base);
  if (ready != GST_FLOW_OK) return ready;
  GstBuffer* out = motif_buffer(base->text_out, self->bpe->encode_runs(st.frames, st.runs));
  const guint64 n = st.frame_count;
  GST_BUFFER_PTS(out) = st.first_pts;
  GST_BUFFER_DURATION(out) = n * kFrameDuration;
  GST_BUFFER_OFFSET(out) = st.first_offset;
  GST_BUFFER_OFFSET_END(out) = st.first_offset + n;
  st.frames.clear();
  st.runs.clear();
  st.frame_count = 0;
  GST_LOG_OBJECT(self, "segment of %" G_GUINT64_FORMAT " frames at %" GST_TIME_FORMAT, n,
                 GST_TIME_ARGS(st.first_pts));
  return gst_acoustok_element_push(base, out);
}

// ---- input --------------------------------------------------------------

// Binary units: each joins the open segment, which is encoded once it holds
// max-window-time of units.
static GstFlowReturn gst_bpe_motif_handle_input(GstAcoustokElement* base, const guint8*, gsize) {
  GstBpeMotif* self = GST_BPE_MOTIF(base);
  MotifState& st = *self->state;
  const guint64 n = gst_acoustok_element_available(base);
  const guint64 first = gst_acoustok_element_head_index(base);
  std::vector<int> units(n);
  std::vector<int64_t> runs(n, 1);
  const guint8* data = gst_acoustok_element_peek_items(base, n);
  const gsize stride = base->item_bytes;
  for (guint64 i = 0; i < n; ++i) {
    guint16 u, r = 1;
    std::memcpy(&u, data + stride * i, 2);
    if (st.reduced) std::memcpy(&r, data + stride * i + 2, 2);
    const std::string where = (st.reduced ? "run " : "frame ") + std::to_string(first + i);
    if (u > acoustok::kMaxUnitId) {
      gst_acoustok_element_flush_items(base, 0);
      throw acoustok::Error("unit " + std::to_string(u) + " at " + where + " is beyond the largest unit id " +
                            std::to_string(acoustok::kMaxUnitId) + " a BPE model can hold");
    }
    if (r == 0) {
      gst_acoustok_element_flush_items(base, 0);
      throw acoustok::Error("reduced units: " + where + " (unit " + std::to_string(u) + ") lasts 0 frames");
    }
    units[i] = u;
    runs[i] = r;
    if (st.vocab_size > 0 && u >= st.vocab_size && !st.warned_out_of_vocab) {
      st.warned_out_of_vocab = true;
      GST_ELEMENT_WARNING(
          self, STREAM, FORMAT,
          ("unit %u at frame %" G_GUINT64_FORMAT " is not below the input's vocab-size %d: its motifs "
           "are not motifs of that model's units",
           u, first + i, st.vocab_size),
          (nullptr));
    }
  }
  // Frame input: item i is frame first + i, timed by the base. Reduced
  // input: runs follow each other from the buffer's first one, and the base
  // is told where the next buffer should start (to tell a break from input
  // that follows on).
  GstClockTime t = gst_acoustok_element_time_of(base, first);
  guint64 offset = gst_acoustok_element_offset_of(base, first);
  gst_acoustok_element_flush_items(base, n);
  GstFlowReturn ret = GST_FLOW_OK;
  for (guint64 i = 0; i < n && ret == GST_FLOW_OK; ++i) {
    if (!st.reduced) {
      t = gst_acoustok_element_time_of(base, first + i);
      offset = gst_acoustok_element_offset_of(base, first + i);
    }
    if (st.frames.empty()) {
      st.first_pts = t;
      st.first_offset = offset != GST_BUFFER_OFFSET_NONE ? offset : st.reduced ? st.frames_seen : first + i;
    }
    st.frames.push_back(units[i]);
    st.runs.push_back(runs[i]);
    st.frame_count += static_cast<guint64>(runs[i]);
    if (st.reduced) {
      const guint64 r = static_cast<guint64>(runs[i]);
      if (GST_CLOCK_TIME_IS_VALID(t)) t += r * kFrameDuration;
      if (offset != GST_BUFFER_OFFSET_NONE) offset += r;
      st.frames_seen += r;
    }
    if (st.window_frames > 0 && st.frame_count >= st.window_frames) ret = flush_segment(self);
  }
  if (st.reduced) gst_acoustok_element_continue_at(base, t, offset);
  return ret;
}

// Every complete line of text is one segment, whatever its length: the line
// is in memory already, and an output line per input line keeps them aligned.
static GstFlowReturn gst_bpe_motif_handle_line(GstAcoustokElement* base, std::string_view line,
                                               guint64 line_no, GstClockTime pts) {
  GstBpeMotif* self = GST_BPE_MOTIF(base);
  MotifState& st = *self->state;
  if (!GST_CLOCK_TIME_IS_VALID(st.text_pts)) st.text_pts = GST_CLOCK_TIME_IS_VALID(pts) ? pts : 0;
  acoustok::parse_unit_line(line, &st.frames, "bpemotif text input", static_cast<int64_t>(line_no));
  // Text carries no run lengths: one frame per id.
  st.runs.assign(st.frames.size(), 1);
  st.frame_count = st.frames.size();
  st.first_pts = st.text_pts;
  st.first_offset = st.text_offset;
  st.text_pts += st.frames.size() * kFrameDuration;
  st.text_offset += st.frames.size();
  return flush_segment(self, /*keep_empty=*/true);
}

static GstFlowReturn gst_bpe_motif_finish_segment(GstAcoustokElement* base, GstAcoustokSegmentEnd) {
  GstBpeMotif* self = GST_BPE_MOTIF(base);
  return self->state ? flush_segment(self) : GST_FLOW_OK;
}

// A segment's motifs leave once it ends: at most a window later.
static void gst_bpe_motif_latency(GstAcoustokElement* base, GstClockTime* ours, gboolean* unbounded) {
  GstBpeMotif* self = GST_BPE_MOTIF(base);
  GST_OBJECT_LOCK(self);
  *ours = self->max_window_time;
  GST_OBJECT_UNLOCK(self);
  *unbounded = *ours == 0;
}
