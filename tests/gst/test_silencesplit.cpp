// SPDX-License-Identifier: MIT
// The silencesplit element with GstHarness: same boundaries as the core and
// the command line, events, bus messages, timestamps, latency, EOS, flush.
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "acoustok/audio_io.hpp"
#include "acoustok/silence.hpp"
#include "gst_breaks.hpp"
#include "test_util.hpp"

namespace {

constexpr const char* kCaps = "audio/x-raw, format=F32LE, rate=16000, channels=1, layout=interleaved";

struct SegmentEvent {
  guint64 index, start, stop;
};

struct Output {
  std::vector<std::vector<float>> segments;  // samples pushed before each event
  std::vector<float> trailing;               // samples after the last event
  std::vector<SegmentEvent> events;
  std::vector<GstClockTime> buffer_pts;
  std::vector<guint64> buffer_offset;
};

std::vector<float> speech() { return acoustok::read_audio_16k_mono(acoustok::test::fixture("silence/speech_pauses.wav")); }

GstBuffer* make_buffer(const float* x, size_t n, GstClockTime pts) {
  GstBuffer* b = gst_buffer_new_allocate(nullptr, n * sizeof(float), nullptr);
  gst_buffer_fill(b, 0, x, n * sizeof(float));
  GST_BUFFER_PTS(b) = pts;
  GST_BUFFER_DURATION(b) = gst_util_uint64_scale_int(n, GST_SECOND, 16000);
  return b;
}

void push_audio(GstHarness* h, const std::vector<float>& x, size_t chunk, GstClockTime base = 0) {
  for (size_t pos = 0; pos < x.size(); pos += chunk) {
    const size_t n = std::min(chunk, x.size() - pos);
    ASSERT_EQ(gst_harness_push(h, make_buffer(x.data() + pos, n, base + gst_util_uint64_scale_int(pos, GST_SECOND, 16000))),
              GST_FLOW_OK);
  }
}

// Pulls everything the element produced, keeping buffers and events in order.
Output collect(GstHarness* h) {
  Output out;
  std::vector<float> current;
  // Events and buffers travel in separate harness queues; OFFSET (the sample
  // index) orders buffers against the events' sample positions.
  std::vector<std::pair<guint64, std::vector<float>>> buffers;
  while (GstBuffer* b = gst_harness_try_pull(h)) {
    GstMapInfo map;
    gst_buffer_map(b, &map, GST_MAP_READ);
    const auto* f = reinterpret_cast<const float*>(map.data);
    buffers.emplace_back(GST_BUFFER_OFFSET(b), std::vector<float>(f, f + map.size / sizeof(float)));
    out.buffer_pts.push_back(GST_BUFFER_PTS(b));
    out.buffer_offset.push_back(GST_BUFFER_OFFSET(b));
    gst_buffer_unmap(b, &map);
    gst_buffer_unref(b);
  }
  while (GstEvent* e = gst_harness_try_pull_event(h)) {
    const GstStructure* s = gst_event_get_structure(e);
    if (GST_EVENT_TYPE(e) == GST_EVENT_CUSTOM_DOWNSTREAM && s && gst_structure_has_name(s, "acoustok-segment")) {
      SegmentEvent ev{};
      gst_structure_get_uint64(s, "index", &ev.index);
      gst_structure_get_uint64(s, "start", &ev.start);
      gst_structure_get_uint64(s, "stop", &ev.stop);
      out.events.push_back(ev);
    }
    gst_event_unref(e);
  }
  size_t b = 0;
  for (const auto& ev : out.events) {
    const guint64 stop_sample = gst_util_uint64_scale(ev.stop, 16000, GST_SECOND);
    std::vector<float> seg;
    while (b < buffers.size() && buffers[b].first < stop_sample) {
      seg.insert(seg.end(), buffers[b].second.begin(), buffers[b].second.end());
      ++b;
    }
    out.segments.push_back(seg);
  }
  for (; b < buffers.size(); ++b) out.trailing.insert(out.trailing.end(), buffers[b].second.begin(), buffers[b].second.end());
  return out;
}

}  // namespace

TEST(SilenceSplitElement, SegmentsEventsAndSamplesEqualTheCore) {
  const auto x = speech();
  const auto expected = acoustok::split_on_silence(x, acoustok::SilenceOptions{});
  GstHarness* h = gst_harness_new("silencesplit");
  gst_harness_set_src_caps_str(h, kCaps);
  push_audio(h, x, 1600);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  const Output out = collect(h);
  ASSERT_EQ(out.events.size(), expected.size());
  for (size_t k = 0; k < expected.size(); ++k) {
    EXPECT_EQ(out.events[k].index, static_cast<guint64>(k));
    EXPECT_EQ(out.events[k].start, gst_util_uint64_scale_int(expected[k].start, GST_SECOND, 16000));
    EXPECT_EQ(out.events[k].stop, gst_util_uint64_scale_int(expected[k].end, GST_SECOND, 16000));
    const std::vector<float> want(x.begin() + expected[k].start, x.begin() + expected[k].end);
    EXPECT_EQ(out.segments[k], want) << "segment " << k;
  }
  EXPECT_TRUE(out.trailing.empty());
  // Source timeline: PTS = sample offset / 16 kHz.
  for (size_t i = 0; i < out.buffer_pts.size(); ++i) {
    EXPECT_EQ(out.buffer_pts[i], gst_util_uint64_scale_int(out.buffer_offset[i], GST_SECOND, 16000));
  }
  gst_harness_teardown(h);
}

TEST(SilenceSplitElement, SpeechIsPassedOnBeforeItsSegmentEnds) {
  // With the defaults, audio of a long segment flows while it is spoken.
  const auto x = speech();
  GstHarness* h = gst_harness_new("silencesplit");
  gst_harness_set_src_caps_str(h, kCaps);
  const auto expected = acoustok::split_on_silence(x, acoustok::SilenceOptions{});
  const auto& first = expected[0];
  const size_t mid = static_cast<size_t>(first.end - 9000);  // well before the pause is confirmed
  push_audio(h, std::vector<float>(x.begin(), x.begin() + static_cast<long>(mid)), 800);
  guint64 got = 0;
  while (GstBuffer* b = gst_harness_try_pull(h)) {
    got += gst_buffer_get_size(b) / sizeof(float);
    gst_buffer_unref(b);
  }
  EXPECT_GT(got, static_cast<guint64>(mid - first.start) / 2);
  gst_harness_teardown(h);
}

TEST(SilenceSplitElement, TimestampsFollowTheSourceAndDropSilenceOffKeepsEverything) {
  const auto x = speech();
  const GstClockTime base = 7 * GST_SECOND;
  GstHarness* h = gst_harness_new_parse("silencesplit drop-silence=false");
  gst_harness_set_src_caps_str(h, kCaps);
  push_audio(h, x, 3000, base);
  gst_harness_push_event(h, gst_event_new_eos());
  const Output out = collect(h);
  size_t total = out.trailing.size();
  for (const auto& s : out.segments) total += s.size();
  EXPECT_EQ(total, x.size());
  const auto expected = acoustok::split_on_silence(x, acoustok::SilenceOptions{});
  ASSERT_EQ(out.events.size(), expected.size());
  EXPECT_EQ(out.events[1].start, base + gst_util_uint64_scale_int(expected[1].start, GST_SECOND, 16000));
  ASSERT_FALSE(out.buffer_pts.empty());
  EXPECT_EQ(out.buffer_pts[0], base);
  gst_harness_teardown(h);
}

TEST(SilenceSplitElement, PostsOneBusMessagePerSegment) {
  const auto x = speech();
  GstHarness* h = gst_harness_new("silencesplit");
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(h->element, bus);
  gst_harness_set_src_caps_str(h, kCaps);
  push_audio(h, x, 4000);
  gst_harness_push_event(h, gst_event_new_eos());
  const auto expected = acoustok::split_on_silence(x, acoustok::SilenceOptions{});
  size_t n = 0;
  while (GstMessage* m = gst_bus_pop_filtered(bus, GST_MESSAGE_ELEMENT)) {
    const GstStructure* s = gst_message_get_structure(m);
    if (gst_structure_has_name(s, "silencesplit")) {
      guint64 index = 99, start = 0, stop = 0, running = GST_CLOCK_TIME_NONE;
      EXPECT_TRUE(gst_structure_get_uint64(s, "index", &index));
      EXPECT_TRUE(gst_structure_get_uint64(s, "start", &start));
      EXPECT_TRUE(gst_structure_get_uint64(s, "stop", &stop));
      EXPECT_TRUE(gst_structure_get_uint64(s, "running-time", &running));
      EXPECT_EQ(index, n);
      EXPECT_EQ(stop, gst_util_uint64_scale_int(expected[n].end, GST_SECOND, 16000));
      EXPECT_EQ(running, stop);  // default segment: running time = stream time
      ++n;
    }
    gst_message_unref(m);
  }
  EXPECT_EQ(n, expected.size());
  gst_element_set_bus(h->element, nullptr);
  gst_object_unref(bus);
  gst_harness_teardown(h);
}

TEST(SilenceSplitElement, AnswersLatencyWithWhatItHoldsBack) {
  GstHarness* h = gst_harness_new_parse("silencesplit min-silence-time=400000000 keep-silence-time=50000000");
  gst_harness_set_src_caps_str(h, kCaps);
  gst_harness_set_upstream_latency(h, 10 * GST_MSECOND);
  GstQuery* q = gst_query_new_latency();
  ASSERT_TRUE(gst_pad_peer_query(h->sinkpad, q));
  gboolean live;
  GstClockTime min, max;
  gst_query_parse_latency(q, &live, &min, &max);
  EXPECT_EQ(min, 10 * GST_MSECOND + 400 * GST_MSECOND + 50 * GST_MSECOND + GST_MSECOND);
  gst_query_unref(q);
  gst_harness_teardown(h);
}

TEST(SilenceSplitElement, FlushStopResets) {
  const auto x = speech();
  GstHarness* h = gst_harness_new("silencesplit");
  gst_harness_set_src_caps_str(h, kCaps);
  push_audio(h, std::vector<float>(x.begin(), x.begin() + 60000), 1600);
  gst_harness_push_event(h, gst_event_new_flush_start());
  gst_harness_push_event(h, gst_event_new_flush_stop(TRUE));
  collect(h);  // whatever came before the flush
  GstSegment seg;
  gst_segment_init(&seg, GST_FORMAT_TIME);
  gst_harness_push_event(h, gst_event_new_segment(&seg));
  push_audio(h, x, 1600);
  gst_harness_push_event(h, gst_event_new_eos());
  const Output out = collect(h);
  const auto expected = acoustok::split_on_silence(x, acoustok::SilenceOptions{});
  ASSERT_EQ(out.events.size(), expected.size());
  EXPECT_EQ(out.events[0].index, 0u);
  EXPECT_EQ(out.events[0].start, gst_util_uint64_scale_int(expected[0].start, GST_SECOND, 16000));
  gst_harness_teardown(h);
}

TEST(SilenceSplitElement, BoundariesOnAFileEqualTheCommandLine) {
  const std::string wav = acoustok::test::fixture("silence/speech_noisy.wav");
  const std::string dir = acoustok::test::make_temp_dir("gst-cli");
  std::string log;
  ASSERT_EQ(acoustok::test::run_command(acoustok::test::acoustok_bin() + " segment -q " + wav + " -o " + dir, &log), 0)
      << log;
  std::vector<std::pair<double, double>> cli;
  std::istringstream lines(acoustok::test::read_file(dir + "/segments.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line);
    cli.emplace_back(j["start"].get<double>(), j["end"].get<double>());
  }
  GError* err = nullptr;
  GstElement* pipeline = gst_parse_launch(
      ("filesrc location=" + wav + " ! wavparse ! audioconvert ! audioresample ! silencesplit ! fakesink").c_str(), &err);
  ASSERT_TRUE(pipeline) << (err ? err->message : "");
  GstBus* bus = gst_element_get_bus(pipeline);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  std::vector<std::pair<double, double>> gst;
  for (;;) {
    GstMessage* m = gst_bus_timed_pop_filtered(
        bus, 20 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_ELEMENT | GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    ASSERT_TRUE(m) << "pipeline timed out";
    const GstMessageType type = GST_MESSAGE_TYPE(m);
    if (type == GST_MESSAGE_ELEMENT && gst_structure_has_name(gst_message_get_structure(m), "silencesplit")) {
      guint64 start, stop;
      gst_structure_get_uint64(gst_message_get_structure(m), "start", &start);
      gst_structure_get_uint64(gst_message_get_structure(m), "stop", &stop);
      gst.emplace_back(static_cast<double>(start) / GST_SECOND, static_cast<double>(stop) / GST_SECOND);
    }
    gst_message_unref(m);
    if (type == GST_MESSAGE_EOS) break;
    ASSERT_NE(type, GST_MESSAGE_ERROR);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(pipeline);
  ASSERT_EQ(gst.size(), cli.size());
  for (size_t k = 0; k < cli.size(); ++k) {
    EXPECT_NEAR(gst[k].first, cli[k].first, 1e-6) << k;
    EXPECT_NEAR(gst[k].second, cli[k].second, 1e-6) << k;
  }
}

TEST(SilenceSplitElement, DocumentsItselfForGstInspect) {
  GstElementFactory* f = gst_element_factory_find("silencesplit");
  ASSERT_TRUE(f);
  EXPECT_STREQ(gst_element_factory_get_metadata(f, GST_ELEMENT_METADATA_KLASS), "Filter/Analyzer/Audio");
  GstElement* e = gst_element_factory_create(f, nullptr);
  guint n = 0;
  GParamSpec** props = g_object_class_list_properties(G_OBJECT_GET_CLASS(e), &n);
  int ours = 0;
  for (guint i = 0; i < n; ++i) {
    if (props[i]->owner_type == G_OBJECT_TYPE(e)) {
      ++ours;
      EXPECT_GT(strlen(g_param_spec_get_blurb(props[i])), 10u) << g_param_spec_get_name(props[i]);
    }
  }
  EXPECT_EQ(ours, 6);
  g_free(props);
  gst_object_unref(e);
  gst_object_unref(f);
}

// ---- breaks in the input: a PTS jump, a DISCONT buffer, a GAP event --------

namespace {

using acoustok::test::Break;
using acoustok::test::BreakCase;
using acoustok::test::push_audio_with_break;

// A break, with the element's drop-silence setting.
struct SplitBreakCase : BreakCase {
  bool drop_silence;
};

constexpr GstClockTime kSample = GST_SECOND / 16000;  // 62.5 us, exact in ns

struct Stamped {
  GstClockTime pts, duration;
  guint64 offset, offset_end;
  bool discont;
  std::vector<float> samples;
};

std::vector<Stamped> pull_stamped(GstHarness* h) {
  std::vector<Stamped> out;
  while (GstBuffer* b = gst_harness_try_pull(h)) {
    GstMapInfo map;
    gst_buffer_map(b, &map, GST_MAP_READ);
    const auto* f = reinterpret_cast<const float*>(map.data);
    out.push_back({GST_BUFFER_PTS(b), GST_BUFFER_DURATION(b), GST_BUFFER_OFFSET(b), GST_BUFFER_OFFSET_END(b),
                   GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DISCONT) != 0,
                   std::vector<float>(f, f + map.size / sizeof(float))});
    gst_buffer_unmap(b, &map);
    gst_buffer_unref(b);
  }
  return out;
}

}  // namespace

TEST(SilenceSplitElement, BreaksEndTheSegmentAndKeepTheTimeline) {
  const auto x = speech();
  const auto whole = acoustok::split_on_silence(x, acoustok::SilenceOptions{});
  ASSERT_GE(whole.size(), 2u);
  // In the middle of the second segment's speech.
  const size_t mid = static_cast<size_t>((whole[1].start + whole[1].end) / 2) / 1600 * 1600;
  ASSERT_GT(mid, static_cast<size_t>(whole[1].start));
  ASSERT_GT(mid, 16000u);  // the -1 s case stays after 0
  // Each side of the break is split as a recording of its own.
  auto expected = acoustok::split_on_silence(std::vector<float>(x.begin(), x.begin() + static_cast<long>(mid)), {});
  const size_t before = expected.size();
  for (auto seg : acoustok::split_on_silence(std::vector<float>(x.begin() + static_cast<long>(mid), x.end()), {})) {
    seg.start += static_cast<int64_t>(mid);
    seg.end += static_cast<int64_t>(mid);
    expected.push_back(seg);
  }
  const SplitBreakCase cases[] = {
      {{"PTS +10 s", Break::pts_jump, 10 * GST_SECOND}, true},
      {{"PTS +10 s, drop-silence=false", Break::pts_jump, 10 * GST_SECOND}, false},
      {{"PTS -1 s", Break::pts_jump, static_cast<GstClockTime>(-static_cast<gint64>(GST_SECOND))}, true},
      {{"DISCONT, contiguous PTS", Break::discont_flag, 0}, true},
      {{"GAP event of 10 s", Break::gap_event, 10 * GST_SECOND}, true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    // Time of sample i: a span's end (`stop`) belongs to the span before the break.
    const auto time_of = [&](guint64 i, bool is_stop) {
      const bool after = is_stop ? i > mid : i >= mid;
      return i * kSample + (after ? c.shift : 0);
    };
    GstHarness* h = gst_harness_new_parse(c.drop_silence ? "silencesplit" : "silencesplit drop-silence=false");
    gst_harness_set_src_caps_str(h, kCaps);
    push_audio_with_break(h, x, mid, c);
    ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));

    const auto buffers = pull_stamped(h);
    ASSERT_FALSE(buffers.empty());
    guint64 carried = 0;
    bool first_after = true;
    for (size_t i = 0; i < buffers.size(); ++i) {
      const Stamped& b = buffers[i];
      const guint64 n = b.samples.size();
      SCOPED_TRACE("buffer at sample " + std::to_string(b.offset));
      ASSERT_EQ(b.offset_end - b.offset, n);
      EXPECT_EQ(b.pts, time_of(b.offset, false));
      EXPECT_EQ(b.duration, n * kSample);  // the samples carried, never the gap
      EXPECT_FALSE(b.offset < mid && b.offset_end > mid) << "a buffer spans the break";
      EXPECT_EQ(b.samples, std::vector<float>(x.begin() + static_cast<long>(b.offset), x.begin() + static_cast<long>(b.offset_end)));
      if (b.offset >= mid && first_after) {
        EXPECT_TRUE(b.discont) << "the first buffer after the break carries DISCONT";
        first_after = false;
      } else if (i > 0) {  // the first buffer of the stream may carry it too
        EXPECT_FALSE(b.discont);
      }
      carried += n;
    }
    guint64 in_segments = 0;
    for (const auto& s : expected) in_segments += static_cast<guint64>(s.end - s.start);
    EXPECT_EQ(carried, c.drop_silence ? in_segments : x.size());

    std::vector<SegmentEvent> events;
    size_t gaps = 0, events_before_gap = 0;
    while (GstEvent* e = gst_harness_try_pull_event(h)) {
      const GstStructure* st = gst_event_get_structure(e);
      if (GST_EVENT_TYPE(e) == GST_EVENT_CUSTOM_DOWNSTREAM && st && gst_structure_has_name(st, "acoustok-segment")) {
        SegmentEvent ev{};
        gst_structure_get_uint64(st, "index", &ev.index);
        gst_structure_get_uint64(st, "start", &ev.start);
        gst_structure_get_uint64(st, "stop", &ev.stop);
        events.push_back(ev);
      }
      if (GST_EVENT_TYPE(e) == GST_EVENT_GAP && gaps++ == 0) events_before_gap = events.size();
      gst_event_unref(e);
    }
    ASSERT_EQ(events.size(), expected.size());
    for (size_t k = 0; k < expected.size(); ++k) {
      EXPECT_EQ(events[k].index, k);
      EXPECT_EQ(events[k].start, time_of(static_cast<guint64>(expected[k].start), false)) << k;
      EXPECT_EQ(events[k].stop, time_of(static_cast<guint64>(expected[k].end), true)) << k;
    }
    EXPECT_EQ(events[before - 1].stop, mid * kSample) << "the segment open at the break ends with its last sample";
    if (c.kind == Break::gap_event) {
      EXPECT_EQ(gaps, 1u);
      EXPECT_EQ(events_before_gap, before) << "the GAP follows the output of the audio before it";
    }
    gst_harness_teardown(h);
  }
}

// Timestamps that jitter by up to 15 ms around the sample count (a live
// source stamping from the clock: up to 30 ms between two buffers) are no break: the segments are those of the
// whole recording, and every buffer keeps the time its input gave its samples.
TEST(SilenceSplitElement, JitterBelowTheToleranceIsNoBreak) {
  const auto x = speech();
  const auto expected = acoustok::split_on_silence(x, acoustok::SilenceOptions{});
  const size_t chunk = 320;
  std::vector<GstClockTime> input_pts;
  GstHarness* h = gst_harness_new("silencesplit");
  gst_harness_set_src_caps_str(h, kCaps);
  for (size_t pos = 0, k = 0; pos < x.size(); pos += chunk, ++k) {
    const auto jitter = static_cast<GstClockTimeDiff>((k * 7919) % 31) - 15;  // -15 .. +15 ms
    input_pts.push_back(pos * kSample + 1000 * GST_MSECOND + jitter * GST_MSECOND);
    const size_t n = std::min(chunk, x.size() - pos);
    ASSERT_EQ(gst_harness_push(h, make_buffer(x.data() + pos, n, input_pts.back())), GST_FLOW_OK);
  }
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  const auto buffers = pull_stamped(h);
  ASSERT_FALSE(buffers.empty());
  for (size_t i = 0; i < buffers.size(); ++i) {
    const Stamped& b = buffers[i];
    EXPECT_EQ(b.pts, input_pts[b.offset / chunk] + (b.offset % chunk) * kSample) << i;
    EXPECT_EQ(b.duration, b.samples.size() * kSample) << i;
    if (i > 0) {
      EXPECT_FALSE(b.discont) << i;
    }
  }
  size_t events = 0;
  while (GstEvent* e = gst_harness_try_pull_event(h)) {
    const GstStructure* st = gst_event_get_structure(e);
    if (GST_EVENT_TYPE(e) == GST_EVENT_CUSTOM_DOWNSTREAM && st && gst_structure_has_name(st, "acoustok-segment")) {
      guint64 start = 0;
      gst_structure_get_uint64(st, "start", &start);
      ASSERT_LT(events, expected.size());
      const auto s = static_cast<guint64>(expected[events].start);
      EXPECT_EQ(start, input_pts[s / chunk] + (s % chunk) * kSample) << events;
      ++events;
    }
    gst_event_unref(e);
  }
  EXPECT_EQ(events, expected.size());
  gst_harness_teardown(h);
}
