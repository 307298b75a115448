// SPDX-License-Identifier: MIT
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
 * from a window where it has at least that much audio around it. A break in
 * the input (a GAP event, a DISCONT buffer, a PTS jump of more than 40 ms)
 * ends the segment or window like a segment event: the frames after
 * it start from its own PTS, their OFFSET from 0.
 *
 * Streaming (#GstXlsrFeat:chunk-time above 0, for live chains): frames leave
 * a chunk at a time, each chunk as soon as #GstXlsrFeat:lookahead-time of
 * audio after it has arrived, computed on the audio then visible:
 * #GstXlsrFeat:context-time before the chunk, the chunk, the lookahead
 * (clipped to the segment). A frame leaves at most chunk-time +
 * lookahead-time + the compute of one run after its audio arrived, whatever
 * the segment length. The conv front end of each frame is computed once
 * (exact: it sees only its own 25 ms); the older context's keys and values
 * are reused (#GstXlsrFeat:recompute-time). Attention over the truncated context
 * is the approximation streaming costs, and models that normalise their input
 * use the running mean and variance of the segment so far. With a context
 * and lookahead longer than the segment the frames equal the offline ones.
 * The chunks sit on a fixed grid of the segment's frames, so the frames do not
 * depend on how the input was buffered. In a live pipeline that the model
 * cannot keep up with, the element posts a QoS message and a warning once
 * the input waits over a second longer than the latency it reported.
 *
 * Input: F32LE audio at any rate from 1 kHz to 768 kHz, any channel count,
 * made 16 kHz mono exactly as the command line reads a file (channels
 * averaged, soxr's HQ resampler; one resampler per segment, drained at its
 * end), so no audioresample is needed.
 *
 * Output: `application/x-acoustok-features` (float32 [frames, dim] per
 * buffer), PTS = time of the first frame on the source timeline (frame i of a
 * segment starting at t is at t + 20 ms i), DURATION = frames x 20 ms, OFFSET =
 * index of the first frame within its segment.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=talk.wav ! decodebin ! audioconvert ! \
 *     silencesplit ! xlsrfeat model=models/xlsr53 layer=14 ! kmeansunits model=kmeans.safetensors ! \
 *     text/x-raw,format=utf8 ! filesink location=units.txt
 * ]|
 */
#include "config.h"

#include <cstdlib>
#include <memory>
#include <string>

#include "acoustok/error.hpp"
#include "acoustok/process.hpp"
#include "gstxlsrfeat.hpp"

using acoustok::grid::kHop;

GST_DEBUG_CATEGORY(xlsr_feat_debug);

#define DEFAULT_LAYER 14
#define DEFAULT_PRECISION static_cast<gint>(acoustok::Precision::fp32)
#define DEFAULT_THREADS 0
#define DEFAULT_MAX_WINDOW_TIME (30 * GST_SECOND)
#define DEFAULT_CONTEXT_TIME (2 * GST_SECOND)
#define DEFAULT_CHUNK_TIME 0
#define DEFAULT_LOOKAHEAD_TIME (160 * GST_MSECOND)
#define DEFAULT_RECOMPUTE_TIME (320 * GST_MSECOND)

enum {
  PROP_0,
  PROP_MODEL,
  PROP_LAYER,
  PROP_DEVICE,
  PROP_PRECISION,
  PROP_THREADS,
  PROP_MAX_WINDOW_TIME,
  PROP_CONTEXT_TIME,
  PROP_CHUNK_TIME,
  PROP_LOOKAHEAD_TIME,
  PROP_RECOMPUTE_TIME,
};

G_DEFINE_TYPE(GstXlsrFeat, gst_xlsr_feat, GST_TYPE_ACOUSTOK_ELEMENT)
GST_ELEMENT_REGISTER_DEFINE(xlsrfeat, "xlsrfeat", GST_RANK_NONE, GST_TYPE_XLSR_FEAT)

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_AUDIO_ANY_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(ACOUSTOK_FEATURES_CAPS));

static void gst_xlsr_feat_finalize(GObject* object);
static void gst_xlsr_feat_load(GstAcoustokElement* base);
static void gst_xlsr_feat_unload(GstAcoustokElement* base);
static void gst_xlsr_feat_start(GstAcoustokElement* base);
static void gst_xlsr_feat_set_caps(GstAcoustokElement* base, const GstStructure* caps);
static GstCaps* gst_xlsr_feat_src_caps(GstAcoustokElement* base);
static GstFlowReturn gst_xlsr_feat_handle_input(GstAcoustokElement* base, const guint8* data, gsize size);
static GstFlowReturn gst_xlsr_feat_finish_segment(GstAcoustokElement* base, GstAcoustokSegmentEnd reason);
static void gst_xlsr_feat_latency(GstAcoustokElement* base, GstClockTime* ours, gboolean* unbounded);

static void gst_xlsr_feat_class_init(GstXlsrFeatClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstAcoustokElementClass* base_class = GST_ACOUSTOK_ELEMENT_CLASS(klass);

  gobject_class->finalize = GST_DEBUG_FUNCPTR(gst_xlsr_feat_finalize);

  /**
   * GstXlsrFeat:model:
   *
   * A Hugging Face model folder (config.json, optional preprocessor_config.json,
   * model.safetensors or pytorch_model.bin) of the wav2vec2 family or HuBERT,
   * or a fairseq wav2vec2 / HuBERT checkpoint file (hubert_base_ls960.pt).
   * Loaded on NULL->READY; only the blocks up to #GstXlsrFeat:layer are read.
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_MODEL, GstXlsrFeat, model_path,
      gst_acoustok_param_spec_model(
          "Feature model",
          "Hugging Face wav2vec2 / XLSR-53 / HuBERT folder (config.json, model.safetensors "
          "or pytorch_model.bin), e.g. models/xlsr53 from models/fetch-xlsr53.sh, or a "
          "fairseq checkpoint (.pt)"));
  /**
   * GstXlsrFeat:layer:
   *
   * The 1-based transformer block whose output is the feature (Hugging Face
   * `hidden_states[layer]`); blocks above it never run.
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_LAYER, GstXlsrFeat, layer,
      g_param_spec_int("layer", "Layer",
                       "Transformer layer whose output is the feature (1-based; blocks above it never run)",
                       1, 1024, DEFAULT_LAYER, GST_ACOUSTOK_PARAM_FLAGS));
  /**
   * GstXlsrFeat:device:
   *
   * Where the model runs: `cpu`, `cuda` (LibTorch with CUDA and a visible
   * GPU), or `auto` (the default: CUDA when there is one, else the CPU, and
   * the CPU with `precision=bf16`). The same choices and default as
   * unitvocoder's.
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(klass, PROP_DEVICE, GstXlsrFeat, device,
                                        gst_acoustok_param_spec_device("Where the model runs"));
  /**
   * GstXlsrFeat:precision:
   *
   * Arithmetic of the CPU path: `fp32`, or `bf16` (matrix products and
   * convolutions on bfloat16 inputs and weights with float32 accumulation;
   * layer norm and softmax in float32), faster on CPUs with AVX512_BF16 or
   * AMX (docs/gstreamer.md gives the speed-up and the agreement of the
   * units with fp32's). Loading fails on other CPUs and with `device=cuda`.
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_PRECISION, GstXlsrFeat, precision,
      g_param_spec_enum("precision", "Precision",
                        "fp32, or bf16 products with float32 accumulation (AVX512_BF16 or AMX CPUs)",
                        acoustok::gst::precision_get_type(), DEFAULT_PRECISION, GST_ACOUSTOK_PARAM_FLAGS));
  /**
   * GstXlsrFeat:threads:
   *
   * LibTorch's intra-op thread count. Process-wide by nature: LibTorch's and
   * OpenMP's thread pools are one per process, so a value above 0 sets the
   * count for every model in the process when this element's model loads (a
   * count above the CPUs this process may use is lowered to it, with a
   * warning). 0, the default, leaves the count as the application has it.
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_THREADS, GstXlsrFeat, threads,
      g_param_spec_int(
          "threads", "Threads",
          "LibTorch intra-op threads, set for the whole process (0: leave the process's count alone)", 0,
          1024, DEFAULT_THREADS, GST_ACOUSTOK_PARAM_FLAGS));
  /**
   * GstXlsrFeat:max-window-time:
   *
   * The longest audio run through the model at once, in nanoseconds. Longer
   * segments, and streams without `acoustok-segment` events, are cut into
   * overlapping windows of at most this length; it is also the latency added.
   * At most an hour (a longer one fails at NULL->READY).
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_MAX_WINDOW_TIME, GstXlsrFeat, max_window_time,
      g_param_spec_uint64(
          "max-window-time", "Maximum window (ns)",
          "Longest audio run through the model at once (ns); longer segments and streams without "
          "segment events are cut into overlapping windows of at most this",
          GST_SECOND, G_MAXUINT64, DEFAULT_MAX_WINDOW_TIME, GST_ACOUSTOK_PARAM_FLAGS));
  /**
   * GstXlsrFeat:context-time:
   *
   * Windows: audio every frame keeps on each side where a long span is cut
   * into windows, in nanoseconds; less than half of
   * #GstXlsrFeat:max-window-time. Streaming: the audio before each chunk
   * that the model sees (it costs compute, not latency).
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_CONTEXT_TIME, GstXlsrFeat, context_time,
      g_param_spec_uint64(
          "context-time", "Context (ns)",
          "Windows: audio a frame keeps on each side where a long span is cut (ns; less than half of "
          "max-window-time). Streaming: audio before each chunk the model sees",
          0, G_MAXUINT64, DEFAULT_CONTEXT_TIME, GST_ACOUSTOK_PARAM_FLAGS));
  /**
   * GstXlsrFeat:chunk-time:
   *
   * Streaming: new audio per model run, in nanoseconds, rounded up to whole
   * 20 ms frames; at least 20 ms. 0 (the default) runs whole segments and
   * windows (exact, with a latency of up to #GstXlsrFeat:max-window-time).
   * A live chain uses e.g. chunk-time=320000000 lookahead-time=160000000
   * context-time=1000000000 (docs/gstreamer.md has the measured curve).
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_CHUNK_TIME, GstXlsrFeat, chunk_time,
      g_param_spec_uint64(
          "chunk-time", "Chunk (ns)",
          "Streaming: new audio per model run (ns, whole 20 ms frames); 0: whole segments and windows", 0,
          G_MAXUINT64, DEFAULT_CHUNK_TIME, GST_ACOUSTOK_PARAM_FLAGS));
  /**
   * GstXlsrFeat:lookahead-time:
   *
   * Streaming: audio after each chunk that the model sees before the chunk
   * leaves, in nanoseconds (whole 20 ms frames). It adds to the latency; the
   * context, chunk and lookahead together must fit in
   * #GstXlsrFeat:max-window-time.
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_LOOKAHEAD_TIME, GstXlsrFeat, lookahead_time,
      g_param_spec_uint64("lookahead-time", "Lookahead (ns)",
                          "Streaming: audio after each chunk the model sees before the chunk leaves (ns)", 0,
                          G_MAXUINT64, DEFAULT_LOOKAHEAD_TIME, GST_ACOUSTOK_PARAM_FLAGS));
  /**
   * GstXlsrFeat:recompute-time:
   *
   * Streaming: the most recent part of #GstXlsrFeat:context-time that goes
   * through the transformer again each run, in nanoseconds (whole 20 ms
   * frames); the older context is reused: its keys and values are those it
   * got when it last went through. A run costs recompute + chunk + lookahead
   * whatever the context. 0 reuses the whole context; recompute-time =
   * context-time (or more) runs the model on exactly the visible audio each
   * time.
   */
  GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(
      klass, PROP_RECOMPUTE_TIME, GstXlsrFeat, recompute_time,
      g_param_spec_uint64(
          "recompute-time", "Recomputed context (ns)",
          "Streaming: most recent context run through the transformer again each chunk (ns); the older "
          "context's keys and values are reused",
          0, G_MAXUINT64, DEFAULT_RECOMPUTE_TIME, GST_ACOUSTOK_PARAM_FLAGS));

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(
      element_class, "wav2vec2 features", "Filter/Analyzer/Audio",
      "wav2vec2 / XLSR-53 / HuBERT transformer-layer features of each speech segment", "acoustok developers");

  base_class->load = GST_DEBUG_FUNCPTR(gst_xlsr_feat_load);
  base_class->unload = GST_DEBUG_FUNCPTR(gst_xlsr_feat_unload);
  base_class->start = GST_DEBUG_FUNCPTR(gst_xlsr_feat_start);
  base_class->set_caps = GST_DEBUG_FUNCPTR(gst_xlsr_feat_set_caps);
  base_class->src_caps = GST_DEBUG_FUNCPTR(gst_xlsr_feat_src_caps);
  base_class->handle_input = GST_DEBUG_FUNCPTR(gst_xlsr_feat_handle_input);
  base_class->finish_segment = GST_DEBUG_FUNCPTR(gst_xlsr_feat_finish_segment);
  base_class->latency = GST_DEBUG_FUNCPTR(gst_xlsr_feat_latency);

  GST_DEBUG_CATEGORY_INIT(xlsr_feat_debug, "xlsrfeat", 0, "acoustok wav2vec2 features");
}

static void gst_xlsr_feat_init(GstXlsrFeat* self) {
  self->xlsr = nullptr;
  self->segment = nullptr;
}

static void gst_xlsr_feat_finalize(GObject* object) {
  GstXlsrFeat* self = GST_XLSR_FEAT(object);
  delete self->segment;
  delete self->xlsr;
  G_OBJECT_CLASS(gst_xlsr_feat_parent_class)->finalize(object);
}

// NULL->READY: the model the properties name. LibTorch's thread count is one
// for the whole process: the element sets it only when `threads` asks to, and
// never touches the allocator (that is the application's configure_process).
static void gst_xlsr_feat_load(GstAcoustokElement* base) {
  GstXlsrFeat* self = GST_XLSR_FEAT(base);
  const std::string path = gst_acoustok_element_model_path(base);
  GST_OBJECT_LOCK(self);
  acoustok::FeatureOptions options;
  options.layer = self->layer;
  options.device = acoustok::gst::device_name(self->device);
  options.precision = static_cast<acoustok::Precision>(self->precision);
  const int threads = self->threads;
  const guint64 window = self->max_window_time, context = self->context_time;
  acoustok::StreamingOptions stream;
  stream.chunk_ns = self->chunk_time;
  stream.lookahead_ns = self->lookahead_time;
  stream.context_ns = context;
  stream.max_window_ns = window;
  stream.recompute_ns = self->recompute_time;  // more than the context: all of it
  // Benchmarks only (tests/bench/bench_live.py): the model run exactly on
  // each chunk's visible audio, no cache, each window normalised on its own.
  const char* recompute = std::getenv("ACOUSTOK_STREAM_RECOMPUTE");
  if (recompute && std::string(recompute) == "1")
    stream.mode = acoustok::StreamingOptions::Mode::recompute_all;
  GST_OBJECT_UNLOCK(self);
  // The window is held in memory (and run through the model at once): an
  // hour at most, so a typo cannot ask for gigabytes.
  if (window > 3600 * GST_SECOND)
    throw acoustok::Error("xlsrfeat: max-window-time must be at most 3600 s (1 hour)");
  auto fresh = std::make_unique<XlsrModel>();
  fresh->streaming = stream.chunk_ns > 0;
  if (fresh->streaming) {
    const std::string rule = acoustok::StreamingFeatures::check(stream);
    if (!rule.empty()) throw acoustok::Error("xlsrfeat: " + rule);
    fresh->stream = stream;
  } else {
    fresh->windows = acoustok::WindowOptions{window, context};
    if (context >= window / 2 || !acoustok::FeatureWindows::fits(fresh->windows)) {
      throw acoustok::Error("xlsrfeat: context-time must be less than half of max-window-time");
    }
  }
  if (threads > 0) {
    acoustok::ProcessOptions process;  // the threads alone: the allocator stays the application's
    process.threads = threads;
    acoustok::configure_process(process);
  }
  fresh->extractor = acoustok::FeatureExtractor::load(path, options);
  if (fresh->streaming) fresh->run_time = xlsr_feat_measure_streaming_run(*fresh);
  GST_INFO_OBJECT(self, "features %s: layer %d, dim %d, %s; one streaming run %" GST_TIME_FORMAT,
                  path.c_str(), fresh->extractor->layer(), static_cast<int>(fresh->extractor->dim()),
                  fresh->streaming ? "streaming" : "windows", GST_TIME_ARGS(fresh->run_time));
  delete self->xlsr;
  self->xlsr = fresh.release();
}

static void gst_xlsr_feat_unload(GstAcoustokElement* base) {
  GstXlsrFeat* self = GST_XLSR_FEAT(base);
  delete self->xlsr;
  self->xlsr = nullptr;
}

static void gst_xlsr_feat_start(GstAcoustokElement* base) {
  GstXlsrFeat* self = GST_XLSR_FEAT(base);
  delete self->segment;
  self->segment = new XlsrSegment(*self->xlsr);
  self->segment->first = gst_acoustok_element_head_index(base);
}

static void gst_xlsr_feat_set_caps(GstAcoustokElement* base, const GstStructure*) {
  base->item_bytes = sizeof(float);
  base->items_per_second = acoustok::grid::kSampleRate;
}

static GstCaps* gst_xlsr_feat_src_caps(GstAcoustokElement* base) {
  GstXlsrFeat* self = GST_XLSR_FEAT(base);
  GstCaps* caps = gst_caps_from_string(ACOUSTOK_FEATURES_CAPS);
  gst_caps_set_simple(caps, "dim", G_TYPE_INT, static_cast<gint>(self->xlsr->extractor->dim()), "layer",
                      G_TYPE_INT, self->xlsr->extractor->layer(), nullptr);
  return caps;
}

// Runs `count` samples from the adapter's head as one window (the core's
// FeatureWindows decides which frames it gives and how much audio the next
// window still needs), pushes its frames and drops that audio; a complete
// segment is run and dropped whole.
static GstFlowReturn process(GstXlsrFeat* self, int64_t count, bool complete) {
  GstAcoustokElement* base = GST_ACOUSTOK_ELEMENT(self);
  XlsrSegment& seg = *self->segment;
  const float* x = nullptr;
  if (seg.windows.gives_frames(count, complete)) {
    x = reinterpret_cast<const float*>(gst_acoustok_element_peek_items(base, static_cast<guint64>(count)));
  }
  const acoustok::WindowStep step = seg.windows.run(*self->xlsr->extractor, x, count, complete);
  GstBuffer* out = nullptr;
  if (step.frames > 0) {
    const int64_t n = step.frames;
    const size_t row = static_cast<size_t>(step.features.dim);
    out = gst_buffer_new_allocate(nullptr, static_cast<size_t>(n) * row * sizeof(float), nullptr);
    gst_buffer_fill(out, 0, step.features.data.data() + static_cast<size_t>(step.row) * row,
                    static_cast<size_t>(n) * row * sizeof(float));
    const guint64 first_sample = seg.first + static_cast<guint64>(step.first_frame * kHop);
    GST_BUFFER_PTS(out) = gst_acoustok_element_time_of(base, first_sample);
    GST_BUFFER_DURATION(out) = static_cast<GstClockTime>(n) * acoustok::gst::kFrameDuration;
    GST_BUFFER_OFFSET(out) = static_cast<guint64>(step.first_frame);
    GST_BUFFER_OFFSET_END(out) = static_cast<guint64>(step.first_frame + n);
  }
  gst_acoustok_element_flush_items(base, static_cast<guint64>(step.drop));
  if (complete) seg.first = gst_acoustok_element_head_index(base);
  return out ? gst_acoustok_element_push(base, out) : GST_FLOW_OK;
}

// Every full window is run as it fills.
static GstFlowReturn gst_xlsr_feat_handle_input(GstAcoustokElement* base, const guint8*, gsize) {
  GstXlsrFeat* self = GST_XLSR_FEAT(base);
  if (self->segment->stream) return xlsr_feat_stream_input(self);
  const int64_t window = self->segment->windows.window_samples();
  GstFlowReturn ret = GST_FLOW_OK;
  while (ret == GST_FLOW_OK && gst_acoustok_element_available(base) >= static_cast<guint64>(window)) {
    ret = process(self, window, false);
  }
  return ret;
}

// A segment ended: its features go out before the event.
static GstFlowReturn gst_xlsr_feat_finish_segment(GstAcoustokElement* base, GstAcoustokSegmentEnd) {
  GstXlsrFeat* self = GST_XLSR_FEAT(base);
  if (!self->segment) return GST_FLOW_OK;
  if (self->segment->stream) return xlsr_feat_stream_finish(self);
  return process(self, static_cast<int64_t>(gst_acoustok_element_available(base)), true);
}

// Windows: a frame waits for the end of its window, at most max-window-time.
// Streaming: the first frame of a chunk waits for the rest of the chunk and
// the lookahead, then for one run, measured at load (counted 1.5 times:
// neighbours share the CPUs).
GstClockTime xlsr_feat_reported_latency(GstXlsrFeat* self) {
  const XlsrModel* m = self->xlsr;
  if (m && m->streaming) {
    const acoustok::StreamingFeatures shape(*m->extractor, m->stream);
    return gst_util_uint64_scale(static_cast<guint64>(shape.wait_samples()), GST_SECOND,
                                 acoustok::grid::kSampleRate) +
           m->run_time * 3 / 2;
  }
  GST_OBJECT_LOCK(self);
  const GstClockTime window = self->max_window_time;
  GST_OBJECT_UNLOCK(self);
  return window;
}

static void gst_xlsr_feat_latency(GstAcoustokElement* base, GstClockTime* ours, gboolean*) {
  *ours = xlsr_feat_reported_latency(GST_XLSR_FEAT(base));
}
