// SPDX-License-Identifier: MIT
// GstAcoustokElement: the abstract base of every acoustok element (one sink
// pad, one source pad), in the manner of GstBaseTransform's
// submit_input_buffer / generate_output pair that gst-plugins-bad's
// webrtcdsp builds on. The base owns what every element needs and nothing
// that differs between them:
//
//  - the pads; the input GstSegment (a BYTES segment, e.g. text from filesrc,
//    is rewritten to TIME: every output is on the audio timeline);
//  - binary input gathered in a GstAdapter, with a Timeline that maps the
//    index of every input item (sample, feature frame or unit) to its time,
//    taken from the buffers' PTS (gaps included) and OFFSET;
//  - audio (audio/x-raw) at any rate and channel count made 16 kHz mono as
//    the command line reads a file (AudioIn: channels averaged, soxr HQ), one
//    resampler over each span of the input, drained where the span ends; the
//    subclass sees only 16 kHz mono samples, timed on the 16 kHz grid from
//    the span's first PTS;
//  - breaks in the input (a DISCONT buffer, a PTS more than kBreakTolerance
//    away from where the input should continue, a GAP event): the element's span
//    ends there (finish_segment(GST_ACOUSTOK_DISCONT)) before the audio after
//    the break arrives, so no output buffer, window or segment spans a break,
//    and the first output buffer after it carries DISCONT;
//  - text input (text/x-raw) cut into lines, each numbered for messages;
//  - the map / exception guard / unref prologue of chain(): a C++ exception
//    of a virtual becomes GST_ELEMENT_ERROR and GST_FLOW_ERROR;
//  - CAPS, SEGMENT, GAP, FLUSH_STOP, EOS and `acoustok-segment` events: the
//    element's output for a segment goes out before the event that ends it,
//    and flow returns of a drain are passed on (a fatal one posts an error);
//  - the output format: the first of src_caps() downstream accepts (binary
//    first, then text), chosen again when downstream asks (RECONFIGURE);
//  - the LATENCY query: upstream's plus what latency() adds;
//  - the model loaded on NULL->READY (a failure names the file and fails the
//    state change; the load is logged with the path, size and time),
//    streaming state made on READY->PAUSED and after a flush;
//  - the properties: each is a field of the subclass's instance struct that
//    the base initialises, gets, sets (in NULL/READY only) and frees.
//
// A subclass keeps only its property declarations and its processing.
#pragma once

#include <gst/base/gstadapter.h>
#include <gst/gst.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "gstacoustokformats.hpp"

struct GstAcoustokAudioInput;  // the conversion state of audio input (gstacoustokelement.cpp)

G_BEGIN_DECLS

#define GST_TYPE_ACOUSTOK_ELEMENT (gst_acoustok_element_get_type())
#define GST_ACOUSTOK_ELEMENT(obj) \
  (G_TYPE_CHECK_INSTANCE_CAST((obj), GST_TYPE_ACOUSTOK_ELEMENT, GstAcoustokElement))
#define GST_ACOUSTOK_ELEMENT_GET_CLASS(obj) \
  (G_TYPE_INSTANCE_GET_CLASS((obj), GST_TYPE_ACOUSTOK_ELEMENT, GstAcoustokElementClass))
#define GST_ACOUSTOK_ELEMENT_CLASS(klass) \
  (G_TYPE_CHECK_CLASS_CAST((klass), GST_TYPE_ACOUSTOK_ELEMENT, GstAcoustokElementClass))

// Why a segment ends (finish_segment).
typedef enum {
  GST_ACOUSTOK_SEGMENT_EVENT,  // an `acoustok-segment` event arrived (it is forwarded after)
  GST_ACOUSTOK_DISCONT,  // a break: DISCONT, a GAP event or a time jump; the input after it starts afresh
  GST_ACOUSTOK_EOS,      // end of stream: drain everything
} GstAcoustokSegmentEnd;

struct GstAcoustokElement {
  GstElement parent;

  GstPad* sinkpad;
  GstPad* srcpad;
  GstSegment segment;   // of the input, in TIME
  GstAdapter* adapter;  // binary input not yet consumed
  gboolean text_in;     // input caps are text/x-raw (lines go to handle_line)
  gboolean text_out;    // the output format chosen is text/x-raw

  // Set by set_caps for binary input: bytes and items per second of one
  // input item (a float sample: 4 bytes, 16000/s; a unit: 2 bytes, 50/s).
  gsize item_bytes;
  gint items_per_second;

  /*< private >*/
  acoustok::gst::Timeline* timeline;  // input item index -> time
  guint64 items_in;                   // items pushed into the adapter since start
  guint64 items_taken;                // items taken out of it
  std::string* text_pending;          // text input after the last newline
  guint64 text_lines;                 // complete lines seen
  gboolean src_caps_set;
  gboolean loaded;
  gboolean discont_pending;            // the next output buffer gets DISCONT
  GstAcoustokAudioInput* audio_input;  // audio/x-raw input: its conversion to 16 kHz mono
  GstClockTime resample_latency;       // what that conversion holds back at most (object lock)
};

struct GstAcoustokElementClass {
  GstElementClass parent_class;

  // Every virtual may throw acoustok::Error: the base posts it as an element
  // error (naming the file, as the message does) and fails the call.

  // NULL->READY: load the model the properties name. READY->NULL: drop it.
  void (*load)(GstAcoustokElement* self);
  void (*unload)(GstAcoustokElement* self);
  // READY->PAUSED and after a flush: fresh streaming state. PAUSED->READY: drop it.
  void (*start)(GstAcoustokElement* self);
  void (*stop)(GstAcoustokElement* self);
  // Input caps (text_in is set already): check them against the model and,
  // for binary input, set item_bytes and items_per_second.
  void (*set_caps)(GstAcoustokElement* self, const GstStructure* caps);
  // What the element can output now, preferred first (transfer full).
  GstCaps* (*src_caps)(GstAcoustokElement* self);
  // Binary input: `size` bytes were just added to the adapter (they are also
  // at `data`, mapped). Take what can be processed with take_items.
  GstFlowReturn (*handle_input)(GstAcoustokElement* self, const guint8* data, gsize size);
  // Text input: one complete line (without its newline), numbered from 1.
  // `pts`: of the buffer that completed it when it is the first line
  // completed there, else GST_CLOCK_TIME_NONE (it follows the previous one).
  GstFlowReturn (*handle_line)(GstAcoustokElement* self, std::string_view line, guint64 line_no,
                               GstClockTime pts);
  // The segment ended: push what it still holds. After GST_ACOUSTOK_DISCONT
  // the input that follows is a new span on its own timestamps (the item
  // indices go on counting).
  GstFlowReturn (*finish_segment)(GstAcoustokElement* self, GstAcoustokSegmentEnd reason);
  // Latency the element adds; `unbounded` when output may wait without bound.
  void (*latency)(GstAcoustokElement* self, GstClockTime* ours, gboolean* unbounded);
};

GType gst_acoustok_element_get_type(void);

// Items in the adapter, whole ones only.
guint64 gst_acoustok_element_available(GstAcoustokElement* self);
// Index (since start) of the first item in the adapter, and its time and
// OFFSET (GST_CLOCK_TIME_NONE / GST_BUFFER_OFFSET_NONE when unknown).
guint64 gst_acoustok_element_head_index(GstAcoustokElement* self);
GstClockTime gst_acoustok_element_time_of(GstAcoustokElement* self, guint64 index);
guint64 gst_acoustok_element_offset_of(GstAcoustokElement* self, guint64 index);
// The first `n` items of the adapter, mapped (valid until the next take or
// flush), without removing them.
const guint8* gst_acoustok_element_peek_items(GstAcoustokElement* self, guint64 n);
// Removes the first `n` items (after peek_items, or to drop them).
void gst_acoustok_element_flush_items(GstAcoustokElement* self, guint64 n);
// Input whose items are not on a fixed rate (reduced units: one item per run
// of frames): the item after those received so far starts at `pts` / `offset`
// (what the base expects when the next buffer comes, to tell a break from
// input that follows on). Call from handle_input.
void gst_acoustok_element_continue_at(GstAcoustokElement* self, GstClockTime pts, guint64 offset);
// Removes the first `n` items as a buffer stamped with their PTS, DURATION
// (n items at the input's rate, ending where the next item follows on) and
// OFFSET / OFFSET_END (item indices since start).
GstBuffer* gst_acoustok_element_take_buffer(GstAcoustokElement* self, guint64 n);

// Chooses the output format when none is set yet or downstream asked for
// another (RECONFIGURE); call before making output that depends on text_out.
GstFlowReturn gst_acoustok_element_prepare_output(GstAcoustokElement* self);
// Pushes on the source pad (after prepare_output when it was not called).
GstFlowReturn gst_acoustok_element_push(GstAcoustokElement* self, GstBuffer* buffer);

// ---- properties (gstacoustokproperties.cpp) ----

// Every acoustok property: model and streaming properties apply on the next
// NULL->READY / READY->PAUSED, so they are set in NULL or READY only.
#define GST_ACOUSTOK_PARAM_FLAGS \
  static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

// Installs `pspec` as property `id`, held in the instance field at `offset`
// (of `size` bytes): gchar* for a string, gint for an int or enum, gboolean,
// guint, guint64 or gdouble. The base sets the field to the default on init,
// reads and writes it under the object lock (refusing a change outside NULL
// and READY with a warning) and frees a string on finalize, so a subclass
// needs no set_property / get_property of its own. Use the macro.
void gst_acoustok_element_class_install_property(GstAcoustokElementClass* klass, guint id, GParamSpec* pspec,
                                                 gsize offset, gsize size);
#define GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY(klass, id, Type, field, pspec)                    \
  gst_acoustok_element_class_install_property(GST_ACOUSTOK_ELEMENT_CLASS(klass), (id), (pspec), \
                                              offsetof(Type, field), sizeof(Type::field))

// The property every element that runs a model has: `model`, a path.
GParamSpec* gst_acoustok_param_spec_model(const gchar* nick, const gchar* blurb);
// `device`: where a model runs (acoustok::gst::Device, default auto).
GParamSpec* gst_acoustok_param_spec_device(const gchar* blurb);

// For load: the `model` property, or an acoustok::Error naming the element
// and the property when it is not set.
std::string gst_acoustok_element_model_path(GstAcoustokElement* self);

// Whether a property may change now (NULL or READY); warns when not.
gboolean gst_acoustok_element_may_set(GstAcoustokElement* self, GParamSpec* pspec);

G_END_DECLS
