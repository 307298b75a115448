// SPDX-License-Identifier: MIT
// What the acoustok elements exchange and share: their caps (docs/formats.md), the
// serialized `acoustok-segment` event, the time line of an input, and the
// guard that keeps C++ exceptions out of GObject code.
#pragma once

#include <gst/gst.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "acoustok/audio_io.hpp"
#include "acoustok/frame_grid.hpp"

#define ACOUSTOK_AUDIO_CAPS \
  "audio/x-raw, format=(string)F32LE, rate=(int)16000, channels=(int)1, layout=(string)interleaved"
// What silencesplit and xlsrfeat read: F32LE at any rate acoustok reads, any
// channel count; the element base makes it ACOUSTOK_AUDIO_CAPS as the command
// line reads files (AudioIn). F32LE only: audioconvert's S16 -> F32 is
// libsndfile's int16 -> float (x / 32768) exactly.
#define ACOUSTOK_AUDIO_ANY_CAPS                                                                \
  "audio/x-raw, format=(string)F32LE, rate=(int)[1000,768000], channels=(int)[1,2147483647], " \
  "layout=(string)interleaved"
#define ACOUSTOK_FEATURES_CAPS \
  "application/x-acoustok-features, dim=(int)[1,65536], layer=(int)[1,1024], frame-rate=(fraction)50/1"
#define ACOUSTOK_UNITS_CAPS \
  "application/x-acoustok-units, vocab-size=(int)[1,65536], frame-rate=(fraction)50/1"
#define ACOUSTOK_MOTIFS_CAPS "application/x-acoustok-motifs, vocab-size=(int)[1,2147483647]"
#define ACOUSTOK_TEXT_CAPS "text/x-raw, format=(string)utf8"

// The caps strings above spell out the frame grid; they must not drift from it.
static_assert(acoustok::grid::kSampleRate == 16000 && acoustok::grid::kFrameRate == 50,
              "ACOUSTOK_*_CAPS spell out 16000 Hz and 50 frames/s");
static_assert(acoustok::kMinSampleRate == 1000 && acoustok::kMaxSampleRate == 768000,
              "ACOUSTOK_AUDIO_ANY_CAPS spells out the sample rates acoustok reads");

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

// Audio at any rate and channel count made 16 kHz mono exactly as the
// command line reads a file (acoustok/audio_io.hpp): the channels averaged,
// then soxr's HQ resampler, fed piece by piece. One resampler runs over a
// whole span of the input (from a start, flush or break to the next break,
// segment end or EOS), so a span gives the samples read_audio_16k_mono()
// gives for a file holding it; drain() ends a span with the samples the
// filter still holds. 16 kHz mono passes through untouched.
class AudioIn {
 public:
  void configure(int rate, int channels);
  int rate() const { return rate_; }
  int channels() const { return channels_; }
  bool converts() const { return rate_ != acoustok::grid::kSampleRate || channels_ != 1; }
  size_t frame_bytes() const { return sizeof(float) * static_cast<size_t>(channels_); }
  // Appends the 16 kHz mono samples `frames` interleaved frames complete.
  void convert(const float* x, size_t frames, std::vector<float>& out);
  // End of a span: appends what the resampler holds; the next input starts a
  // fresh one.
  void drain(std::vector<float>& out);
  // Drops what the resampler holds (a flush).
  void reset() { resampler_.reset(); }
  // The most 16 kHz output the resampler holds back, as a time.
  GstClockTime delay() const;

 private:
  int rate_ = acoustok::grid::kSampleRate;
  int channels_ = 1;
  std::unique_ptr<acoustok::StreamResampler> resampler_;  // made by the first input of a span
  std::vector<float> mono_;
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
