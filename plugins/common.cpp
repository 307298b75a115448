#include "common.hpp"

namespace acoustok::gst {

GstEvent* make_segment_event(guint64 index, GstClockTime start, GstClockTime stop) {
  GstStructure* s = gst_structure_new(kSegmentEventName, "index", G_TYPE_UINT64, index, "start", G_TYPE_UINT64, start,
                                      "stop", G_TYPE_UINT64, stop, nullptr);
  return gst_event_new_custom(GST_EVENT_CUSTOM_DOWNSTREAM, s);
}

bool is_segment_event(GstEvent* event) {
  if (GST_EVENT_TYPE(event) != GST_EVENT_CUSTOM_DOWNSTREAM) return false;
  const GstStructure* s = gst_event_get_structure(event);
  return s && gst_structure_has_name(s, kSegmentEventName);
}

bool parse_segment_event(GstEvent* event, guint64* index, GstClockTime* start, GstClockTime* stop) {
  if (!is_segment_event(event)) return false;
  const GstStructure* s = gst_event_get_structure(event);
  guint64 i = 0, a = GST_CLOCK_TIME_NONE, b = GST_CLOCK_TIME_NONE;
  if (!gst_structure_get_uint64(s, "index", &i)) return false;
  gst_structure_get_uint64(s, "start", &a);
  gst_structure_get_uint64(s, "stop", &b);
  if (index) *index = i;
  if (start) *start = a;
  if (stop) *stop = b;
  return true;
}

void post_exception(GstElement* element, bool loading_model, const char* what) noexcept {
  if (loading_model) {
    GST_ELEMENT_ERROR(element, RESOURCE, NOT_FOUND, ("%s", what), (nullptr));
  } else {
    GST_ELEMENT_ERROR(element, STREAM, FAILED, ("%s", what), (nullptr));
  }
}

}  // namespace acoustok::gst
