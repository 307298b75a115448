// SPDX-License-Identifier: MIT
// The element base's audio input: audio/x-raw at any rate and channel count
// made 16 kHz mono (AudioIn), its breaks found on the input's own frames and
// its 16 kHz samples timed on the span's grid (see GstAcoustokAudioInput).
#include <cstdlib>
#include <vector>

#include "gstacoustokelement_private.hpp"

namespace acoustok::gst::detail {

namespace {

// Converted 16 kHz samples join the adapter as an input buffer's would, and
// go on to the subclass.
GstFlowReturn feed_converted(GstAcoustokElement* self, const std::vector<float>& x) {
  if (x.empty()) return GST_FLOW_OK;
  const gsize bytes = x.size() * sizeof(float);
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, bytes, nullptr);
  gst_buffer_fill(buffer, 0, x.data(), bytes);
  gst_adapter_push(self->adapter, buffer);
  self->items_in += x.size();
  auto* klass = klass_of(self);
  GstFlowReturn ret = GST_FLOW_OK;
  if (klass->handle_input && !run_guarded(self, Stage::stream, [&] {
        ret = klass->handle_input(self, reinterpret_cast<const guint8*>(x.data()), bytes);
      })) {
    ret = GST_FLOW_ERROR;
  }
  return ret;
}

// Times the 16 kHz samples an input buffer of converted audio gives: the
// span's first buffer anchors them at its PTS; a later one only where its
// PTS strays from the span's 16 kHz grid, at the sample matching its first
// frame (soxr's output sample k is the input's time k / 16000).
void mark_converted(GstAcoustokElement* self, GstBuffer* buffer) {
  GstAcoustokAudioInput& in = *self->audio_input;
  const GstClockTime pts = GST_BUFFER_PTS(buffer);
  if (!in.span_open) {
    in.span_open = true;
    in.span_first = in.frames_in;
    in.span_origin = self->items_in;
    self->timeline->mark(self->items_in, pts, GST_BUFFER_OFFSET_NONE);
  } else if (GST_CLOCK_TIME_IS_VALID(pts)) {
    constexpr gint64 out_rate = acoustok::grid::kSampleRate;
    const gint64 rate = in.audio.rate();
    const guint64 j = in.frames_in - in.span_first;
    const guint64 k =
        gst_util_uint64_scale_int_round(j, static_cast<gint>(out_rate), static_cast<gint>(rate));
    // Sample k lies (k rate - j 16000) / (16000 rate) s after frame j: at most half a sample of either.
    const gint64 num = static_cast<gint64>(k) * rate - static_cast<gint64>(j) * out_rate;
    const GstClockTimeDiff shift = num * static_cast<gint64>(GST_SECOND) / (out_rate * rate);
    const GstClockTimeDiff at = static_cast<GstClockTimeDiff>(pts) + shift;
    const GstClockTime grid = self->timeline->time_of(in.span_origin + k, self->segment.start);
    const long long half_sample = GST_SECOND / out_rate / 2;
    if (at >= 0 && std::llabs(GST_CLOCK_DIFF(grid, static_cast<GstClockTime>(at))) > half_sample) {
      self->timeline->mark(in.span_origin + k, static_cast<GstClockTime>(at), GST_BUFFER_OFFSET_NONE);
    }
  }
  in.timeline.mark(in.frames_in, pts, GST_BUFFER_OFFSET(buffer));
}

}  // namespace

// The end of a span of converted audio: the samples the resampler still
// holds go to the subclass before the span's end does.
GstFlowReturn drain_converted(GstAcoustokElement* self) {
  GstAcoustokAudioInput& in = *self->audio_input;
  if (!in.span_open) return GST_FLOW_OK;
  in.span_open = false;
  std::vector<float> rest;
  if (!run_guarded(self, Stage::stream, [&] { in.audio.drain(rest); })) return GST_FLOW_ERROR;
  return feed_converted(self, rest);
}

// Audio input: its rate and channel count. A change drains the audio of the
// old format first; its resampler's hold-back is the latency conversion adds.
bool set_audio_format(GstAcoustokElement* self, const GstStructure* s) {
  gint rate = 0, channels = 0;
  if (!gst_structure_get_int(s, "rate", &rate) || !gst_structure_get_int(s, "channels", &channels) ||
      rate <= 0 || channels <= 0) {
    GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("audio caps without a rate or channel count"), (nullptr));
    return false;
  }
  GstAcoustokAudioInput& in = *self->audio_input;
  if (rate == in.audio.rate() && channels == in.audio.channels()) return true;
  check_drain(self, drain_converted(self));
  in.audio.configure(rate, channels);
  in.timeline.clear();
  in.timeline.set_rate(rate);
  in.frames_in = 0;  // the input goes on (no break) at its new rate
  GstClockTime delay = 0;
  if (!run_guarded(self, Stage::caps, [&] { delay = in.audio.delay(); })) return false;
  GST_OBJECT_LOCK(self);
  self->resample_latency = delay;
  GST_OBJECT_UNLOCK(self);
  GST_DEBUG_OBJECT(self, "audio in: %d Hz, %d channels, resampler delay %" GST_TIME_FORMAT, rate, channels,
                   GST_TIME_ARGS(delay));
  return true;
}

// Audio at another rate or with more channels: made 16 kHz mono, then handled
// as 16 kHz input would be.
GstFlowReturn chain_converted(GstAcoustokElement* self, GstBuffer* buffer, const GstMapInfo& map) {
  GstAcoustokAudioInput& in = *self->audio_input;
  const gsize frame = in.audio.frame_bytes();
  if (map.size % frame != 0) {
    GST_ELEMENT_ERROR(
        self, STREAM, FORMAT,
        ("an input buffer of %" G_GSIZE_FORMAT " bytes is not a whole number of F32 frames of %d "
         "channels (%" G_GSIZE_FORMAT " bytes each)",
         map.size, in.audio.channels(), frame),
        (nullptr));
    return GST_FLOW_ERROR;
  }
  const size_t frames = map.size / frame;
  mark_converted(self, buffer);
  in.frames_in += frames;
  std::vector<float> out;
  if (!run_guarded(self, Stage::stream,
                   [&] { in.audio.convert(reinterpret_cast<const float*>(map.data), frames, out); })) {
    return GST_FLOW_ERROR;
  }
  return feed_converted(self, out);
}

}  // namespace acoustok::gst::detail
