// SPDX-License-Identifier: MIT
#include "gstacoustokformats.hpp"

#include <cmath>

#include "acoustok/features.hpp"

namespace acoustok::gst {

GstEvent* make_segment_event(guint64 index, GstClockTime start, GstClockTime stop) {
  GstStructure* s = gst_structure_new(kSegmentEventName, "index", G_TYPE_UINT64, index, "start",
                                      G_TYPE_UINT64, start, "stop", G_TYPE_UINT64, stop, nullptr);
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

const Timeline::Anchor* Timeline::anchor_for(guint64 index) const {
  for (auto it = anchors_.rbegin(); it != anchors_.rend(); ++it) {
    if (it->index <= index) return &*it;
  }
  return nullptr;
}

void Timeline::mark(guint64 index, GstClockTime pts, guint64 offset) {
  const Anchor* before = anchor_for(index);
  if (before) {
    if (!GST_CLOCK_TIME_IS_VALID(pts) && GST_CLOCK_TIME_IS_VALID(before->pts)) pts = time_of(index, 0);
    if (offset == GST_BUFFER_OFFSET_NONE) offset = offset_of(index);
  }
  while (!anchors_.empty() && anchors_.back().index >= index) anchors_.pop_back();
  anchors_.push_back({index, pts, offset});
}

GstClockTime Timeline::time_of(guint64 index, GstClockTime fallback_start) const {
  return end_of(index, 0, fallback_start);
}

GstClockTime Timeline::end_of(guint64 first, guint64 n, GstClockTime fallback_start) const {
  const Anchor* a = anchor_for(first);
  if (a && GST_CLOCK_TIME_IS_VALID(a->pts)) {
    return a->pts + gst_util_uint64_scale_int(first + n - a->index, GST_SECOND, rate_);
  }
  const GstClockTime start = GST_CLOCK_TIME_IS_VALID(fallback_start) ? fallback_start : 0;
  return start + gst_util_uint64_scale_int(first + n, GST_SECOND, rate_);
}

guint64 Timeline::offset_of(guint64 index) const {
  const Anchor* a = anchor_for(index);
  if (!a || a->offset == GST_BUFFER_OFFSET_NONE) return GST_BUFFER_OFFSET_NONE;
  return a->offset + (index - a->index);
}

void Timeline::forget_before(guint64 index) {
  while (anchors_.size() > 1 && anchors_[1].index <= index) anchors_.pop_front();
}

void AudioIn::configure(int rate, int channels) {
  rate_ = rate;
  channels_ = channels;
  resampler_.reset();
}

void AudioIn::convert(const float* x, size_t frames, std::vector<float>& out) {
  const float* mono = x;
  if (channels_ > 1) {
    mono_ = acoustok::downmix(std::vector<float>(x, x + frames * static_cast<size_t>(channels_)), channels_);
    mono = mono_.data();
  }
  if (rate_ == acoustok::grid::kSampleRate) {
    out.insert(out.end(), mono, mono + frames);
    return;
  }
  if (!resampler_)
    resampler_ = std::make_unique<acoustok::StreamResampler>(rate_, acoustok::grid::kSampleRate);
  resampler_->process(mono, frames, out);
}

void AudioIn::drain(std::vector<float>& out) {
  if (resampler_) resampler_->flush(out);
  resampler_.reset();
}

GstClockTime AudioIn::delay() const {
  if (rate_ == acoustok::grid::kSampleRate) return 0;
  const acoustok::StreamResampler probe(rate_, acoustok::grid::kSampleRate);
  return static_cast<GstClockTime>(std::ceil(probe.delay() * GST_SECOND / acoustok::grid::kSampleRate));
}

GType device_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {kDeviceAuto, "CUDA when a GPU is visible, else the CPU", "auto"},
      {kDeviceCpu, "The CPU", "cpu"},
      {kDeviceCuda, "The first CUDA GPU", "cuda"},
      {0, nullptr, nullptr},
  };
  if (g_once_init_enter(&type)) g_once_init_leave(&type, g_enum_register_static("GstAcoustokDevice", values));
  return type;
}

GType precision_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {static_cast<gint>(Precision::fp32), "float32 throughout", "fp32"},
      {static_cast<gint>(Precision::bf16),
       "bfloat16 products, float32 accumulation (AVX512_BF16 or AMX CPUs)", "bf16"},
      {0, nullptr, nullptr},
  };
  if (g_once_init_enter(&type))
    g_once_init_leave(&type, g_enum_register_static("GstAcoustokPrecision", values));
  return type;
}

const char* device_name(int device) {
  switch (device) {
    case kDeviceAuto:
      return "auto";
    case kDeviceCuda:
      return "cuda";
    default:
      return "cpu";
  }
}

}  // namespace acoustok::gst
