// SPDX-License-Identifier: MIT
// GstAcoustokElement: see gstacoustokelement.hpp. Pads, events, queries,
// chain and state changes; audio input conversion is in
// gstacoustokaudioinput.cpp, the properties in gstacoustokproperties.cpp.
#include <chrono>
#include <vector>

#include "acoustok/error.hpp"
#include "gstacoustokelement_private.hpp"

GST_DEBUG_CATEGORY(acoustok_element_debug);

namespace {

using acoustok::gst::detail::check_drain;
using acoustok::gst::detail::converting;
using acoustok::gst::detail::klass_of;
using acoustok::gst::detail::run_guarded;
using acoustok::gst::detail::Stage;

GstElementClass* parent_class = nullptr;

GstFlowReturn guarded_flow(GstAcoustokElement* self,
                           GstFlowReturn (*fn)(GstAcoustokElement*, GstAcoustokSegmentEnd),
                           GstAcoustokSegmentEnd reason) {
  GstFlowReturn ret = GST_FLOW_OK;
  if (!fn) return ret;
  if (!run_guarded(self, Stage::stream, [&] { ret = fn(self, reason); })) ret = GST_FLOW_ERROR;
  return ret;
}

// ---- streaming state ------------------------------------------------------

void reset_input(GstAcoustokElement* self) {
  gst_adapter_clear(self->adapter);
  self->timeline->clear();
  GstAcoustokAudioInput& in = *self->audio_input;
  in.audio.reset();
  in.timeline.clear();
  in.frames_in = 0;
  in.span_open = false;
  self->items_in = 0;
  self->items_taken = 0;
  self->text_pending->clear();
  self->text_lines = 0;
  self->discont_pending = TRUE;  // the first buffer after a start or a flush
}

bool start_streaming(GstAcoustokElement* self) {
  gst_segment_init(&self->segment, GST_FORMAT_TIME);
  reset_input(self);
  auto* start = klass_of(self)->start;
  return !start || run_guarded(self, Stage::stream, [&] { start(self); });
}

// Ends the segment: first an unterminated text line at EOS or the converted
// audio's last samples, then the element's drain.
GstFlowReturn finish_segment(GstAcoustokElement* self, GstAcoustokSegmentEnd reason) {
  auto* klass = klass_of(self);
  if (!self->loaded && klass->load) return GST_FLOW_OK;
  GstFlowReturn ret = acoustok::gst::detail::drain_converted(self);
  if (ret != GST_FLOW_OK) return ret;
  if (reason == GST_ACOUSTOK_EOS && self->text_in && klass->handle_line &&
      self->text_pending->find_first_not_of(" \t\r") != std::string::npos) {
    const std::string last = *self->text_pending;
    self->text_pending->clear();
    const guint64 line_no = ++self->text_lines;
    if (!run_guarded(self, Stage::stream,
                     [&] { ret = klass->handle_line(self, last, line_no, GST_CLOCK_TIME_NONE); }))
      ret = GST_FLOW_ERROR;
  }
  if (ret != GST_FLOW_OK) return ret;
  return guarded_flow(self, klass->finish_segment, reason);
}

// ---- negotiation ------------------------------------------------------------

GstCaps* possible_src_caps(GstAcoustokElement* self) {
  auto* klass = klass_of(self);
  GstCaps* caps = nullptr;
  if (klass->src_caps && (self->loaded || !klass->load)) {
    run_guarded(self, Stage::caps, [&] { caps = klass->src_caps(self); });
  }
  return caps ? caps : gst_pad_get_pad_template_caps(self->srcpad);
}

bool negotiate(GstAcoustokElement* self) {
  GstCaps* ours = possible_src_caps(self);
  GstCaps* allowed = gst_pad_peer_query_caps(self->srcpad, ours);
  gst_caps_unref(ours);
  if (!allowed || gst_caps_is_empty(allowed)) {
    if (allowed) gst_caps_unref(allowed);
    GST_ELEMENT_ERROR(self, CORE, NEGOTIATION,
                      ("downstream accepts none of the formats %s can output", GST_ELEMENT_NAME(self)),
                      (nullptr));
    return false;
  }
  allowed = gst_caps_fixate(gst_caps_truncate(allowed));
  self->text_out = gst_structure_has_name(gst_caps_get_structure(allowed, 0), "text/x-raw");
  GST_DEBUG_OBJECT(self, "output %" GST_PTR_FORMAT, static_cast<void*>(allowed));
  const bool ok = gst_pad_set_caps(self->srcpad, allowed);
  gst_caps_unref(allowed);
  if (!ok) {
    GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("could not set the output caps"), (nullptr));
    return false;
  }
  self->src_caps_set = TRUE;
  return true;
}

bool set_input_caps(GstAcoustokElement* self, GstCaps* caps) {
  const GstStructure* s = gst_caps_get_structure(caps, 0);
  self->text_in = gst_structure_has_name(s, "text/x-raw");
  auto* klass = klass_of(self);
  if (klass->set_caps && !run_guarded(self, Stage::caps, [&] { klass->set_caps(self, s); })) return false;
  if (gst_structure_has_name(s, "audio/x-raw") && !acoustok::gst::detail::set_audio_format(self, s))
    return false;
  if (!self->text_in) {
    if (self->item_bytes == 0 || self->items_per_second <= 0) {
      GST_ELEMENT_ERROR(self, CORE, NEGOTIATION,
                        ("internal error: no item size for %" GST_PTR_FORMAT, static_cast<void*>(caps)),
                        (nullptr));
      return false;
    }
    self->timeline->set_rate(self->items_per_second);
  }
  return negotiate(self);
}

// ---- pads -------------------------------------------------------------------

gboolean sink_event(GstPad* pad, GstObject* parent, GstEvent* event) {
  auto* self = GST_ACOUSTOK_ELEMENT(parent);
  auto* klass = klass_of(self);
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_CAPS: {
      GstCaps* caps;
      gst_event_parse_caps(event, &caps);
      const bool ok = (self->loaded || !klass->load) && set_input_caps(self, caps);
      gst_event_unref(event);  // ours were set by negotiate()
      return ok;
    }
    case GST_EVENT_SEGMENT: {
      const GstSegment* in;
      gst_event_parse_segment(event, &in);
      if (in->format == GST_FORMAT_TIME) {
        gst_segment_copy_into(in, &self->segment);
        break;
      }
      // Text from filesrc comes in BYTES; every output is on a time line.
      gst_segment_init(&self->segment, GST_FORMAT_TIME);
      const guint32 seqnum = gst_event_get_seqnum(event);
      gst_event_unref(event);
      event = gst_event_new_segment(&self->segment);
      gst_event_set_seqnum(event, seqnum);
      break;
    }
    case GST_EVENT_GAP:
      // No data for a while: what came before is a span of its own, and the
      // GAP goes on after its output.
      check_drain(self, finish_segment(self, GST_ACOUSTOK_DISCONT));
      self->discont_pending = TRUE;
      break;
    case GST_EVENT_CUSTOM_DOWNSTREAM:
      // A segment ended upstream: its output goes out before the event.
      if (acoustok::gst::is_segment_event(event)) {
        const GstFlowReturn ret = finish_segment(self, GST_ACOUSTOK_SEGMENT_EVENT);
        check_drain(self, ret);
        if (ret == GST_FLOW_ERROR) {
          gst_event_unref(event);
          return FALSE;
        }
      }
      break;
    case GST_EVENT_EOS:
      check_drain(self, finish_segment(self, GST_ACOUSTOK_EOS));
      break;
    case GST_EVENT_FLUSH_STOP:
      if (!start_streaming(self)) {
        gst_event_unref(event);
        return FALSE;
      }
      break;
    default:
      break;
  }
  return gst_pad_event_default(pad, parent, event);
}

gboolean src_query(GstPad* pad, GstObject* parent, GstQuery* query) {
  auto* self = GST_ACOUSTOK_ELEMENT(parent);
  switch (GST_QUERY_TYPE(query)) {
    case GST_QUERY_CAPS: {
      GstCaps* filter;
      gst_query_parse_caps(query, &filter);
      GstCaps* caps = gst_pad_get_current_caps(pad);
      if (!caps) caps = possible_src_caps(self);
      if (filter) {
        GstCaps* both = gst_caps_intersect_full(filter, caps, GST_CAPS_INTERSECT_FIRST);
        gst_caps_unref(caps);
        caps = both;
      }
      gst_query_set_caps_result(query, caps);
      gst_caps_unref(caps);
      return TRUE;
    }
    case GST_QUERY_LATENCY: {
      if (!gst_pad_peer_query(self->sinkpad, query)) return FALSE;
      gboolean live;
      GstClockTime min, max;
      gst_query_parse_latency(query, &live, &min, &max);
      GstClockTime ours = 0;
      gboolean unbounded = FALSE;
      if (auto* latency = klass_of(self)->latency) latency(self, &ours, &unbounded);
      GST_OBJECT_LOCK(self);
      ours += self->resample_latency;
      GST_OBJECT_UNLOCK(self);
      min += ours;
      if (unbounded)
        max = GST_CLOCK_TIME_NONE;
      else if (GST_CLOCK_TIME_IS_VALID(max))
        max += ours;
      GST_DEBUG_OBJECT(self, "latency: ours %" GST_TIME_FORMAT "%s", GST_TIME_ARGS(ours),
                       unbounded ? ", unbounded" : "");
      gst_query_set_latency(query, live, min, max);
      return TRUE;
    }
    default:
      return gst_pad_query_default(pad, parent, query);
  }
}

// A break: the DISCONT flag, or a jump of more than kBreakTolerance between
// where the input was expected to continue and where it does (either way).
// A smaller jump is jitter: the buffer's items still take its PTS (the
// timeline anchors every buffer), but the span goes on.
bool is_discont(GstAcoustokElement* self, GstBuffer* buffer) {
  // Converted audio: on the input's own frames.
  const bool converted = converting(self);
  const guint64 in = converted ? self->audio_input->frames_in : self->items_in;
  const acoustok::gst::Timeline& timeline = converted ? self->audio_input->timeline : *self->timeline;
  if (in == 0) return false;
  if (GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DISCONT)) return true;
  if (!GST_BUFFER_PTS_IS_VALID(buffer)) return false;
  const GstClockTime expected = timeline.time_of(in, self->segment.start);
  const GstClockTimeDiff jump = GST_CLOCK_DIFF(expected, GST_BUFFER_PTS(buffer));
  const auto tolerance = static_cast<GstClockTimeDiff>(acoustok::gst::kBreakTolerance);
  return jump > tolerance || jump < -tolerance;
}

GstFlowReturn chain_text(GstAcoustokElement* self, GstBuffer* buffer, const GstMapInfo& map) {
  auto* klass = klass_of(self);
  if (!klass->handle_line) {
    GST_ELEMENT_ERROR(self, STREAM, FORMAT, ("%s does not read text", GST_ELEMENT_NAME(self)), (nullptr));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  std::string& pending = *self->text_pending;
  pending.append(reinterpret_cast<const char*>(map.data), map.size);
  GstClockTime pts = GST_BUFFER_PTS(buffer);
  GstFlowReturn ret = GST_FLOW_OK;
  size_t start = 0;
  for (size_t nl; ret == GST_FLOW_OK && (nl = pending.find('\n', start)) != std::string::npos;
       start = nl + 1) {
    const std::string_view line(pending.data() + start, nl - start);
    const guint64 line_no = ++self->text_lines;
    if (!run_guarded(self, Stage::stream, [&] { ret = klass->handle_line(self, line, line_no, pts); }))
      ret = GST_FLOW_ERROR;
    pts = GST_CLOCK_TIME_NONE;  // later lines follow on
  }
  pending.erase(0, start);
  return ret;
}

GstFlowReturn chain(GstPad*, GstObject* parent, GstBuffer* buffer) {
  auto* self = GST_ACOUSTOK_ELEMENT(parent);
  auto* klass = klass_of(self);
  if (klass->load && !self->loaded) {
    gst_buffer_unref(buffer);
    GST_ELEMENT_ERROR(self, CORE, STATE_CHANGE, ("no model loaded"), (nullptr));
    return GST_FLOW_ERROR;
  }
  if (!self->text_in && self->item_bytes == 0) {
    gst_buffer_unref(buffer);
    GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("data arrived before its caps"), (nullptr));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  GstFlowReturn ret = GST_FLOW_OK;
  if (!self->text_in && is_discont(self, buffer)) {
    ret = finish_segment(self, GST_ACOUSTOK_DISCONT);
    self->discont_pending = TRUE;
    if (ret != GST_FLOW_OK) {
      gst_buffer_unref(buffer);
      return ret;
    }
  }
  GstMapInfo map;
  if (!gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    gst_buffer_unref(buffer);
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("could not map an input buffer"), (nullptr));
    return GST_FLOW_ERROR;
  }
  if (self->text_in || converting(self)) {
    ret = self->text_in ? chain_text(self, buffer, map)
                        : acoustok::gst::detail::chain_converted(self, buffer, map);
    gst_buffer_unmap(buffer, &map);
    gst_buffer_unref(buffer);
    return ret;
  }
  // Binary: float32 (audio, features) or uint16 (units) values, whole in
  // every buffer; a torn value would shift all later ones into garbage.
  const gsize value_bytes = self->item_bytes % sizeof(float) == 0 ? sizeof(float) : self->item_bytes;
  if (map.size % value_bytes != 0) {
    GST_ELEMENT_ERROR(self, STREAM, FORMAT,
                      ("an input buffer of %" G_GSIZE_FORMAT
                       " bytes is not a whole number of %s values (%" G_GSIZE_FORMAT " bytes each)",
                       map.size, value_bytes == sizeof(float) ? "F32" : "U16", value_bytes),
                      (nullptr));
    gst_buffer_unmap(buffer, &map);
    gst_buffer_unref(buffer);
    return GST_FLOW_ERROR;
  }
  // Binary: the adapter keeps the buffer; its items are numbered on.
  self->timeline->mark(self->items_in, GST_BUFFER_PTS(buffer), GST_BUFFER_OFFSET(buffer));
  const gsize before = gst_adapter_available(self->adapter);
  const guint64 whole_before = before / self->item_bytes;
  gst_buffer_ref(buffer);
  gst_adapter_push(self->adapter, buffer);
  self->items_in += (before + map.size) / self->item_bytes - whole_before;
  if (klass->handle_input &&
      !run_guarded(self, Stage::stream, [&] { ret = klass->handle_input(self, map.data, map.size); })) {
    ret = GST_FLOW_ERROR;
  }
  gst_buffer_unmap(buffer, &map);
  gst_buffer_unref(buffer);
  return ret;
}

// ---- state changes ----------------------------------------------------------

GstStateChangeReturn change_state(GstElement* element, GstStateChange transition) {
  auto* self = GST_ACOUSTOK_ELEMENT(element);
  auto* klass = klass_of(self);
  GST_DEBUG_OBJECT(self, "%s", gst_state_change_get_name(transition));
  switch (transition) {
    case GST_STATE_CHANGE_NULL_TO_READY:
      if (klass->load) {
        const auto start = std::chrono::steady_clock::now();
        if (!run_guarded(self, Stage::model, [&] { klass->load(self); })) return GST_STATE_CHANGE_FAILURE;
        self->loaded = TRUE;
        const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
        acoustok::gst::detail::log_model_loaded(self, took.count());
      }
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      self->src_caps_set = FALSE;
      self->text_in = FALSE;
      self->text_out = FALSE;
      self->item_bytes = 0;
      self->audio_input->audio.configure(acoustok::grid::kSampleRate, 1);
      GST_OBJECT_LOCK(self);
      self->resample_latency = 0;
      GST_OBJECT_UNLOCK(self);
      if (!start_streaming(self)) return GST_STATE_CHANGE_FAILURE;
      break;
    default:
      break;
  }
  const GstStateChangeReturn ret = parent_class->change_state(element, transition);
  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      if (klass->stop) run_guarded(self, Stage::stream, [&] { klass->stop(self); });
      reset_input(self);
      break;
    case GST_STATE_CHANGE_READY_TO_NULL:
      if (klass->unload) run_guarded(self, Stage::model, [&] { klass->unload(self); });
      self->loaded = FALSE;
      break;
    default:
      break;
  }
  return ret;
}

// ---- type -------------------------------------------------------------------

void finalize(GObject* object) {
  auto* self = GST_ACOUSTOK_ELEMENT(object);
  g_object_unref(self->adapter);
  delete self->timeline;
  delete self->text_pending;
  delete self->audio_input;
  acoustok::gst::detail::free_properties(self);
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

void class_init(GstAcoustokElementClass* klass, gpointer) {
  parent_class = GST_ELEMENT_CLASS(g_type_class_peek_parent(klass));
  G_OBJECT_CLASS(klass)->finalize = GST_DEBUG_FUNCPTR(finalize);
  GST_ELEMENT_CLASS(klass)->change_state = GST_DEBUG_FUNCPTR(change_state);
  GST_DEBUG_CATEGORY_INIT(acoustok_element_debug, "acoustokelement", 0, "acoustok element base");
}

// Pads from the subclass's "sink" and "src" templates (g_class is the class
// of the element being made, not this abstract one).
void instance_init(GstAcoustokElement* self, gpointer g_class) {
  GstElementClass* element_class = GST_ELEMENT_CLASS(g_class);
  self->sinkpad =
      gst_pad_new_from_template(gst_element_class_get_pad_template(element_class, "sink"), "sink");
  gst_pad_set_chain_function(self->sinkpad, GST_DEBUG_FUNCPTR(chain));
  gst_pad_set_event_function(self->sinkpad, GST_DEBUG_FUNCPTR(sink_event));
  gst_element_add_pad(GST_ELEMENT(self), self->sinkpad);

  self->srcpad = gst_pad_new_from_template(gst_element_class_get_pad_template(element_class, "src"), "src");
  gst_pad_set_query_function(self->srcpad, GST_DEBUG_FUNCPTR(src_query));
  gst_pad_use_fixed_caps(self->srcpad);
  gst_element_add_pad(GST_ELEMENT(self), self->srcpad);

  gst_segment_init(&self->segment, GST_FORMAT_TIME);
  self->adapter = gst_adapter_new();
  self->timeline = new acoustok::gst::Timeline();
  self->text_pending = new std::string();
  self->text_in = self->text_out = FALSE;
  self->item_bytes = 0;
  self->items_per_second = 0;
  self->items_in = self->items_taken = 0;
  self->text_lines = 0;
  self->src_caps_set = FALSE;
  self->loaded = FALSE;
  self->discont_pending = TRUE;
  self->audio_input = new GstAcoustokAudioInput();
  self->resample_latency = 0;
  acoustok::gst::detail::init_properties(self, g_class);
}

}  // namespace

GType gst_acoustok_element_get_type(void) {
  static gsize type = 0;
  if (g_once_init_enter(&type)) {
    const GType t = g_type_register_static_simple(
        GST_TYPE_ELEMENT, g_intern_static_string("GstAcoustokElement"), sizeof(GstAcoustokElementClass),
        reinterpret_cast<GClassInitFunc>(class_init), sizeof(GstAcoustokElement),
        reinterpret_cast<GInstanceInitFunc>(instance_init), G_TYPE_FLAG_ABSTRACT);
    g_once_init_leave(&type, t);
  }
  return type;
}

// ---- helpers for subclasses -------------------------------------------------

guint64 gst_acoustok_element_available(GstAcoustokElement* self) {
  return self->item_bytes ? gst_adapter_available(self->adapter) / self->item_bytes : 0;
}

guint64 gst_acoustok_element_head_index(GstAcoustokElement* self) { return self->items_taken; }

GstClockTime gst_acoustok_element_time_of(GstAcoustokElement* self, guint64 index) {
  return self->timeline->time_of(index, self->segment.start);
}

guint64 gst_acoustok_element_offset_of(GstAcoustokElement* self, guint64 index) {
  return self->timeline->offset_of(index);
}

const guint8* gst_acoustok_element_peek_items(GstAcoustokElement* self, guint64 n) {
  if (n == 0) return nullptr;
  return static_cast<const guint8*>(gst_adapter_map(self->adapter, n * self->item_bytes));
}

void gst_acoustok_element_flush_items(GstAcoustokElement* self, guint64 n) {
  gst_adapter_unmap(self->adapter);
  if (n == 0) return;
  gst_adapter_flush(self->adapter, n * self->item_bytes);
  self->items_taken += n;
  self->timeline->forget_before(self->items_taken);
}

void gst_acoustok_element_continue_at(GstAcoustokElement* self, GstClockTime pts, guint64 offset) {
  self->timeline->mark(self->items_in, pts, offset);
}

GstBuffer* gst_acoustok_element_take_buffer(GstAcoustokElement* self, guint64 n) {
  gst_adapter_unmap(self->adapter);
  const guint64 first = self->items_taken;
  GstBuffer* out = gst_adapter_take_buffer(self->adapter, n * self->item_bytes);
  out = gst_buffer_make_writable(out);
  GST_BUFFER_PTS(out) = gst_acoustok_element_time_of(self, first);
  // From the first item's anchor: a later anchor (a re-stamped buffer) never
  // stretches or shrinks the samples carried.
  GST_BUFFER_DURATION(out) = self->timeline->end_of(first, n, self->segment.start) - GST_BUFFER_PTS(out);
  GST_BUFFER_DTS(out) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_OFFSET(out) = first;
  GST_BUFFER_OFFSET_END(out) = first + n;
  GST_BUFFER_FLAG_UNSET(out, GST_BUFFER_FLAG_DISCONT);
  self->items_taken += n;
  self->timeline->forget_before(self->items_taken);
  return out;
}

GstFlowReturn gst_acoustok_element_prepare_output(GstAcoustokElement* self) {
  if (self->src_caps_set && !gst_pad_check_reconfigure(self->srcpad)) return GST_FLOW_OK;
  return negotiate(self) ? GST_FLOW_OK : GST_FLOW_NOT_NEGOTIATED;
}

GstFlowReturn gst_acoustok_element_push(GstAcoustokElement* self, GstBuffer* buffer) {
  if (!self->src_caps_set && !negotiate(self)) {
    gst_buffer_unref(buffer);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  if (self->discont_pending) {
    buffer = gst_buffer_make_writable(buffer);
    GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_DISCONT);
    self->discont_pending = FALSE;
  }
  return gst_pad_push(self->srcpad, buffer);
}
