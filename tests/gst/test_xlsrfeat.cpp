// SPDX-License-Identifier: MIT
// The xlsrfeat element with GstHarness: a segment's frames equal
// `acoustok features` on the same audio; timestamps and offsets; windows of a
// stream without segment events; flush; model errors; latency.
// Over 600 lines: one element's cases, sharing its fixtures and harness helpers.
#include <gst/app/gstappsrc.h>
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "acoustok/audio_io.hpp"
#include "acoustok/features.hpp"
#include "acoustok/streaming_features.hpp"
#include "acoustok/tensor_file.hpp"
#include "gst_breaks.hpp"
#include "test_util.hpp"
#include "test_wav.hpp"

using acoustok::test::fixture;

namespace {

constexpr const char* kAudioCaps = "audio/x-raw, format=F32LE, rate=16000, channels=1, layout=interleaved";

const std::vector<float>& speech() {
  static const std::vector<float> s = acoustok::read_audio_16k_mono(fixture("xlsr/speech_pt.wav"));
  return s;
}

GstHarness* make_harness(const std::string& props) {
  GstHarness* h =
      gst_harness_new_parse(("xlsrfeat model=" + fixture("xlsr/xlsr_st") + " threads=2 " + props).c_str());
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
  GstStructure* s = gst_structure_new("acoustok-segment", "index", G_TYPE_UINT64, i, "start", G_TYPE_UINT64,
                                      start, "stop", G_TYPE_UINT64, stop, nullptr);
  return gst_event_new_custom(GST_EVENT_CUSTOM_DOWNSTREAM, s);
}

struct Pulled {
  std::vector<float> data;
  std::vector<GstClockTime> pts, duration;
  std::vector<guint64> offset, offset_end;
  std::vector<int64_t> rows;  // frames in each buffer
  std::vector<bool> discont;
  int64_t frames = 0;
};

Pulled pull_all(GstHarness* h, int64_t dim) {
  Pulled p;
  while (GstBuffer* b = gst_harness_try_pull(h)) {
    GstMapInfo map;
    gst_buffer_map(b, &map, GST_MAP_READ);
    const auto* f = reinterpret_cast<const float*>(map.data);
    p.data.insert(p.data.end(), f, f + map.size / sizeof(float));
    p.rows.push_back(static_cast<int64_t>(map.size / sizeof(float) / static_cast<size_t>(dim)));
    p.frames += p.rows.back();
    gst_buffer_unmap(b, &map);
    p.pts.push_back(GST_BUFFER_PTS(b));
    p.duration.push_back(GST_BUFFER_DURATION(b));
    p.offset.push_back(GST_BUFFER_OFFSET(b));
    p.offset_end.push_back(GST_BUFFER_OFFSET_END(b));
    p.discont.push_back(GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DISCONT) != 0);
    gst_buffer_unref(b);
  }
  return p;
}

}  // namespace

TEST(XlsrFeat, SegmentFramesEqualTheCommandLine) {
  const std::string dir = acoustok::test::make_temp_dir("xlsrfeat");
  std::string out;
  ASSERT_EQ(acoustok::test::run_command(
                acoustok::test::acoustok_bin() + " features -q --layer 2 --threads 2 --model " +
                    fixture("xlsr/xlsr_st") + " " + fixture("xlsr/speech_pt.wav") + " -o " + dir + "/cli.npy",
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

// `acoustok features` cuts a long input into the same windows as the element
// cuts a stream without segment events (one core class does both): the
// same frames, bit for bit.
TEST(XlsrFeat, WindowedStreamEqualsTheCommandLineBitForBit) {
  std::vector<float> x;
  for (int k = 0; k < 4; ++k) x.insert(x.end(), speech().begin(), speech().end());  // 12 s, 3+ windows
  const std::string dir = acoustok::test::make_temp_dir("xlsrfeat-windows");
  acoustok::write_wav_pcm16(dir + "/long.wav", x.data(), x.size());  // PCM16 samples: exact
  std::string out;
  ASSERT_EQ(acoustok::test::run_command(
                acoustok::test::acoustok_bin() +
                    " features -q --layer 3 --threads 2 --max-window 4 --context 1 --model " +
                    fixture("xlsr/xlsr_st") + " " + dir + "/long.wav -o " + dir + "/cli.npy",
                &out),
            0)
      << out;
  const auto cli = acoustok::read_npy(dir + "/cli.npy");
  GstHarness* h = make_harness("layer=3 max-window-time=4000000000 context-time=1000000000");
  push_audio(h, x, 0, x.size(), 0);
  gst_harness_push_event(h, gst_event_new_eos());
  const Pulled p = pull_all(h, 32);
  ASSERT_GE(p.pts.size(), 3u);
  ASSERT_EQ(cli.shape, (std::vector<int64_t>{p.frames, 32}));
  EXPECT_EQ(cli.values, p.data);
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
  for (const std::string& props :
       {std::string("model=/nonexistent/xlsr"), "model=" + fixture("xlsr/xlsr_st") + " layer=9"}) {
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
    EXPECT_TRUE(text.find("/nonexistent/xlsr") != std::string::npos ||
                text.find("out of range") != std::string::npos)
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
  const GstClockTime min = acoustok::test::harness_min_latency(h);
  ASSERT_TRUE(GST_CLOCK_TIME_IS_VALID(min));
  EXPECT_GE(min, 8 * GST_SECOND);
  gst_harness_teardown(h);
}

// ---- breaks in the input: a PTS jump, a DISCONT buffer, a GAP event --------

namespace {

using acoustok::test::Break;
using acoustok::test::BreakCase;
using acoustok::test::kStandardBreaks;
using acoustok::test::push_audio_with_break;

}  // namespace

TEST(XlsrFeat, BreakEndsTheSegmentAndTheAudioAfterItKeepsItsTime) {
  const auto& x = speech();
  const size_t mid = 24000;  // 1.5 s, in the middle of the speech
  ASSERT_GT(x.size(), mid + 16000);
  acoustok::FeatureOptions o;
  o.layer = 2;
  auto extractor = acoustok::FeatureExtractor::load(fixture("xlsr/xlsr_st"), o);
  // Each side of the break is run as a segment of its own.
  const acoustok::Features want[2] = {extractor->extract(x.data(), mid),
                                      extractor->extract(x.data() + mid, x.size() - mid)};
  for (const auto& c : kStandardBreaks) {
    SCOPED_TRACE(c.name);
    GstHarness* h = make_harness("layer=2");
    push_audio_with_break(h, x, mid, c);
    ASSERT_TRUE(gst_harness_push_event(h, segment_event(0, 0, GST_SECOND * 100)));
    const Pulled p = pull_all(h, 32);
    ASSERT_EQ(p.pts.size(), 2u);
    const GstClockTime span_start[2] = {0, gst_util_uint64_scale(mid, GST_SECOND, 16000) + c.shift};
    size_t at = 0;
    for (int s = 0; s < 2; ++s) {
      SCOPED_TRACE("span " + std::to_string(s));
      EXPECT_EQ(p.rows[s], want[s].frames);
      EXPECT_EQ(p.pts[s], span_start[s]);
      EXPECT_EQ(p.duration[s], static_cast<GstClockTime>(p.rows[s]) * 20 * GST_MSECOND);
      EXPECT_EQ(p.offset[s], 0u);  // frame indices count from each span's start
      EXPECT_EQ(p.offset_end[s], static_cast<guint64>(p.rows[s]));
      if (s == 1) {
        EXPECT_TRUE(p.discont[s]) << "the first buffer after the break carries DISCONT";
      }
      float max_err = 0, max_ref = 0;
      for (size_t i = 0; i < want[s].data.size() && at + i < p.data.size(); ++i) {
        max_err = std::max(max_err, std::abs(want[s].data[i] - p.data[at + i]));
        max_ref = std::max(max_ref, std::abs(want[s].data[i]));
      }
      EXPECT_LE(max_err, 1e-5f * max_ref);
      at += want[s].data.size();
    }
    gst_harness_teardown(h);
  }
}

TEST(XlsrFeat, BreakInAStreamOfWindowsStartsNewWindowsAtItsTime) {
  std::vector<float> x;
  for (int k = 0; k < 4; ++k) x.insert(x.end(), speech().begin(), speech().end());  // 12 s
  const size_t mid = x.size() / 2 / 1600 * 1600;
  for (const auto& c : kStandardBreaks) {
    SCOPED_TRACE(c.name);
    GstHarness* h = make_harness("layer=3 max-window-time=4000000000 context-time=1000000000");
    push_audio_with_break(h, x, mid, c);
    gst_harness_push_event(h, gst_event_new_eos());
    const Pulled p = pull_all(h, 32);
    const int64_t span_frames[2] = {acoustok::feature_frames(static_cast<int64_t>(mid)),
                                    acoustok::feature_frames(static_cast<int64_t>(x.size() - mid))};
    const GstClockTime span_start[2] = {0, gst_util_uint64_scale(mid, GST_SECOND, 16000) + c.shift};
    int span = 0;
    guint64 next = 0;
    for (size_t i = 0; i < p.pts.size(); ++i) {
      if (span == 0 && next == static_cast<guint64>(span_frames[0])) {  // the first span is complete
        span = 1;
        next = 0;
        EXPECT_TRUE(p.discont[i]) << "the first buffer after the break carries DISCONT";
      } else if (i > 0) {
        EXPECT_FALSE(p.discont[i]) << i;
      }
      EXPECT_EQ(p.offset[i], next) << i;
      EXPECT_EQ(p.pts[i], span_start[span] + next * 20 * GST_MSECOND) << i;
      EXPECT_EQ(p.duration[i], static_cast<GstClockTime>(p.rows[i]) * 20 * GST_MSECOND) << i;
      EXPECT_EQ(p.offset_end[i], next + static_cast<guint64>(p.rows[i])) << i;
      next += static_cast<guint64>(p.rows[i]);
    }
    EXPECT_EQ(span, 1);
    EXPECT_EQ(next, static_cast<guint64>(span_frames[1]));
    EXPECT_EQ(p.frames, span_frames[0] + span_frames[1]);
    gst_harness_teardown(h);
  }
}

// Issue 26: bounds from properties and the real problem of a torn buffer.
namespace {
// The text of the first error `element` posted on `bus`, "" when none.
std::string posted_error(GstBus* bus) {
  GstMessage* m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
  if (!m) return "";
  GError* err = nullptr;
  gchar* debug = nullptr;
  gst_message_parse_error(m, &err, &debug);
  const std::string text = std::string(err->message) + " " + (debug ? debug : "");
  g_error_free(err);
  g_free(debug);
  gst_message_unref(m);
  return text;
}
}  // namespace

// threads=1024 runs on the CPUs this process may use (47 s for 3 s of audio
// before the cap, 0.2 s after).
TEST(XlsrFeat, ThreadsAboveTheCpusAreCapped) {
  GstHarness* h =
      gst_harness_new_parse(("xlsrfeat model=" + fixture("xlsr/xlsr_st") + " layer=2 threads=1024").c_str());
  gst_harness_set_src_caps_str(h, kAudioCaps);
  const auto t0 = std::chrono::steady_clock::now();
  push_audio(h, speech(), 0, speech().size(), 0);
  gst_harness_push_event(h, gst_event_new_eos());
  const Pulled p = pull_all(h, 32);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(p.frames, acoustok::feature_frames(static_cast<int64_t>(speech().size())));
  EXPECT_LT(seconds, 10.0);
  gst_harness_teardown(h);
}

// NULL->READY fails and the posted error says `words`.
static void expect_refused_at_load(const std::string& props, const std::string& words) {
  GstElement* e =
      gst_parse_launch(("xlsrfeat model=" + fixture("xlsr/xlsr_st") + " layer=2 " + props).c_str(), nullptr);
  ASSERT_NE(e, nullptr);
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(e, bus);
  EXPECT_EQ(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE) << props;
  const std::string text = posted_error(bus);
  EXPECT_NE(text.find(words), std::string::npos) << props << ": " << text;
  gst_element_set_state(e, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(e);
}

TEST(XlsrFeat, WindowAboveAnHourFailsNamingTheProperty) {
  const struct {
    const char* props;
    const char* words;
  } cases[] = {
      {"max-window-time=3601000000000", "max-window-time must be at most 3600 s"},
      {"max-window-time=18446744073709551615", "max-window-time must be at most 3600 s"},
      {"context-time=18446744073709551615", "context-time must be less than half of max-window-time"}};
  for (const auto& c : cases) expect_refused_at_load(c.props, c.words);
}

// An F32 buffer whose size is not a multiple of 4 bytes is reported as such,
// not as a NaN sample further on.
TEST(XlsrFeat, TornF32BufferIsReportedAsSuch) {
  GstHarness* h = make_harness("layer=2");
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(h->element, bus);
  GstBuffer* b = gst_buffer_new_allocate(nullptr, 6, nullptr);
  gst_buffer_memset(b, 0, 0, 6);
  EXPECT_EQ(gst_harness_push(h, b), GST_FLOW_ERROR);
  const std::string text = posted_error(bus);
  EXPECT_NE(text.find("6 bytes is not a whole number of F32 values"), std::string::npos) << text;
  EXPECT_EQ(text.find("NaN"), std::string::npos) << text;
  gst_element_set_bus(h->element, nullptr);
  gst_object_unref(bus);
  gst_harness_teardown(h);
}

// ---- streaming (chunk-time > 0) ---------------------------------------------

namespace {

// chunk 100 ms (5 frames), lookahead 60 ms (3), context 400 ms (20).
constexpr const char* kStreaming =
    "layer=2 chunk-time=100000000 lookahead-time=60000000 context-time=400000000";

// The core's frames for one segment, pushed whole.
std::vector<float> core_stream(const float* x, size_t n, uint64_t chunk_ms, uint64_t lookahead_ms,
                               uint64_t context_ms) {
  acoustok::FeatureOptions o;
  o.layer = 2;
  auto fx = acoustok::FeatureExtractor::load(fixture("xlsr/xlsr_st"), o);
  acoustok::StreamingOptions so;
  so.chunk_ns = chunk_ms * GST_MSECOND;
  so.lookahead_ns = lookahead_ms * GST_MSECOND;
  so.context_ns = context_ms * GST_MSECOND;
  acoustok::StreamingFeatures s(*fx, so);
  std::vector<float> all = s.push(x, n).features.data;
  const std::vector<float> rest = s.finish().features.data;
  all.insert(all.end(), rest.begin(), rest.end());
  return all;
}

}  // namespace

// Segment by segment the element gives the core's streamed frames, bit for
// bit, contiguous on the source timeline and numbered within each segment.
TEST(XlsrFeatStreaming, SegmentsGiveTheCoresStreamedFrames) {
  GstHarness* h = make_harness(kStreaming);
  const size_t half = 24000;  // two segments: [0, 1.5 s) and [1.5 s, end)
  const GstClockTime t0 = 2 * GST_SECOND, t1 = t0 + gst_util_uint64_scale(half, GST_SECOND, 16000);
  push_audio(h, speech(), 0, half, t0);
  ASSERT_TRUE(gst_harness_push_event(h, segment_event(0, t0, t1)));
  push_audio(h, speech(), half, speech().size(), t1);
  gst_harness_push_event(h, gst_event_new_eos());
  const Pulled p = pull_all(h, 32);
  std::vector<float> expected = core_stream(speech().data(), half, 100, 60, 400);
  const std::vector<float> second = core_stream(speech().data() + half, speech().size() - half, 100, 60, 400);
  expected.insert(expected.end(), second.begin(), second.end());
  EXPECT_EQ(p.data, expected);
  const int64_t first_frames = acoustok::feature_frames(half);
  guint64 next = 0;
  GstClockTime seg_start = t0;
  for (size_t i = 0; i < p.pts.size(); ++i) {
    if (p.offset[i] == 0 && i > 0) {
      EXPECT_EQ(next, static_cast<guint64>(first_frames));
      next = 0;
      seg_start = t1;
    }
    EXPECT_EQ(p.offset[i], next);
    EXPECT_EQ(p.pts[i], seg_start + next * 20 * GST_MSECOND);
    EXPECT_EQ(p.offset_end[i], next + p.rows[i]);
    next += static_cast<guint64>(p.rows[i]);
  }
  EXPECT_EQ(seg_start, t1);
  gst_harness_teardown(h);
}

// Pushed one hop at a time, a chunk leaves with the buffer that completes its
// lookahead, not later: frames out = whole chunks whose lookahead is in.
TEST(XlsrFeatStreaming, ChunksLeaveAsSoonAsTheirLookaheadArrives) {
  GstHarness* h = make_harness(kStreaming);
  int64_t out = 0;
  for (size_t at = 0; at + 320 <= speech().size(); at += 320) {
    GstBuffer* b = gst_buffer_new_allocate(nullptr, 320 * sizeof(float), nullptr);
    gst_buffer_fill(b, 0, speech().data() + at, 320 * sizeof(float));
    GST_BUFFER_PTS(b) = gst_util_uint64_scale(at, GST_SECOND, 16000);
    GST_BUFFER_DURATION(b) = 20 * GST_MSECOND;
    ASSERT_EQ(gst_harness_push(h, b), GST_FLOW_OK);
    out += pull_all(h, 32).frames;
    const int64_t have = acoustok::feature_frames(static_cast<int64_t>(at + 320));
    const int64_t chunks = have >= 3 ? (have - 3) / 5 : 0;  // chunk k needs frames up to 5k + 5 + 3
    ASSERT_EQ(out, chunks * 5) << "after " << at + 320 << " samples";
  }
  gst_harness_teardown(h);
}

TEST(XlsrFeatStreaming, ContextAndLookaheadCoveringTheSegmentGiveItsOfflineFrames) {
  GstHarness* offline = make_harness("layer=2");
  GstHarness* streamed = make_harness(
      "layer=2 chunk-time=60000000 lookahead-time=20000000000 context-time=20000000000 "
      "max-window-time=60000000000");
  for (GstHarness* h : {offline, streamed}) {
    push_audio(h, speech(), 0, speech().size(), 0);
    gst_harness_push_event(h, gst_event_new_eos());
  }
  const Pulled a = pull_all(offline, 32), b = pull_all(streamed, 32);
  ASSERT_EQ(a.frames, b.frames);
  float err = 0, ref = 0;
  for (size_t i = 0; i < a.data.size(); ++i) {
    err = std::max(err, std::abs(a.data[i] - b.data[i]));
    ref = std::max(ref, std::abs(a.data[i]));
  }
  EXPECT_LE(err, 1e-5f * ref);
  gst_harness_teardown(offline);
  gst_harness_teardown(streamed);
}

// LATENCY: the wait of a chunk's first frame ((5 + 3 - 1) x 20 ms) plus the
// compute of one run, measured at load (the fixture model: well under 1 s).
TEST(XlsrFeatStreaming, AnswersLatencyWithChunkLookaheadAndCompute) {
  GstHarness* h = make_harness(kStreaming);
  const GstClockTime min = acoustok::test::harness_min_latency(h);
  ASSERT_TRUE(GST_CLOCK_TIME_IS_VALID(min));
  EXPECT_GT(min, 140 * GST_MSECOND);
  EXPECT_LT(min, 140 * GST_MSECOND + GST_SECOND);
  gst_harness_teardown(h);
}

TEST(XlsrFeatStreaming, SettingsThatCannotWorkFailNamingTheRule) {
  const struct {
    const char* props;
    const char* words;
  } cases[] = {
      {"chunk-time=10000000", "chunk-time must be at least one frame (20 ms)"},
      {"chunk-time=320000000 lookahead-time=3000000000 max-window-time=3000000000",
       "must fit in max-window-time"},
      {"chunk-time=320000000 context-time=3601000000000 max-window-time=3600000000000", "at most 3600 s"}};
  for (const auto& c : cases) expect_refused_at_load(c.props, c.words);
}

// A live source whose audio reaches the element far later than the latency
// it reported: a QoS message and a warning, not silent drift.
TEST(XlsrFeatStreaming, FallingBehindALiveSourcePostsQosAndAWarning) {
  GstElement* pipeline = gst_parse_launch(
      ("appsrc name=src is-live=true format=time caps=\"audio/x-raw,format=F32LE,rate=16000,channels=1,"
       "layout=interleaved\" ! xlsrfeat model=" +
       fixture("xlsr/xlsr_st") + " " + kStreaming + " ! fakesink sync=false")
          .c_str(),
      nullptr);
  ASSERT_NE(pipeline, nullptr);
  GstElement* src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
  ASSERT_NE(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  std::this_thread::sleep_for(
      std::chrono::milliseconds(2500));  // the clock runs on; the audio is stamped from 0
  for (size_t at = 0; at + 1600 <= speech().size(); at += 1600) {
    GstBuffer* b = gst_buffer_new_allocate(nullptr, 1600 * sizeof(float), nullptr);
    gst_buffer_fill(b, 0, speech().data() + at, 1600 * sizeof(float));
    GST_BUFFER_PTS(b) = gst_util_uint64_scale(at, GST_SECOND, 16000);
    GST_BUFFER_DURATION(b) = 100 * GST_MSECOND;
    ASSERT_EQ(gst_app_src_push_buffer(GST_APP_SRC(src), b), GST_FLOW_OK);
  }
  gst_app_src_end_of_stream(GST_APP_SRC(src));
  GstBus* bus = gst_element_get_bus(pipeline);
  bool qos = false, warning = false, eos = false;
  while (!eos) {
    GstMessage* m = gst_bus_timed_pop(bus, 10 * GST_SECOND);
    ASSERT_NE(m, nullptr) << "no EOS";
    if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_QOS) qos = true;
    if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_WARNING) {
      GError* err = nullptr;
      gst_message_parse_warning(m, &err, nullptr);
      warning = std::string(err->message).find("does not keep up") != std::string::npos;
      g_error_free(err);
    }
    eos = GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS || GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR;
    gst_message_unref(m);
  }
  EXPECT_TRUE(qos);
  EXPECT_TRUE(warning);
  gst_object_unref(bus);
  gst_object_unref(src);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
}

// Streaming, a break (PTS jump, DISCONT, GAP) ends the segment like an event:
// each side is streamed on its own, the frames after it stamped from its own
// PTS with OFFSET from 0 and DISCONT on the first buffer.
TEST(XlsrFeatStreaming, BreakStreamsEachSideOnItsOwn) {
  const auto& x = speech();
  const size_t mid = 24000;
  std::vector<float> want = core_stream(x.data(), mid, 100, 60, 400);
  const std::vector<float> after = core_stream(x.data() + mid, x.size() - mid, 100, 60, 400);
  want.insert(want.end(), after.begin(), after.end());
  const int64_t first_frames = acoustok::feature_frames(mid);
  for (const auto& c : kStandardBreaks) {
    SCOPED_TRACE(c.name);
    GstHarness* h = make_harness(kStreaming);
    push_audio_with_break(h, x, mid, c);
    gst_harness_push_event(h, gst_event_new_eos());
    const Pulled p = pull_all(h, 32);
    EXPECT_EQ(p.data, want);
    const GstClockTime second_start = gst_util_uint64_scale(mid, GST_SECOND, 16000) + c.shift;
    int64_t frames = 0;
    bool after_break = false;
    for (size_t i = 0; i < p.pts.size(); ++i) {
      if (frames == first_frames && !after_break) {
        after_break = true;
        EXPECT_EQ(p.pts[i], second_start);
        EXPECT_EQ(p.offset[i], 0u);
        EXPECT_TRUE(p.discont[i]);
      }
      frames += p.rows[i];
    }
    EXPECT_TRUE(after_break);
    gst_harness_teardown(h);
  }
}

// 22.05 kHz stereo, two segments: each one's frames are those `acoustok
// features` gives for a file holding that segment's audio (one resampler per
// segment, drained at its end: at the segment event, at EOS), stamped from
// the segment's first PTS.
TEST(XlsrFeat, StereoAtAnotherRateGivesTheCommandLinesFramesPerSegment) {
  const std::string dir = acoustok::test::make_temp_dir("xlsrfeat-rate");
  const std::vector<float> mono = acoustok::resample(speech(), 16000, 22050);
  std::vector<float> st(2 * mono.size());
  for (size_t i = 0; i < mono.size(); ++i) {
    st[2 * i] = mono[i];
    st[2 * i + 1] = i >= 5 ? -0.5f * mono[i - 5] : 0.0f;
  }
  const size_t frames = mono.size(), mid = frames / 2 / 2205 * 2205;
  const std::pair<size_t, size_t> parts[] = {{0, mid}, {mid, frames}};
  const GstClockTime t0 = 2 * GST_SECOND, t1 = t0 + gst_util_uint64_scale_int(mid, GST_SECOND, 22050);
  std::vector<float> want;
  for (int k = 0; k < 2; ++k) {
    const std::string wav = dir + "/part" + std::to_string(k) + ".wav";
    // float32 samples: the samples exactly.
    acoustok::test::write_wav(wav, st.data() + 2 * parts[k].first, parts[k].second - parts[k].first, 22050,
                              2);
    std::string out;
    ASSERT_EQ(acoustok::test::run_command(acoustok::test::acoustok_bin() +
                                              " features -q --layer 2 --threads 2 --model " +
                                              fixture("xlsr/xlsr_st") + " " + wav + " -o " + wav + ".npy",
                                          &out),
              0)
        << out;
    const auto cli = acoustok::read_npy(wav + ".npy");
    want.insert(want.end(), cli.values.begin(), cli.values.end());
  }
  GstHarness* h = make_harness("layer=2");
  gst_harness_set_src_caps_str(h, "audio/x-raw, format=F32LE, rate=22050, channels=2, layout=interleaved");
  for (int k = 0; k < 2; ++k) {
    for (size_t pos = parts[k].first; pos < parts[k].second; pos += 2205) {
      const size_t n = std::min<size_t>(2205, parts[k].second - pos);
      GstBuffer* b = gst_buffer_new_allocate(nullptr, 2 * n * sizeof(float), nullptr);
      gst_buffer_fill(b, 0, st.data() + 2 * pos, 2 * n * sizeof(float));
      GST_BUFFER_PTS(b) = t0 + gst_util_uint64_scale_int(pos, GST_SECOND, 22050);
      ASSERT_EQ(gst_harness_push(h, b), GST_FLOW_OK);
    }
    ASSERT_TRUE(gst_harness_push_event(h, k == 0 ? segment_event(0, t0, t1) : gst_event_new_eos()));
  }
  const Pulled p = pull_all(h, 32);
  ASSERT_EQ(p.data.size(), want.size());
  EXPECT_EQ(p.data, want);
  ASSERT_EQ(p.pts.size(), 2u);
  EXPECT_EQ(p.pts[0], t0);
  EXPECT_EQ(p.pts[1], t1);
  EXPECT_EQ(p.offset[1], 0u);
  gst_harness_teardown(h);
}
