// SPDX-License-Identifier: MIT
// What the files of the element base share (gstacoustokelement.cpp,
// gstacoustokaudioinput.cpp, gstacoustokproperties.cpp); subclasses use
// gstacoustokelement.hpp only.
#pragma once

#include <exception>
#include <string>
#include <vector>

#include "gstacoustokelement.hpp"

GST_DEBUG_CATEGORY_EXTERN(acoustok_element_debug);
#define GST_CAT_DEFAULT acoustok_element_debug

// Audio input converted to 16 kHz mono (AudioIn). The input's own frames
// have a timeline of their own, at their rate, where breaks are found. A
// span's 16 kHz samples follow its first PTS on the 16 kHz grid, as the
// command line times a file's samples; a later buffer re-anchors them only
// where its PTS strays from that grid by more than half a 16 kHz sample
// (a live source's jitter; a file's PTS are rounded to the nanosecond).
struct GstAcoustokAudioInput {
  acoustok::gst::AudioIn audio;
  acoustok::gst::Timeline timeline;  // input frame index -> time
  guint64 frames_in = 0;             // input frames since start
  bool span_open = false;            // the resampler holds a span's audio
  guint64 span_first = 0;            // input frame index of the span's first frame
  guint64 span_origin = 0;           // 16 kHz item index of its first sample
};

namespace acoustok::gst::detail {

inline GstAcoustokElementClass* klass_of(GstAcoustokElement* self) {
  return GST_ACOUSTOK_ELEMENT_GET_CLASS(self);
}

// Runs fn() and turns an exception into an element error: RESOURCE/NOT_FOUND
// while loading a model, CORE/NEGOTIATION for caps, STREAM/FAILED otherwise.
enum class Stage { model, caps, stream };

template <typename Fn>
bool run_guarded(GstAcoustokElement* self, Stage stage, Fn&& fn) noexcept {
  const char* what = nullptr;
  std::string message;
  try {
    fn();
    return true;
  } catch (const std::exception& e) {
    message = e.what();
    what = message.c_str();
  } catch (...) {
    what = "unknown error";
  }
  switch (stage) {
    case Stage::model:
      GST_ELEMENT_ERROR(self, RESOURCE, NOT_FOUND, ("%s", what), (nullptr));
      break;
    case Stage::caps:
      GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("%s", what), (nullptr));
      break;
    case Stage::stream:
      GST_ELEMENT_ERROR(self, STREAM, FAILED, ("%s", what), (nullptr));
      break;
  }
  return false;
}

// A drain's flow return: FLUSHING and NOT_LINKED are normal ends; a fatal
// one is posted as an error (events cannot return it).
inline void check_drain(GstAcoustokElement* self, GstFlowReturn ret) {
  if (ret == GST_FLOW_OK || ret == GST_FLOW_FLUSHING || ret == GST_FLOW_NOT_LINKED || ret == GST_FLOW_EOS)
    return;
  if (ret == GST_FLOW_ERROR) return;  // posted where it happened
  GST_ELEMENT_FLOW_ERROR(self, ret);
}

// Audio input (gstacoustokaudioinput.cpp).
inline bool converting(GstAcoustokElement* self) { return self->audio_input->audio.converts(); }
// Ends a span of converted audio: what the resampler holds goes to the subclass.
GstFlowReturn drain_converted(GstAcoustokElement* self);
// Audio caps: the input's rate and channel count.
bool set_audio_format(GstAcoustokElement* self, const GstStructure* s);
// An input buffer of audio that is not 16 kHz mono.
GstFlowReturn chain_converted(GstAcoustokElement* self, GstBuffer* buffer, const GstMapInfo& map);

// Properties (gstacoustokproperties.cpp): the GObject vfuncs, the fields'
// defaults on init and their strings freed on finalize.
void set_property(GObject* object, guint id, const GValue* value, GParamSpec* pspec);
void get_property(GObject* object, guint id, GValue* value, GParamSpec* pspec);
void init_properties(GstAcoustokElement* self, gpointer g_class);
void free_properties(GstAcoustokElement* self);
// After load: the model's path, size and load time, at INFO.
void log_model_loaded(GstAcoustokElement* self, double seconds);

}  // namespace acoustok::gst::detail
