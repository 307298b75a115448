// What the acoustok elements share: caps of ../shared/DESIGN.md, the
// serialized `acoustok-segment` event, and the guard that keeps C++
// exceptions out of GObject code.
#pragma once

#include <gst/gst.h>

#include <exception>
#include <string>

#define ACOUSTOK_AUDIO_CAPS "audio/x-raw, format=(string)F32LE, rate=(int)16000, channels=(int)1, layout=(string)interleaved"
#define ACOUSTOK_FEATURES_CAPS \
  "application/x-acoustok-features, dim=(int)[1,65536], layer=(int)[0,1024], frame-rate=(fraction)50/1"
#define ACOUSTOK_UNITS_CAPS "application/x-acoustok-units, vocab-size=(int)[1,65536], frame-rate=(fraction)50/1"
#define ACOUSTOK_MOTIFS_CAPS "application/x-acoustok-motifs, vocab-size=(int)[1,2147483647]"
#define ACOUSTOK_TEXT_CAPS "text/x-raw, format=(string)utf8"

namespace acoustok::gst {

// Duration of one feature/unit frame: 20 ms (50 frames per second).
constexpr GstClockTime kFrameDuration = 20 * GST_MSECOND;

// Downstream, serialized: fields index (guint64), start and stop (GstClockTime,
// the segment's span on the source timeline).
constexpr const char* kSegmentEventName = "acoustok-segment";
GstEvent* make_segment_event(guint64 index, GstClockTime start, GstClockTime stop);
bool is_segment_event(GstEvent* event);
bool parse_segment_event(GstEvent* event, guint64* index, GstClockTime* start, GstClockTime* stop);

// Runs fn(); an exception becomes GST_ELEMENT_ERROR (STREAM/FAILED, or
// RESOURCE/NOT_FOUND when `loading_model`) and the result is false.
template <typename Fn>
bool guarded(GstElement* element, bool loading_model, Fn&& fn) noexcept;
void post_exception(GstElement* element, bool loading_model, const char* what) noexcept;

template <typename Fn>
bool guarded(GstElement* element, bool loading_model, Fn&& fn) noexcept {
  try {
    fn();
    return true;
  } catch (const std::exception& e) {
    post_exception(element, loading_model, e.what());
  } catch (...) {
    post_exception(element, loading_model, "unknown error");
  }
  return false;
}

}  // namespace acoustok::gst
