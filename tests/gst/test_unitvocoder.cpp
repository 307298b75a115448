// SPDX-License-Identifier: MIT
// The unitvocoder element with GstHarness: streamed synthesis equals whole
// utterance synthesis, 320 samples per unit, timestamps, text input, segment
// events, LATENCY, a short lookahead, model errors.
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "acoustok/vocoder.hpp"
#include "vocoder/torch/checkpoint.hpp"
#include "vocoder/torch/hifigan.hpp"
#include "gst_breaks.hpp"
#include "gst_pull.hpp"
#include "test_util.hpp"

using namespace acoustok;

using test::max_diff;
using test::pull_all;
using test::Pulled;

namespace {

constexpr int kK = 24;

// A tiny generator with random weights: enough to test the streaming logic.
const std::string& checkpoint() {
  static std::string path;
  if (path.empty()) {
    torch::manual_seed(5);
    VocoderConfig c = VocoderConfig::preset("tiny");
    c.num_units = kK;
    vocoder::Generator g(c);
    path = test::make_temp_dir("unitvocoder") + "/tiny.pt";
    vocoder::write_checkpoint(path, c, {}, {&g});
  }
  return path;
}

std::vector<int32_t> some_units(size_t n, int seed) {
  std::vector<int32_t> u(n);
  for (size_t i = 0; i < n; ++i)
    u[i] = static_cast<int32_t>((i * 13 + static_cast<size_t>(seed) * 7 + i / 4) % kK);
  return u;
}

GstHarness* make_harness(const std::string& caps, int chunk, int lookahead = -1) {
  GstElement* e = gst_element_factory_make("unitvocoder", nullptr);
  g_object_set(e, "model", checkpoint().c_str(), "chunk-frames", chunk, "lookahead-frames", lookahead,
               nullptr);
  GstHarness* h = gst_harness_new_with_element(e, "sink", "src");
  gst_object_unref(e);
  gst_harness_set_src_caps_str(h, caps.c_str());
  return h;
}

GstBuffer* units_buffer(const int32_t* u, size_t n, GstClockTime pts) {
  GstBuffer* b = gst_buffer_new_allocate(nullptr, n * 2, nullptr);
  GstMapInfo map;
  gst_buffer_map(b, &map, GST_MAP_WRITE);
  for (size_t i = 0; i < n; ++i) {
    const auto v = static_cast<guint16>(u[i]);
    std::memcpy(map.data + 2 * i, &v, 2);
  }
  gst_buffer_unmap(b, &map);
  GST_BUFFER_PTS(b) = pts;
  GST_BUFFER_DURATION(b) = n * 20 * GST_MSECOND;
  return b;
}

const char* kUnitsCaps = "application/x-acoustok-units, vocab-size=(int)24, frame-rate=(fraction)50/1";

}  // namespace

TEST(UnitVocoder, StreamEqualsWholeUtteranceWithTimestamps) {
  auto voc = Vocoder::load(checkpoint(), "cpu");
  const auto units = some_units(173, 1);
  const auto whole = voc->synthesize(units.data(), units.size());

  GstHarness* h = make_harness(kUnitsCaps, 10);
  const GstClockTime base = 3 * GST_SECOND;

  size_t out_during = 0;
  for (size_t i = 0; i < units.size(); i += 11) {
    const size_t n = std::min<size_t>(11, units.size() - i);
    ASSERT_EQ(gst_harness_push(h, units_buffer(units.data() + i, n, base + i * 20 * GST_MSECOND)),
              GST_FLOW_OK);

    out_during += gst_harness_buffers_in_queue(h);
  }
  EXPECT_GT(out_during, 0u) << "nothing came out before EOS: not streaming";
  gst_harness_push_event(h, gst_event_new_eos());
  Pulled p = pull_all(h);
  // Exactly 320 samples per unit, equal to whole synthesis within 1e-5.
  ASSERT_EQ(p.audio.size(), units.size() * 320);
  EXPECT_LT(max_diff(p.audio, whole), 1e-5f);
  // Each buffer starts at its first unit's time and lasts 20 ms per unit.
  GstClockTime expect = base;
  for (size_t b = 0; b < p.pts.size(); ++b) {
    EXPECT_EQ(p.pts[b], expect) << b;
    EXPECT_EQ(p.duration[b], p.samples[b] / 320 * 20 * GST_MSECOND) << b;
    expect += p.duration[b];
  }
  gst_harness_teardown(h);
}

TEST(UnitVocoder, TextLinesAndSegmentEventsEndUtterances) {
  auto voc = Vocoder::load(checkpoint(), "cpu");
  const auto a = some_units(40, 2), b = some_units(25, 3);
  auto wa = voc->synthesize(a.data(), a.size());
  const auto wb = voc->synthesize(b.data(), b.size());
  wa.insert(wa.end(), wb.begin(), wb.end());

  // Text: two lines in one buffer split across two pushes.
  GstHarness* h = make_harness("text/x-raw, format=(string)utf8", 25);
  std::string text;
  for (auto u : a) text += std::to_string(u) + " ";
  text += "\n";
  for (auto u : b) text += std::to_string(u) + " ";
  text += "\n";
  const std::string first = text.substr(0, 30), rest = text.substr(30);
  gst_harness_push(h, gst_buffer_new_wrapped(g_strdup(first.c_str()), first.size()));
  gst_harness_push(h, gst_buffer_new_wrapped(g_strdup(rest.c_str()), rest.size()));
  Pulled p = pull_all(h);  // lines are complete: no EOS needed
  ASSERT_EQ(p.audio.size(), (a.size() + b.size()) * 320);
  EXPECT_LT(max_diff(p.audio, wa), 1e-5f);
  gst_harness_teardown(h);

  // Binary units with an acoustok-segment event between two utterances.
  h = make_harness(kUnitsCaps, 25);
  gst_harness_push(h, units_buffer(a.data(), a.size(), 0));
  GstStructure* s = gst_structure_new("acoustok-segment", "index", G_TYPE_UINT64, G_GUINT64_CONSTANT(0),
                                      "start", G_TYPE_UINT64, G_GUINT64_CONSTANT(0), "stop", G_TYPE_UINT64,
                                      800 * GST_MSECOND, nullptr);
  gst_harness_push_event(h, gst_event_new_custom(GST_EVENT_CUSTOM_DOWNSTREAM, s));
  Pulled q = pull_all(h);
  EXPECT_EQ(q.audio.size(), a.size() * 320);  // flushed by the event
  gst_harness_push(h, units_buffer(b.data(), b.size(), 2 * GST_SECOND));
  gst_harness_push_event(h, gst_event_new_eos());
  Pulled r = pull_all(h);
  ASSERT_EQ(r.audio.size(), b.size() * 320);
  EXPECT_EQ(r.pts.front(), 2 * GST_SECOND);
  q.audio.insert(q.audio.end(), r.audio.begin(), r.audio.end());
  EXPECT_LT(max_diff(q.audio, wa), 1e-5f);
  gst_harness_teardown(h);
}

TEST(UnitVocoder, AnswersLatency) {
  GstHarness* h = make_harness(kUnitsCaps, 10);
  const GstClockTime min = acoustok::test::harness_min_latency(h);
  ASSERT_TRUE(GST_CLOCK_TIME_IS_VALID(min));
  VocoderConfig c = VocoderConfig::preset("tiny");
  EXPECT_EQ(min, static_cast<GstClockTime>(10 + c.receptive_field_frames() - 1) * 20 * GST_MSECOND);
  gst_harness_teardown(h);
}

// The LATENCY a pipeline reports for unitvocoder is what its settings imply:
// chunk-frames + lookahead-frames - 1 frames (lookahead -1: the receptive
// field), on top of what upstream reports.
TEST(UnitVocoder, LatencyQueryFollowsChunkAndLookahead) {
  const int field = VocoderConfig::preset("tiny").receptive_field_frames();
  const struct {
    int chunk, lookahead;
    int frames;
  } cases[] = {{25, -1, 25 + field - 1},   {25, 2, 26}, {1, 0, 0}, {1, 2, 2}, {5, 5, 9},
               {10, field, 10 + field - 1}};
  for (const auto& c : cases) {
    const std::string launch = "unitvocoder model=" + checkpoint() +
                               " chunk-frames=" + std::to_string(c.chunk) +
                               " lookahead-frames=" + std::to_string(c.lookahead);
    SCOPED_TRACE(launch);
    GstHarness* h = gst_harness_new_parse(launch.c_str());
    gst_harness_set_src_caps_str(h, kUnitsCaps);
    gst_harness_set_upstream_latency(h, 10 * GST_MSECOND);
    const GstClockTime min = acoustok::test::harness_min_latency(h);
    ASSERT_TRUE(GST_CLOCK_TIME_IS_VALID(min));
    EXPECT_EQ(min, 10 * GST_MSECOND + static_cast<GstClockTime>(c.frames) * 20 * GST_MSECOND);
    gst_harness_teardown(h);
  }
}

// With a short lookahead a unit's audio leaves as soon as its chunk and the
// lookahead have arrived (never later than the LATENCY above says), the
// length stays 320 samples per unit, and the audio is the core's streaming
// synthesis with the same settings: close to whole synthesis, not equal.
TEST(UnitVocoder, ShortLookaheadStreamsSooner) {
  auto voc = Vocoder::load(checkpoint(), "cpu");
  const auto units = some_units(90, 6);
  const auto whole = voc->synthesize(units.data(), units.size());
  for (int chunk : {1, 25}) {
    for (int lookahead : {0, 2}) {
      SCOPED_TRACE("chunk " + std::to_string(chunk) + ", lookahead " + std::to_string(lookahead));
      GstHarness* h = make_harness(kUnitsCaps, chunk, lookahead);
      Pulled p;
      for (size_t i = 0; i < units.size(); ++i) {
        ASSERT_EQ(gst_harness_push(h, units_buffer(&units[i], 1, i * 20 * GST_MSECOND)), GST_FLOW_OK);
        const Pulled now = pull_all(h);
        p.audio.insert(p.audio.end(), now.audio.begin(), now.audio.end());
        const auto ready = static_cast<int64_t>(i + 1) - lookahead;  // units with their lookahead here
        EXPECT_EQ(static_cast<int64_t>(p.audio.size() / 320), ready < 0 ? 0 : ready / chunk * chunk) << i;
      }
      gst_harness_push_event(h, gst_event_new_eos());
      const Pulled tail = pull_all(h);
      p.audio.insert(p.audio.end(), tail.audio.begin(), tail.audio.end());
      ASSERT_EQ(p.audio.size(), whole.size());
      StreamingVocoder core(*voc, chunk, -1, lookahead);
      auto want = core.push(units.data(), units.size());
      const auto rest = core.finish();
      want.insert(want.end(), rest.begin(), rest.end());
      EXPECT_LT(max_diff(p.audio, want), 1e-6f);
      EXPECT_GT(max_diff(p.audio, whole), 0.0f);
      gst_harness_teardown(h);
    }
  }
}

TEST(UnitVocoder, LookaheadBeyondTheReceptiveFieldIsRefusedAtNullToReady) {
  const int field = VocoderConfig::preset("tiny").receptive_field_frames();
  GstElement* e = gst_element_factory_make("unitvocoder", nullptr);
  g_object_set(e, "model", checkpoint().c_str(), "lookahead-frames", field + 1, nullptr);
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(e, bus);
  EXPECT_EQ(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
  GstMessage* m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
  ASSERT_TRUE(m);
  GError* err = nullptr;
  gchar* debug = nullptr;
  gst_message_parse_error(m, &err, &debug);
  const std::string message = std::string(err->message) + " " + (debug ? debug : "");
  EXPECT_NE(message.find("'lookahead-frames'"), std::string::npos) << message;
  EXPECT_NE(message.find("receptive field, " + std::to_string(field) + " frames"), std::string::npos)
      << message;
  g_error_free(err);
  g_free(debug);
  gst_message_unref(m);
  gst_element_set_state(e, GST_STATE_NULL);
  // The receptive field itself is fine.
  g_object_set(e, "lookahead-frames", field, nullptr);
  EXPECT_EQ(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
  gst_element_set_state(e, GST_STATE_NULL);
  gst_element_set_bus(e, nullptr);
  gst_object_unref(bus);
  gst_object_unref(e);
}

TEST(UnitVocoder, BadModelAndBadUnitsAreElementErrors) {
  GstElement* e = gst_element_factory_make("unitvocoder", nullptr);
  ASSERT_NE(e, nullptr);
  g_object_set(e, "model", "/nonexistent/vocoder.pt", nullptr);
  EXPECT_EQ(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
  gst_element_set_state(e, GST_STATE_NULL);
  gst_object_unref(e);

  GstHarness* h = make_harness(kUnitsCaps, 10);
  const std::vector<int32_t> bad{1, 2, kK};
  EXPECT_EQ(gst_harness_push(h, units_buffer(bad.data(), bad.size(), 0)), GST_FLOW_ERROR);
  gst_harness_teardown(h);
}

// A break in the units (a PTS jump, a DISCONT buffer, a GAP event) ends the
// utterance: the units on each side are spoken as utterances of their own and
// every buffer keeps the time of its units.
TEST(UnitVocoder, BreakEndsTheUtteranceAndKeepsTheTimeline) {
  using acoustok::test::Break;
  const auto& cases = acoustok::test::kStandardBreaks;
  auto voc = Vocoder::load(checkpoint(), "cpu");
  const auto a = some_units(40, 4), b = some_units(33, 5);
  auto want = voc->synthesize(a.data(), a.size());
  const auto wb = voc->synthesize(b.data(), b.size());
  want.insert(want.end(), wb.begin(), wb.end());
  const guint64 mid = a.size() * 320;  // first output sample after the break
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    GstHarness* h = make_harness(kUnitsCaps, 10);
    for (size_t i = 0; i < a.size(); i += 10) {
      ASSERT_EQ(gst_harness_push(h, units_buffer(a.data() + i, 10, i * 20 * GST_MSECOND)), GST_FLOW_OK);
    }
    const GstClockTime after = a.size() * 20 * GST_MSECOND + c.shift;
    if (c.kind == Break::gap_event) {
      ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_gap(after - c.shift, c.shift)));
    }
    for (size_t i = 0; i < b.size(); i += 11) {
      GstBuffer* buf = units_buffer(b.data() + i, 11, after + i * 20 * GST_MSECOND);
      if (i == 0 && c.kind == Break::discont_flag) GST_BUFFER_FLAG_SET(buf, GST_BUFFER_FLAG_DISCONT);
      ASSERT_EQ(gst_harness_push(h, buf), GST_FLOW_OK);
    }
    gst_harness_push_event(h, gst_event_new_eos());
    const Pulled p = pull_all(h);
    ASSERT_EQ(p.audio.size(), want.size());
    EXPECT_LT(max_diff(p.audio, want), 1e-5f);
    guint64 at = 0;
    bool first_after = true;
    for (size_t k = 0; k < p.pts.size(); ++k) {
      SCOPED_TRACE("buffer " + std::to_string(k));
      EXPECT_EQ(p.offset[k], at);
      EXPECT_EQ(p.offset_end[k], at + p.samples[k]);
      EXPECT_EQ(p.duration[k], p.samples[k] / 320 * 20 * GST_MSECOND);
      EXPECT_FALSE(at < mid && at + p.samples[k] > mid) << "a buffer spans the break";
      const GstClockTime t =
          at < mid ? at / 320 * 20 * GST_MSECOND : after + (at - mid) / 320 * 20 * GST_MSECOND;
      EXPECT_EQ(p.pts[k], t);
      if (at >= mid && first_after) {
        EXPECT_TRUE(p.discont[k]);
        first_after = false;
      } else if (k > 0) {
        EXPECT_FALSE(p.discont[k]);
      }
      at += p.samples[k];
    }
    gst_harness_teardown(h);
  }
}

// Issue 26: a unit id outside the vocabulary in text input names its line.
TEST(UnitVocoder, UnitOutOfRangeInTextNamesItsLine) {
  GstHarness* h = make_harness("text/x-raw, format=(string)utf8", 25);
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(h->element, bus);
  const std::string text = "1 2 3\n4 5 " + std::to_string(kK) + " 6\n";
  EXPECT_EQ(gst_harness_push(h, gst_buffer_new_wrapped(g_strdup(text.c_str()), text.size())), GST_FLOW_ERROR);
  GstMessage* m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
  ASSERT_NE(m, nullptr);
  GError* err = nullptr;
  gchar* debug = nullptr;
  gst_message_parse_error(m, &err, &debug);
  const std::string message = std::string(err->message) + " " + (debug ? debug : "");
  EXPECT_NE(message.find("line 2"), std::string::npos) << message;
  EXPECT_NE(message.find("unit " + std::to_string(kK)), std::string::npos) << message;
  g_error_free(err);
  g_free(debug);
  gst_message_unref(m);
  gst_element_set_bus(h->element, nullptr);
  gst_object_unref(bus);
  gst_harness_teardown(h);
}
