// SPDX-License-Identifier: MIT
// What the acoustok elements share: their caps (docs/formats.md), the
// serialized `acoustok-segment` event, the time line of an input, and the
// guard that keeps C++ exceptions out of GObject code.
#pragma once

#include <gst/gst.h>

#include <deque>
#include <string>

#include "acoustok/frame_grid.hpp"

#define ACOUSTOK_AUDIO_CAPS "audio/x-raw, format=(string)F32LE, rate=(int)16000, channels=(int)1, layout=(string)interleaved"
#define ACOUSTOK_FEATURES_CAPS \
  "application/x-acoustok-features, dim=(int)[1,65536], layer=(int)[1,1024], frame-rate=(fraction)50/1"
#define ACOUSTOK_UNITS_CAPS "application/x-acoustok-units, vocab-size=(int)[1,65536], frame-rate=(fraction)50/1"
#define ACOUSTOK_MOTIFS_CAPS "application/x-acoustok-motifs, vocab-size=(int)[1,2147483647]"
#define ACOUSTOK_TEXT_CAPS "text/x-raw, format=(string)utf8"

// The caps strings above spell out the frame grid; they must not drift from it.
static_assert(acoustok::grid::kSampleRate == 16000 && acoustok::grid::kFrameRate == 50,
              "ACOUSTOK_*_CAPS spell out 16000 Hz and 50 frames/s");

namespace acoustok::gst {

// Duration of one feature/unit frame: 20 ms (50 frames per second).
constexpr GstClockTime kFrameDuration = acoustok::grid::kFrameNanoseconds;

// A buffer whose PTS is further than this from where the input before it
// ends is a break in the input (as is DISCONT or a GAP event). Less is timing
// jitter (a live source stamping from the clock): the items keep their own
// PTS and the span goes on. 40 ms is GStreamer's own threshold for audio
// (audiobasesink's alignment-threshold).
constexpr GstClockTime kBreakTolerance = 40 * GST_MSECOND;
static_assert(GST_SECOND == 1000000000, "GstClockTime is in nanoseconds");

// Index of an input item (a sample, a frame) -> its time and OFFSET. Input
// buffers set anchors (index, PTS, OFFSET); between anchors items follow each
// other at `rate` per second, so gaps and jumps in the input are kept. An
// anchor without PTS or OFFSET continues the previous one.
class Timeline {
 public:
  void set_rate(int items_per_second) { rate_ = items_per_second; }
  int rate() const { return rate_; }
  void mark(guint64 index, GstClockTime pts, guint64 offset);
  // Time of item `index`; without any anchor that has a time:
  // fallback_start + index / rate.
  GstClockTime time_of(guint64 index, GstClockTime fallback_start) const;
  // End of the `n` items from `first`, timed from the anchor of `first`: n
  // items at `rate`, whatever later anchors say.
  GstClockTime end_of(guint64 first, guint64 n, GstClockTime fallback_start) const;
  // GST_BUFFER_OFFSET_NONE when the input had no offsets.
  guint64 offset_of(guint64 index) const;
  // Anchors no item at or after `index` needs are dropped.
  void forget_before(guint64 index);
  void clear() { anchors_.clear(); }

 private:
  struct Anchor {
    guint64 index;
    GstClockTime pts;
    guint64 offset;
  };
  const Anchor* anchor_for(guint64 index) const;
  std::deque<Anchor> anchors_;
  int rate_ = acoustok::grid::kFrameRate;
};

// Downstream, serialized: fields index (guint64), start and stop (GstClockTime,
// the segment's span on the source timeline).
constexpr const char* kSegmentEventName = "acoustok-segment";
GstEvent* make_segment_event(guint64 index, GstClockTime start, GstClockTime stop);
bool is_segment_event(GstEvent* event);
bool parse_segment_event(GstEvent* event, guint64* index, GstClockTime* start, GstClockTime* stop);

// The `device` property of the elements that run a model: one GEnum, the
// same choices everywhere ("auto": CUDA when LibTorch has it and a GPU is
// visible, else the CPU).
enum Device { kDeviceAuto = 0, kDeviceCpu = 1, kDeviceCuda = 2 };
GType device_get_type();
const char* device_name(int device);  // "auto", "cpu", "cuda"

// xlsrfeat's `precision`: the values of acoustok::Precision.
GType precision_get_type();

}  // namespace acoustok::gst
