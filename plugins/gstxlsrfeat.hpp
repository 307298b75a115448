// SPDX-License-Identifier: MIT
// xlsrfeat's types, shared by gstxlsrfeat.cpp (the element, whole segments
// and windows) and gstxlsrfeat_stream.cpp (streaming: chunk-time > 0).
#pragma once

#include <memory>

#include "acoustok/feature_windows.hpp"
#include "acoustok/features.hpp"
#include "acoustok/streaming_features.hpp"
#include "gstacoustokelement.hpp"

GST_DEBUG_CATEGORY_EXTERN(xlsr_feat_debug);
#define GST_CAT_DEFAULT xlsr_feat_debug

// The feature model and its windowing, made on NULL->READY.
struct XlsrModel {
  std::unique_ptr<acoustok::FeatureExtractor> extractor;
  acoustok::WindowOptions windows;  // max-window-time, context-time
  bool streaming = false;           // chunk-time > 0
  acoustok::StreamingOptions stream;
  GstClockTime run_time = 0;  // one streaming run, measured at load
};

// The segment in progress. Windows: its audio from sample windows.base() on
// waits in the base class's adapter; frames before windows.next_frame() went
// out. Streaming: the core holds the audio it still needs.
struct XlsrSegment {
  explicit XlsrSegment(XlsrModel& m) : windows(m.windows) {
    if (m.streaming) stream = std::make_unique<acoustok::StreamingFeatures>(*m.extractor, m.stream);
  }
  guint64 first = 0;  // input index of the segment's sample 0
  acoustok::FeatureWindows windows;
  std::unique_ptr<acoustok::StreamingFeatures> stream;
  GstClockTime first_time = GST_CLOCK_TIME_NONE;  // of sample `first`, kept once its audio is flushed
  int live = -1;                                  // upstream is live (asked once): 1, 0, or -1 not yet known
  bool warned = false;                            // the "cannot keep up" warning went out
};

struct GstXlsrFeat {
  GstAcoustokElement parent;

  // Properties, guarded by the object lock.
  gchar* model_path;
  gint layer;
  int device;
  int precision;
  gint threads;
  guint64 max_window_time;
  guint64 context_time;
  guint64 chunk_time;
  guint64 lookahead_time;
  guint64 recompute_time;

  XlsrModel* xlsr;       // loaded from model_path: NULL->READY .. READY->NULL
  XlsrSegment* segment;  // streaming thread only
};

struct GstXlsrFeatClass {
  GstAcoustokElementClass parent_class;
};

#define GST_TYPE_XLSR_FEAT (gst_xlsr_feat_get_type())
#define GST_XLSR_FEAT(obj) (G_TYPE_CHECK_INSTANCE_CAST((obj), GST_TYPE_XLSR_FEAT, GstXlsrFeat))
GType gst_xlsr_feat_get_type(void);

// Streaming (gstxlsrfeat_stream.cpp).
// The compute of one streaming run, measured on silence when the model loads.
GstClockTime xlsr_feat_measure_streaming_run(XlsrModel& m);
// The audio in the adapter to the core; every chunk whose lookahead has
// arrived goes out.
GstFlowReturn xlsr_feat_stream_input(GstXlsrFeat* self);
// The end of a segment: its last frames go out.
GstFlowReturn xlsr_feat_stream_finish(GstXlsrFeat* self);

// The latency xlsrfeat reports (gstxlsrfeat.cpp).
GstClockTime xlsr_feat_reported_latency(GstXlsrFeat* self);
