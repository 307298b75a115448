// SPDX-License-Identifier: MIT
// The xlsrfeat element with GstHarness: a segment's frames equal
// `acoustok features` on the same audio; timestamps and offsets; windows of a
// stream without segment events; flush; model errors; latency.
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <cmath>

#include "acoustok/audio_io.hpp"
#include "acoustok/features.hpp"
#include "acoustok/tensor_file.hpp"
#include "test_util.hpp"

using acoustok::test::fixture;

namespace {

constexpr const char* kAudioCaps = "audio/x-raw, format=F32LE, rate=16000, channels=1, layout=interleaved";

const std::vector<float>& speech() {
  static const std::vector<float> s = acoustok::read_audio_16k_mono(fixture("xlsr/speech_pt.wav"));
  return s;
}

GstHarness* make_harness(const std::string& props) {
  GstHarness* h = gst_harness_new_parse(("xlsrfeat model=" + fixture("xlsr/xlsr_st") + " threads=2 " + props).c_str());
  gst_harness_set_src_caps_str(h, kAudioCaps);
  return h;
}

// Audio [from, to) of x in buffers of 1600 samples stamped from `base`.
void push_audio(GstHarness* h, const std::vector<float>& x, size_t from, size_t to, GstClockTime base) {
  for (size_t at = from; at < to; at += 1600) {
    const size_t n = std::min<size_t>(1600, to - at);
    GstBuffer* b = gst_buffer_new_allocate(nullptr, n * sizeof(float), nullptr);
    gst_buffer_fill(b, 0, x.data() + at, n * sizeof(float));
    GST_BUFFER_PTS(b) = base + gst_util_uint64_scale(at - from, GST_SECOND, 16000);
    GST_BUFFER_DURATION(b) = gst_util_uint64_scale(n, GST_SECOND, 16000);
    ASSERT_EQ(gst_harness_push(h, b), GST_FLOW_OK);
  }
}

GstEvent* segment_event(guint64 i, GstClockTime start, GstClockTime stop) {
  GstStructure* s = gst_structure_new("acoustok-segment", "index", G_TYPE_UINT64, i, "start", G_TYPE_UINT64, start,
                                      "stop", G_TYPE_UINT64, stop, nullptr);
  return gst_event_new_custom(GST_EVENT_CUSTOM_DOWNSTREAM, s);
}

struct Pulled {
  std::vector<float> data;
  std::vector<GstClockTime> pts, duration;
  std::vector<guint64> offset;
  int64_t frames = 0;
};

Pulled pull_all(GstHarness* h, int64_t dim) {
  Pulled p;
  while (GstBuffer* b = gst_harness_try_pull(h)) {
    GstMapInfo map;
    gst_buffer_map(b, &map, GST_MAP_READ);
    const auto* f = reinterpret_cast<const float*>(map.data);
    p.data.insert(p.data.end(), f, f + map.size / sizeof(float));
    p.frames += static_cast<int64_t>(map.size / sizeof(float) / static_cast<size_t>(dim));
    gst_buffer_unmap(b, &map);
    p.pts.push_back(GST_BUFFER_PTS(b));
    p.duration.push_back(GST_BUFFER_DURATION(b));
    p.offset.push_back(GST_BUFFER_OFFSET(b));
    gst_buffer_unref(b);
  }
  return p;
}

}  // namespace

TEST(XlsrFeat, SegmentFramesEqualTheCommandLine) {
  const std::string dir = acoustok::test::make_temp_dir("xlsrfeat");
  std::string out;
  ASSERT_EQ(acoustok::test::run_command(acoustok::test::acoustok_bin() + " features -q --layer 2 --threads 2 --model " +
                                            fixture("xlsr/xlsr_st") + " " + fixture("xlsr/speech_pt.wav") + " -o " + dir +
                                            "/cli.npy",
                                        &out),
            0)
      << out;
  const auto cli = acoustok::read_npy(dir + "/cli.npy");

  GstHarness* h = make_harness("layer=2");
  const GstClockTime t0 = 5 * GST_SECOND;
  push_audio(h, speech(), 0, speech().size(), t0);
  EXPECT_EQ(gst_harness_buffers_in_queue(h), 0u);  // held until the segment ends
  ASSERT_TRUE(gst_harness_push_event(h, segment_event(0, t0, t0 + GST_SECOND * 3)));
  GstCaps* caps = gst_pad_get_current_caps(h->sinkpad);
  ASSERT_NE(caps, nullptr);
  gint dim = 0, layer = 0;
  gst_structure_get_int(gst_caps_get_structure(caps, 0), "dim", &dim);
  gst_structure_get_int(gst_caps_get_structure(caps, 0), "layer", &layer);
  gst_caps_unref(caps);
  EXPECT_EQ(dim, 32);
  EXPECT_EQ(layer, 2);
  const Pulled p = pull_all(h, 32);
  ASSERT_EQ(p.frames, cli.shape[0]);
  ASSERT_EQ(p.pts.size(), 1u);
  EXPECT_EQ(p.pts[0], t0);
  EXPECT_EQ(p.offset[0], 0u);
  EXPECT_EQ(p.duration[0], static_cast<GstClockTime>(p.frames) * 20 * GST_MSECOND);
  float max_err = 0, max_ref = 0;
  for (size_t i = 0; i < cli.values.size(); ++i) {
    max_err = std::max(max_err, std::abs(cli.values[i] - p.data[i]));
    max_ref = std::max(max_ref, std::abs(cli.values[i]));
  }
  EXPECT_LE(max_err, 1e-5f * max_ref);
  // The segment event follows the features.
  bool seen = false;
  while (GstEvent* e = gst_harness_try_pull_event(h)) {
    if (GST_EVENT_TYPE(e) == GST_EVENT_CUSTOM_DOWNSTREAM) seen = true;
    gst_event_unref(e);
  }
  EXPECT_TRUE(seen);
  gst_harness_teardown(h);
}

TEST(XlsrFeat, StreamWithoutSegmentsIsCutIntoOverlappingWindows) {
  std::vector<float> x;
  for (int k = 0; k < 4; ++k) x.insert(x.end(), speech().begin(), speech().end());  // 601 frames, 12 s
  GstHarness* h = make_harness("layer=3 max-window-time=4000000000 context-time=1000000000");
  push_audio(h, x, 0, x.size(), 0);
  gst_harness_push_event(h, gst_event_new_eos());
  const Pulled p = pull_all(h, 32);
  EXPECT_EQ(p.frames, acoustok::feature_frames(static_cast<int64_t>(x.size())));
  ASSERT_GE(p.pts.size(), 3u);
  guint64 next = 0;
  for (size_t i = 0; i < p.pts.size(); ++i) {  // contiguous frames on the source timeline
    EXPECT_EQ(p.offset[i], next);
    EXPECT_EQ(p.pts[i], next * 20 * GST_MSECOND);
    next += p.duration[i] / (20 * GST_MSECOND);
  }
  for (float v : p.data) ASSERT_TRUE(std::isfinite(v));
  gst_harness_teardown(h);
}

TEST(XlsrFeat, FlushDropsTheHeldAudio) {
  GstHarness* h = make_harness("layer=1");
  push_audio(h, speech(), 0, 16000, 0);
  gst_harness_push_event(h, gst_event_new_flush_start());
  gst_harness_push_event(h, gst_event_new_flush_stop(TRUE));
  push_audio(h, speech(), 0, 8000, 7 * GST_SECOND);
  gst_harness_push_event(h, segment_event(1, 7 * GST_SECOND, 7 * GST_SECOND + GST_SECOND / 2));
  const Pulled p = pull_all(h, 32);
  EXPECT_EQ(p.frames, acoustok::feature_frames(8000));
  ASSERT_EQ(p.pts.size(), 1u);
  EXPECT_EQ(p.pts[0], 7 * GST_SECOND);
  gst_harness_teardown(h);
}

TEST(XlsrFeat, ShortSegmentGivesNoBufferButKeepsTheEvent) {
  GstHarness* h = make_harness("layer=1");
  push_audio(h, speech(), 0, 300, 0);
  ASSERT_TRUE(gst_harness_push_event(h, segment_event(0, 0, GST_MSECOND * 19)));
  EXPECT_EQ(gst_harness_buffers_in_queue(h), 0u);
  gst_harness_teardown(h);
}

TEST(XlsrFeat, ModelErrorsFailTheStateChangeNamingTheFile) {
  for (const std::string& props : {std::string("model=/nonexistent/xlsr"), "model=" + fixture("xlsr/xlsr_st") + " layer=9"}) {
    GstElement* e = gst_parse_launch(("xlsrfeat " + props).c_str(), nullptr);
    ASSERT_NE(e, nullptr);
    GstBus* bus = gst_bus_new();
    gst_element_set_bus(e, bus);
    EXPECT_EQ(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
    GstMessage* m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    ASSERT_NE(m, nullptr);
    GError* err = nullptr;
    gchar* debug = nullptr;
    gst_message_parse_error(m, &err, &debug);
    const std::string text = std::string(err->message) + " " + (debug ? debug : "");
    EXPECT_TRUE(text.find("/nonexistent/xlsr") != std::string::npos || text.find("out of range") != std::string::npos)
        << text;
    g_error_free(err);
    g_free(debug);
    gst_message_unref(m);
    gst_element_set_state(e, GST_STATE_NULL);
    gst_object_unref(bus);
    gst_object_unref(e);
  }
}

TEST(XlsrFeat, AnswersLatencyWithItsWindow) {
  GstHarness* h = make_harness("layer=1 max-window-time=8000000000");
  GstQuery* q = gst_query_new_latency();
  ASSERT_TRUE(gst_pad_peer_query(h->sinkpad, q));
  gboolean live;
  GstClockTime min, max;
  gst_query_parse_latency(q, &live, &min, &max);
  EXPECT_GE(min, 8 * GST_SECOND);
  gst_query_unref(q);
  gst_harness_teardown(h);
}
