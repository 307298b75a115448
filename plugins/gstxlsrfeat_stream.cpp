// SPDX-License-Identifier: MIT
// xlsrfeat's streaming mode (chunk-time > 0; the element's documentation in
// gstxlsrfeat.cpp says what it computes): the core's StreamingFeatures fed
// as audio arrives, its frames timed from the segment's first sample, the
// run time measured at load for the latency, and a live source the model
// cannot keep up with reported.
#include <algorithm>
#include <chrono>
#include <vector>

#include "gstxlsrfeat.hpp"

using acoustok::grid::kHop;

// The compute of one streaming run on silence, the slower of two after a
// first one that makes the model's kernels for that size: the front end of a
// chunk's new audio (of the whole visible audio where the front end is not
// frame-local), then the transformer over the chunk and its lookahead with a
// full context of reused keys and values, or over context + chunk +
// lookahead when the context is recomputed. Part of the latency reported;
// thanks to the first run the stream's first chunk does not make kernels.
GstClockTime xlsr_feat_measure_streaming_run(XlsrModel& m) {
  acoustok::FeatureExtractor& fx = *m.extractor;
  const acoustok::StreamingFeatures shape(fx, m.stream);
  const int64_t context = shape.context_frames();
  const int64_t window = context + shape.chunk_frames() + shape.lookahead_frames();
  const int64_t fresh = fx.frame_local_front_end() ? shape.chunk_frames() : window;
  const std::vector<float> silence(static_cast<size_t>((fresh - 1) * kHop + acoustok::grid::kReceptiveField),
                                   0.0f);
  const auto zeros = [&fx](int64_t frames) {
    acoustok::Features f;
    f.frames = frames;
    f.dim = fx.dim();
    f.data.assign(static_cast<size_t>(frames * f.dim), 0.0f);
    return f;
  };
  const acoustok::Features frames = zeros(window);
  const bool reuse = m.stream.mode == acoustok::StreamingOptions::Mode::reuse_context;
  const int64_t again = shape.recompute_frames();
  std::unique_ptr<acoustok::FeatureExtractor::EncoderState> state;
  if (reuse) {
    state = fx.new_encoder_state();
    if (context > 0) fx.encode_next(*state, zeros(context), 0, context, context);  // a full past
  }
  std::chrono::steady_clock::duration slowest{};
  for (int i = 0; i < 3; ++i) {  // the first run makes the kernels: untimed
    const auto start = std::chrono::steady_clock::now();
    fx.front_end(silence.data(), silence.size());
    if (reuse) {
      fx.encode_next(*state, frames, context - again, again + shape.chunk_frames(), context, again);
    } else {
      fx.encode(frames);
    }
    if (i > 0) slowest = std::max(slowest, std::chrono::steady_clock::now() - start);
  }
  return static_cast<GstClockTime>(std::chrono::duration_cast<std::chrono::nanoseconds>(slowest).count());
}

namespace {

// Frames [step.first_frame, ...) of the segment as one buffer (none when empty).
GstFlowReturn push_stream_step(GstXlsrFeat* self, const acoustok::StreamStep& step) {
  GstAcoustokElement* base = GST_ACOUSTOK_ELEMENT(self);
  const int64_t n = step.features.frames;
  if (n == 0) return GST_FLOW_OK;
  const size_t bytes = step.features.data.size() * sizeof(float);
  GstBuffer* out = gst_buffer_new_allocate(nullptr, bytes, nullptr);
  gst_buffer_fill(out, 0, step.features.data.data(), bytes);
  // A segment holds no break: its frames follow its first sample's time.
  const GstClockTime start = self->segment->first_time;
  GST_BUFFER_PTS(out) = GST_CLOCK_TIME_IS_VALID(start) ? start + static_cast<GstClockTime>(step.first_frame) *
                                                                     acoustok::gst::kFrameDuration
                                                       : GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION(out) = static_cast<GstClockTime>(n) * acoustok::gst::kFrameDuration;
  GST_BUFFER_OFFSET(out) = static_cast<guint64>(step.first_frame);
  GST_BUFFER_OFFSET_END(out) = static_cast<guint64>(step.first_frame + n);
  return gst_acoustok_element_push(base, out);
}

// Live input only: when the newest audio has waited over a second longer than
// the latency reported, the model does not keep up: a QoS message (jitter =
// how late) and, once per segment, a warning say so instead of drifting.
void check_keeping_up(GstXlsrFeat* self, GstClockTime input_end) {
  GstAcoustokElement* base = GST_ACOUSTOK_ELEMENT(self);
  XlsrSegment& seg = *self->segment;
  if (seg.live < 0) {
    GstQuery* query = gst_query_new_latency();
    gboolean live = FALSE;
    if (gst_pad_peer_query(base->sinkpad, query)) gst_query_parse_latency(query, &live, nullptr, nullptr);
    gst_query_unref(query);
    seg.live = live ? 1 : 0;
  }
  if (seg.live == 0 || !GST_CLOCK_TIME_IS_VALID(input_end)) return;
  GstClock* clock = gst_element_get_clock(GST_ELEMENT(self));
  if (!clock) return;
  const GstClockTime now = gst_clock_get_time(clock),
                     base_time = gst_element_get_base_time(GST_ELEMENT(self));
  gst_object_unref(clock);
  const guint64 running = gst_segment_to_running_time(&base->segment, GST_FORMAT_TIME, input_end);
  if (!GST_CLOCK_TIME_IS_VALID(running) || now < base_time) return;
  const GstClockTimeDiff late = GST_CLOCK_DIFF(running, now - base_time);
  const GstClockTimeDiff budget =
      static_cast<GstClockTimeDiff>(xlsr_feat_reported_latency(self) + GST_SECOND);
  if (late <= budget) return;
  GstMessage* qos = gst_message_new_qos(GST_OBJECT(self), TRUE, running, GST_CLOCK_TIME_NONE, input_end,
                                        GST_CLOCK_TIME_NONE);
  gst_message_set_qos_values(qos, late, 1.0, 1000000);
  gst_element_post_message(GST_ELEMENT(self), qos);
  if (!seg.warned) {
    seg.warned = true;
    GST_ELEMENT_WARNING(
        self, STREAM, FAILED, ("xlsrfeat does not keep up with the live source"),
        ("audio waits %.2f s, %.2f s more than the latency reported: raise chunk-time or lower "
         "context-time (or use precision=bf16)",
         static_cast<double>(late) / GST_SECOND,
         static_cast<double>(late - budget + GST_SECOND) / GST_SECOND));
  }
}

}  // namespace

// Streaming: all the audio goes to the core, which gives every chunk whose
// lookahead has arrived.
GstFlowReturn xlsr_feat_stream_input(GstXlsrFeat* self) {
  GstAcoustokElement* base = GST_ACOUSTOK_ELEMENT(self);
  const guint64 n = gst_acoustok_element_available(base);
  if (n == 0) return GST_FLOW_OK;
  XlsrSegment& seg = *self->segment;
  if (!GST_CLOCK_TIME_IS_VALID(seg.first_time))
    seg.first_time = gst_acoustok_element_time_of(base, seg.first);
  const GstClockTime input_end =
      gst_acoustok_element_time_of(base, gst_acoustok_element_head_index(base) + n);
  const auto* x = reinterpret_cast<const float*>(gst_acoustok_element_peek_items(base, n));
  const acoustok::StreamStep step = self->segment->stream->push(x, static_cast<size_t>(n));
  gst_acoustok_element_flush_items(base, n);
  const GstFlowReturn ret = push_stream_step(self, step);
  check_keeping_up(self, input_end);
  return ret;
}

GstFlowReturn xlsr_feat_stream_finish(GstXlsrFeat* self) {
  GstAcoustokElement* base = GST_ACOUSTOK_ELEMENT(self);
  GstFlowReturn ret = xlsr_feat_stream_input(self);
  if (ret == GST_FLOW_OK) ret = push_stream_step(self, self->segment->stream->finish());
  self->segment->first = gst_acoustok_element_head_index(base);
  self->segment->first_time = GST_CLOCK_TIME_NONE;
  return ret;
}
