// SPDX-License-Identifier: MIT
// The silencesplit element with GstHarness: same boundaries as the core and
// the command line, events, bus messages, timestamps, latency, EOS, flush.
// Over 600 lines: one element's cases, sharing its fixtures and harness helpers.
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <cmath>
#include <cstring>
#include <iostream>
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

// The fields of an `acoustok-segment` event; nothing for any other event.
std::optional<SegmentEvent> segment_event_of(GstEvent* e) {
  const GstStructure* st = gst_event_get_structure(e);
  if (GST_EVENT_TYPE(e) != GST_EVENT_CUSTOM_DOWNSTREAM || !st ||
      !gst_structure_has_name(st, "acoustok-segment")) {
    return std::nullopt;
  }
  SegmentEvent ev{};
  gst_structure_get_uint64(st, "index", &ev.index);
  gst_structure_get_uint64(st, "start", &ev.start);
  gst_structure_get_uint64(st, "stop", &ev.stop);
  return ev;
}

// One event per expected segment, in order, stamped at its first sample and
// at the end of its last (time_of(sample, is_stop) maps samples to times).
template <typename Segments, typename TimeOf>
void expect_events_at(const std::vector<SegmentEvent>& events, const Segments& expected,
                      const TimeOf& time_of) {
  ASSERT_EQ(events.size(), expected.size());
  for (size_t k = 0; k < expected.size(); ++k) {
    EXPECT_EQ(events[k].index, k);
    EXPECT_EQ(events[k].start, time_of(static_cast<guint64>(expected[k].start), false)) << k;
    EXPECT_EQ(events[k].stop, time_of(static_cast<guint64>(expected[k].end), true)) << k;
  }
}

struct Output {
  std::vector<std::vector<float>> segments;  // samples pushed before each event
  std::vector<float> trailing;               // samples after the last event
  std::vector<SegmentEvent> events;
  std::vector<GstClockTime> buffer_pts;
  std::vector<guint64> buffer_offset;
};

std::vector<float> speech() {
  return acoustok::read_audio_16k_mono(acoustok::test::fixture("silence/speech_pauses.wav"));
}

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
    ASSERT_EQ(gst_harness_push(h, make_buffer(x.data() + pos, n,
                                              base + gst_util_uint64_scale_int(pos, GST_SECOND, 16000))),
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
    if (const auto ev = segment_event_of(e)) {
      out.events.push_back(*ev);
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
  for (; b < buffers.size(); ++b)
    out.trailing.insert(out.trailing.end(), buffers[b].second.begin(), buffers[b].second.end());
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
  const GstClockTime min = acoustok::test::harness_min_latency(h);
  ASSERT_TRUE(GST_CLOCK_TIME_IS_VALID(min));
  EXPECT_EQ(min, 10 * GST_MSECOND + 400 * GST_MSECOND + 50 * GST_MSECOND + GST_MSECOND);
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
  ASSERT_EQ(
      acoustok::test::run_command(acoustok::test::acoustok_bin() + " segment -q " + wav + " -o " + dir, &log),
      0)
      << log;
  std::vector<std::pair<double, double>> cli;
  std::istringstream lines(acoustok::test::read_file(dir + "/segments.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line);
    cli.emplace_back(j["start"].get<double>(), j["end"].get<double>());
  }
  GError* err = nullptr;
  GstElement* pipeline = gst_parse_launch(
      ("filesrc location=" + wav + " ! wavparse ! audioconvert ! audioresample ! silencesplit ! fakesink")
          .c_str(),
      &err);
  ASSERT_TRUE(pipeline) << (err ? err->message : "");
  GstBus* bus = gst_element_get_bus(pipeline);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  std::vector<std::pair<double, double>> gst;
  for (;;) {
    GstMessage* m = gst_bus_timed_pop_filtered(
        bus, 20 * GST_SECOND,
        static_cast<GstMessageType>(GST_MESSAGE_ELEMENT | GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
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
  EXPECT_EQ(ours, 7);
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
  auto expected =
      acoustok::split_on_silence(std::vector<float>(x.begin(), x.begin() + static_cast<long>(mid)), {});
  const size_t before = expected.size();
  for (auto seg :
       acoustok::split_on_silence(std::vector<float>(x.begin() + static_cast<long>(mid), x.end()), {})) {
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
    GstHarness* h =
        gst_harness_new_parse(c.drop_silence ? "silencesplit" : "silencesplit drop-silence=false");
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
      EXPECT_EQ(b.samples, std::vector<float>(x.begin() + static_cast<long>(b.offset),
                                              x.begin() + static_cast<long>(b.offset_end)));
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
      if (const auto ev = segment_event_of(e)) events.push_back(*ev);
      if (GST_EVENT_TYPE(e) == GST_EVENT_GAP && gaps++ == 0) events_before_gap = events.size();
      gst_event_unref(e);
    }
    expect_events_at(events, expected, time_of);
    ASSERT_EQ(events.size(), expected.size());
    EXPECT_EQ(events[before - 1].stop, mid * kSample)
        << "the segment open at the break ends with its last sample";
    if (c.kind == Break::gap_event) {
      EXPECT_EQ(gaps, 1u);
      EXPECT_EQ(events_before_gap, before) << "the GAP follows the output of the audio before it";
    }
    gst_harness_teardown(h);
  }
}

// Timestamps that jitter by up to 15 ms around the sample count (a live
// source stamping from the clock: up to 30 ms between two buffers) are no break: the segments are those of
// the whole recording, and every buffer keeps the time its input gave its samples.
TEST(SilenceSplitElement, JitterBelowTheToleranceIsNoBreak) {
  const auto x = speech();
  const auto expected = acoustok::split_on_silence(x, acoustok::SilenceOptions{});
  const size_t chunk = 320;
  // Low latency takes the times of segment bounds already passed on from
  // its own record of the input buffers: the same times.
  for (const char* launch : {"silencesplit", "silencesplit low-latency=true"}) {
    SCOPED_TRACE(launch);
    std::vector<GstClockTime> input_pts;
    GstHarness* h = gst_harness_new_parse(launch);
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
      if (GST_EVENT_TYPE(e) == GST_EVENT_CUSTOM_DOWNSTREAM && st &&
          gst_structure_has_name(st, "acoustok-segment")) {
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
}

// ---- low-latency (issue 30): speech leaves before its pause is decided ------

namespace {

// What left the element, in the order it left (a probe on its source pad):
// per buffer its samples, OFFSET and PTS, and the samples pushed into the
// element when it left; per segment event its fields and how many samples
// had left before it.
struct Departures {
  struct Out {
    guint64 offset;
    GstClockTime pts;
    std::vector<float> samples;
    guint64 pushed_in;
  };
  std::vector<Out> buffers;
  std::vector<SegmentEvent> events;
  std::vector<guint64> samples_before_event;  // highest OFFSET_END out when each event left
  guint64 pushed_in = 0;
  guint64 out_end = 0;
};

GstPadProbeReturn record_departure(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* d = static_cast<Departures*>(data);
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer* b = GST_PAD_PROBE_INFO_BUFFER(info);
    GstMapInfo map;
    gst_buffer_map(b, &map, GST_MAP_READ);
    const auto* f = reinterpret_cast<const float*>(map.data);
    d->buffers.push_back({GST_BUFFER_OFFSET(b), GST_BUFFER_PTS(b),
                          std::vector<float>(f, f + map.size / sizeof(float)), d->pushed_in});
    d->out_end = GST_BUFFER_OFFSET_END(b);
    gst_buffer_unmap(b, &map);
  } else if (GstEvent* e = GST_PAD_PROBE_INFO_EVENT(info)) {
    if (const auto ev = segment_event_of(e)) {
      d->events.push_back(*ev);
      d->samples_before_event.push_back(d->out_end);
    }
  }
  return GST_PAD_PROBE_OK;
}

// Pushes x in buffers of `chunk` samples stamped from `base` through `launch`,
// then EOS, recording the departures.
Departures run_element(const std::string& launch, const std::vector<float>& x, size_t chunk,
                       GstClockTime base = 0) {
  Departures d;
  GstHarness* h = gst_harness_new_parse(launch.c_str());
  gst_harness_set_src_caps_str(h, kCaps);
  GstPad* src = gst_element_get_static_pad(h->element, "src");
  gst_pad_add_probe(
      src, static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      record_departure, &d, nullptr);
  for (size_t pos = 0; pos < x.size(); pos += chunk) {
    const size_t n = std::min(chunk, x.size() - pos);
    d.pushed_in = pos + n;
    EXPECT_EQ(gst_harness_push(h, make_buffer(x.data() + pos, n, base + pos * GST_SECOND / 16000)),
              GST_FLOW_OK);
    while (GstBuffer* b = gst_harness_try_pull(h)) gst_buffer_unref(b);  // the probe has them
  }
  EXPECT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  gst_object_unref(src);
  gst_harness_teardown(h);
  return d;
}

guint64 to_ns(int64_t sample) {
  return gst_util_uint64_scale_int(static_cast<guint64>(sample), GST_SECOND, 16000);
}

}  // namespace

TEST(SilenceSplitElement, LowLatencyPassesEverySegmentSampleInOrderWithTheSourceTimes) {
  for (const char* name : {"speech_pauses.wav", "speech_noisy.wav", "bursts_a.wav"}) {
    SCOPED_TRACE(name);
    const auto x = acoustok::read_audio_16k_mono(acoustok::test::fixture(std::string("silence/") + name));
    const auto offline = acoustok::split_on_silence(x, acoustok::SilenceOptions{});
    const GstClockTime base = 3 * GST_SECOND;
    const Departures d = run_element("silencesplit low-latency=true", x, 800, base);
    std::vector<bool> out(x.size(), false);
    guint64 next = 0;
    for (const auto& b : d.buffers) {
      ASSERT_GE(b.offset, next) << "out of order";
      EXPECT_EQ(b.pts, base + to_ns(static_cast<int64_t>(b.offset)));
      ASSERT_LE(b.offset + b.samples.size(), x.size());
      EXPECT_EQ(b.samples, std::vector<float>(x.begin() + static_cast<long>(b.offset),
                                              x.begin() + static_cast<long>(b.offset + b.samples.size())));
      for (size_t i = 0; i < b.samples.size(); ++i) out[b.offset + i] = true;
      next = b.offset + b.samples.size();
    }
    for (const auto& seg : offline) {
      for (int64_t i = seg.start; i < seg.end; ++i)
        ASSERT_TRUE(out[static_cast<size_t>(i)]) << "sample " << i;
    }
  }
}

TEST(SilenceSplitElement, LowLatencySpeechLeavesWithinTheReportedLatency) {
  // 16-sample buffers; for each sample of a segment, how many samples entered
  // after it before it left. Default: up to about min-silence-time.
  const auto x = speech();
  const auto offline = acoustok::split_on_silence(x, acoustok::SilenceOptions{});
  const size_t chunk = 16;
  const auto worst_delay = [&](const Departures& d) {
    std::vector<guint64> left(x.size(), 0);
    for (const auto& b : d.buffers) {
      for (size_t i = 0; i < b.samples.size(); ++i) left[b.offset + i] = b.pushed_in;
    }
    guint64 worst = 0;
    for (const auto& seg : offline) {
      for (int64_t i = seg.start; i < seg.end; ++i) {
        const guint64 at = left[static_cast<size_t>(i)];
        EXPECT_GT(at, static_cast<guint64>(i)) << "sample " << i << " never left";
        if (at > static_cast<guint64>(i)) worst = std::max(worst, at - static_cast<guint64>(i) - 1);
      }
    }
    return worst;
  };
  const guint64 latency = (100 + 1) * 16;  // keep-silence-time + 1 ms
  const guint64 low = worst_delay(run_element("silencesplit low-latency=true", x, chunk));
  EXPECT_LT(low, latency);          // 16-sample buffers fall on the core's 1 ms blocks
  EXPECT_GE(low, latency - chunk);  // nearly reached: the padding before a segment waits that long
  const guint64 exact = worst_delay(run_element("silencesplit", x, chunk));
  EXPECT_GT(exact, static_cast<guint64>(0.5 * 16000)) << "the default waits for the pause decision";
  std::cout << "[ measured ] speech_pauses.wav, 16-sample buffers: worst delay of a segment sample "
            << static_cast<double>(low) / 16 << " ms with low-latency, " << static_cast<double>(exact) / 16
            << " ms by default\n";
  // Without drop-silence the same (the events fall at the same samples).
  const guint64 kept = worst_delay(run_element("silencesplit low-latency=true drop-silence=false", x, chunk));
  EXPECT_EQ(kept, low);
}

TEST(SilenceSplitElement, LowLatencySendsTheSameEventsAfterTheirAudio) {
  struct Case {
    const char* file;
    const char* props;
    acoustok::SilenceOptions opts;
    bool
        strictly_before_next;  // paddings that cannot overlap: no audio of the next segment precedes an event
  };
  acoustok::SilenceOptions overlap;
  overlap.keep_silence = 0.3;
  const Case cases[] = {
      {"speech_pauses.wav", "", {}, true},
      {"speech_noisy.wav", "", {}, true},
      {"bursts_a.wav", "", {}, true},
      {"bursts_c.wav", "", {}, true},
      {"speech_pauses.wav", " keep-silence-time=300000000", overlap, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.file) + c.props);
    const auto x = acoustok::read_audio_16k_mono(acoustok::test::fixture(std::string("silence/") + c.file));
    const auto offline = acoustok::split_on_silence(x, c.opts);
    for (const size_t chunk : {size_t{160}, size_t{1600}}) {
      const Departures exact = run_element(std::string("silencesplit") + c.props, x, chunk);
      const Departures low = run_element(std::string("silencesplit low-latency=true") + c.props, x, chunk);
      ASSERT_EQ(exact.events.size(), offline.size());
      ASSERT_EQ(low.events.size(), offline.size());
      for (size_t k = 0; k < offline.size(); ++k) {
        EXPECT_EQ(low.events[k].index, k);
        EXPECT_EQ(low.events[k].start, exact.events[k].start) << k;
        EXPECT_EQ(low.events[k].stop, exact.events[k].stop) << k;
        EXPECT_EQ(low.events[k].start, to_ns(offline[k].start)) << k;
        EXPECT_EQ(low.events[k].stop, to_ns(offline[k].end)) << k;
        // All of the segment's audio left before its event; what left after
        // `stop` is the beginning of the pause.
        EXPECT_GE(low.samples_before_event[k], static_cast<guint64>(offline[k].end)) << k;
        if (k + 1 < offline.size() && c.strictly_before_next) {
          // min-silence-time - 2 x keep-silence-time - 1 ms of the pause: 0.299 s.
          EXPECT_EQ(low.samples_before_event[k], static_cast<guint64>(offline[k].end) + 4784) << k;
          EXPECT_EQ(exact.samples_before_event[k], static_cast<guint64>(offline[k].end)) << k;
        }
        if (c.strictly_before_next && k + 1 < offline.size()) {
          EXPECT_LE(low.samples_before_event[k], static_cast<guint64>(offline[k + 1].start)) << k;
        }
      }
    }
  }
}

TEST(SilenceSplitElement, LowLatencyOutputDoesNotDependOnTheInputBuffers) {
  // The samples passed on and where each event falls among them are decided
  // at whole milliseconds of input, so units downstream are reproducible.
  const auto x = acoustok::read_audio_16k_mono(acoustok::test::fixture("silence/bursts_a.wav"));
  const auto layout = [](const Departures& d) {
    std::vector<std::pair<guint64, guint64>> spans;  // [offset, end) merged
    for (const auto& b : d.buffers) {
      if (!spans.empty() && spans.back().second == b.offset) {
        spans.back().second += b.samples.size();
      } else {
        spans.emplace_back(b.offset, b.offset + b.samples.size());
      }
    }
    return std::make_pair(spans, d.samples_before_event);
  };
  const auto reference = layout(run_element("silencesplit low-latency=true", x, 1600));
  ASSERT_FALSE(reference.second.empty());
  for (const size_t chunk : {size_t{7}, size_t{160}, size_t{4001}}) {
    EXPECT_EQ(layout(run_element("silencesplit low-latency=true", x, chunk)), reference) << chunk;
  }
}

TEST(SilenceSplitElement, LowLatencyCutsAtMaxSegmentTimeRightAfterItsAudio) {
  // Speech-like tone without pauses: cut every 2 s exactly, each event right
  // after the cut sample.
  std::vector<float> y(16000 * 7);
  for (size_t i = 0; i < y.size(); ++i)
    y[i] = 0.3f * static_cast<float>(std::sin(0.05 * static_cast<double>(i)));
  const Departures d = run_element("silencesplit low-latency=true max-segment-time=2000000000", y, 160);
  ASSERT_EQ(d.events.size(), 4u);
  for (size_t k = 0; k < d.events.size(); ++k) {
    EXPECT_EQ(d.events[k].start, k * 2 * GST_SECOND);
    EXPECT_EQ(d.events[k].stop, std::min<guint64>((k + 1) * 2, 7) * GST_SECOND);
    EXPECT_EQ(d.samples_before_event[k], std::min<guint64>((k + 1) * 32000, y.size())) << k;
  }
}

TEST(SilenceSplitElement, LowLatencyBreaksStillEndSegments) {
  const auto x = speech();
  const auto whole = acoustok::split_on_silence(x, acoustok::SilenceOptions{});
  const size_t mid = static_cast<size_t>((whole[1].start + whole[1].end) / 2) / 1600 * 1600;
  auto expected =
      acoustok::split_on_silence(std::vector<float>(x.begin(), x.begin() + static_cast<long>(mid)), {});
  const size_t before = expected.size();
  for (auto seg :
       acoustok::split_on_silence(std::vector<float>(x.begin() + static_cast<long>(mid), x.end()), {})) {
    seg.start += static_cast<int64_t>(mid);
    seg.end += static_cast<int64_t>(mid);
    expected.push_back(seg);
  }
  for (const auto& c : acoustok::test::kStandardBreaks) {
    SCOPED_TRACE(c.name);
    const auto time_of = [&](guint64 i, bool is_stop) {
      return i * kSample + ((is_stop ? i > mid : i >= mid) ? c.shift : 0);
    };
    GstHarness* h = gst_harness_new_parse("silencesplit low-latency=true");
    gst_harness_set_src_caps_str(h, kCaps);
    acoustok::test::push_audio_with_break(h, x, mid, c);
    ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
    const auto buffers = pull_stamped(h);
    std::vector<bool> out(x.size(), false);
    bool first_after = true;
    for (const auto& b : buffers) {
      EXPECT_EQ(b.pts, time_of(b.offset, false));
      EXPECT_FALSE(b.offset < mid && b.offset_end > mid) << "a buffer spans the break";
      if (b.offset >= mid && first_after) {
        EXPECT_TRUE(b.discont);
        first_after = false;
      }
      for (guint64 i = b.offset; i < b.offset_end; ++i) out[i] = true;
    }
    for (const auto& seg : expected) {
      for (int64_t i = seg.start; i < seg.end; ++i) ASSERT_TRUE(out[static_cast<size_t>(i)]) << i;
    }
    std::vector<SegmentEvent> events;
    while (GstEvent* e = gst_harness_try_pull_event(h)) {
      if (const auto ev = segment_event_of(e)) events.push_back(*ev);
      gst_event_unref(e);
    }
    expect_events_at(events, expected, time_of);
    ASSERT_EQ(events.size(), expected.size());
    EXPECT_EQ(events[before - 1].stop, mid * kSample)
        << "the segment open at the break ends with its last sample";
    gst_harness_teardown(h);
  }
}

TEST(SilenceSplitElement, LowLatencyAnswersLatencyWithTheKeptPaddingOnly) {
  const struct {
    const char* launch;
    GstClockTime ours;
  } cases[] = {
      {"silencesplit low-latency=true", 101 * GST_MSECOND},
      {"silencesplit low-latency=true keep-silence-time=50000000 min-silence-time=400000000",
       51 * GST_MSECOND},
      {"silencesplit low-latency=true drop-silence=false", 101 * GST_MSECOND},
      {"silencesplit", 601 * GST_MSECOND},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.launch);
    GstHarness* h = gst_harness_new_parse(c.launch);
    gst_harness_set_src_caps_str(h, kCaps);
    gst_harness_set_upstream_latency(h, 10 * GST_MSECOND);
    const GstClockTime min = acoustok::test::harness_min_latency(h);
    ASSERT_TRUE(GST_CLOCK_TIME_IS_VALID(min));
    EXPECT_EQ(min, 10 * GST_MSECOND + c.ours);
    gst_harness_teardown(h);
  }
}

TEST(SilenceSplitElement, RefusesSettingsThatCannotWorkAtNullToReady) {
  const struct {
    const char* props;
    const char* rule;
  } cases[] = {
      {"low-latency=true min-segment-time=1000000000", "min-segment must be 0 in low-latency mode"},
      {"low-latency=true max-segment-time=500000000",
       "max-segment must be longer than min-silence in low-latency mode"},
      {"max-segment-time=100000000", "max-segment must be at least twice keep-silence plus 40 ms"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.props);
    GstElement* e = gst_parse_launch((std::string("silencesplit ") + c.props).c_str(), nullptr);
    ASSERT_TRUE(e);
    GstBus* bus = gst_bus_new();
    gst_element_set_bus(e, bus);
    EXPECT_EQ(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
    GstMessage* m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    ASSERT_TRUE(m);
    GError* err = nullptr;
    gst_message_parse_error(m, &err, nullptr);
    EXPECT_NE(std::string(err->message).find(c.rule), std::string::npos) << err->message;
    g_error_free(err);
    gst_message_unref(m);
    gst_element_set_state(e, GST_STATE_NULL);
    gst_element_set_bus(e, nullptr);
    gst_object_unref(bus);
    gst_object_unref(e);
  }
  // The same settings without low latency are fine.
  GstElement* e =
      gst_parse_launch("silencesplit min-segment-time=1000000000 max-segment-time=3000000000", nullptr);
  EXPECT_EQ(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
  gst_element_set_state(e, GST_STATE_NULL);
  gst_object_unref(e);
}

// ---- audio at another rate, with more channels ------------------------------

namespace {

constexpr const char* kStereo44k = "audio/x-raw, format=F32LE, rate=44100, channels=2, layout=interleaved";

// The speech as interleaved 44.1 kHz stereo: left the speech, right 0.6 of it
// 7 samples later (the down-mix is no copy of either channel).
std::vector<float> stereo_44k() {
  const auto mono = acoustok::resample(speech(), 16000, 44100);
  std::vector<float> st(2 * mono.size());
  for (size_t i = 0; i < mono.size(); ++i) {
    st[2 * i] = mono[i];
    st[2 * i + 1] = i >= 7 ? 0.6f * mono[i - 7] : 0.0f;
  }
  return st;
}

// What the command line reads from a file holding stereo frames [from, to).
std::vector<float> command_line_16k(const std::vector<float>& st, size_t from, size_t to) {
  const std::vector<float> part(st.begin() + static_cast<long>(2 * from),
                                st.begin() + static_cast<long>(2 * to));
  return acoustok::resample(acoustok::downmix(part, 2), 44100, 16000);
}

// Frames [from, to) in buffers of 0.1 s stamped from `base`, the first with DISCONT when asked.
void push_stereo(GstHarness* h, const std::vector<float>& st, size_t from, size_t to, GstClockTime base,
                 bool discont) {
  for (size_t pos = from; pos < to; pos += 4410) {
    const size_t n = std::min<size_t>(4410, to - pos);
    GstBuffer* b = gst_buffer_new_allocate(nullptr, 2 * n * sizeof(float), nullptr);
    gst_buffer_fill(b, 0, st.data() + 2 * pos, 2 * n * sizeof(float));
    GST_BUFFER_PTS(b) = base + gst_util_uint64_scale_int(pos - from, GST_SECOND, 44100);
    GST_BUFFER_DURATION(b) = gst_util_uint64_scale_int(n, GST_SECOND, 44100);
    if (discont && pos == from) GST_BUFFER_FLAG_SET(b, GST_BUFFER_FLAG_DISCONT);
    ASSERT_EQ(gst_harness_push(h, b), GST_FLOW_OK);
  }
}

}  // namespace

// 44.1 kHz stereo is down-mixed and resampled as the command line reads a
// file: one resampler per span of the input, drained at a break and at EOS,
// so each side of a break gives exactly the samples of a file holding it,
// timed on the 16 kHz grid from its first PTS; a flush drops what the
// resampler holds. The resampler's hold-back adds to the latency.
TEST(SilenceSplitElement, AudioAtAnotherRateIsTheCommandLinesAcrossBreaksAndFlushes) {
  const auto st = stereo_44k();
  const size_t frames = st.size() / 2;
  const size_t mid = frames / 2 / 4410 * 4410;
  const auto before = command_line_16k(st, 0, mid), after = command_line_16k(st, mid, frames);
  const GstClockTime t0 = 3 * GST_SECOND;
  for (const auto& c : acoustok::test::kStandardBreaks) {
    SCOPED_TRACE(c.name);
    GstHarness* h = gst_harness_new_parse("silencesplit drop-silence=false");
    gst_harness_set_src_caps_str(h, kStereo44k);
    const GstClockTime contiguous = t0 + gst_util_uint64_scale_int(mid, GST_SECOND, 44100),
                       t1 = contiguous + c.shift;
    push_stereo(h, st, 0, mid, t0, false);
    if (c.kind == Break::gap_event) {
      ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_gap(contiguous, c.shift)));
    }
    push_stereo(h, st, mid, frames, t1, c.kind == Break::discont_flag);
    ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
    std::vector<float> got;
    bool first_after = true;
    for (const Stamped& b : pull_stamped(h)) {
      SCOPED_TRACE("buffer at sample " + std::to_string(b.offset));
      const guint64 n = b.samples.size(), split = before.size();
      EXPECT_FALSE(b.offset < split && b.offset_end > split) << "a buffer spans the break";
      EXPECT_EQ(b.pts, b.offset >= split ? t1 + (b.offset - split) * kSample : t0 + b.offset * kSample);
      EXPECT_EQ(b.duration, n * kSample);
      if (b.offset >= split && first_after) {
        EXPECT_TRUE(b.discont) << "the first buffer after the break carries DISCONT";
        first_after = false;
      }
      got.insert(got.end(), b.samples.begin(), b.samples.end());
    }
    std::vector<float> want = before;
    want.insert(want.end(), after.begin(), after.end());
    ASSERT_EQ(got.size(), want.size());
    EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)), 0);
    gst_harness_teardown(h);
  }

  GstHarness* h = gst_harness_new_parse("silencesplit drop-silence=false");
  gst_harness_set_src_caps_str(h, kStereo44k);
  gst_harness_set_upstream_latency(h, 0);
  const GstClockTime latency = acoustok::test::harness_min_latency(h);
  EXPECT_GT(latency, 601 * GST_MSECOND);  // what it holds back at 16 kHz, and the resampler's
  EXPECT_LT(latency, 701 * GST_MSECOND);
  push_stereo(h, st, 0, mid, 0, false);
  gst_harness_push_event(h, gst_event_new_flush_start());
  gst_harness_push_event(h, gst_event_new_flush_stop(TRUE));
  pull_stamped(h);  // whatever came before the flush
  GstSegment seg;
  gst_segment_init(&seg, GST_FORMAT_TIME);
  gst_harness_push_event(h, gst_event_new_segment(&seg));
  push_stereo(h, st, 0, frames, 0, false);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  std::vector<float> got;
  for (const Stamped& b : pull_stamped(h)) got.insert(got.end(), b.samples.begin(), b.samples.end());
  const auto whole = command_line_16k(st, 0, frames);
  ASSERT_EQ(got.size(), whole.size());
  EXPECT_EQ(std::memcmp(got.data(), whole.data(), whole.size() * sizeof(float)), 0);
  gst_harness_teardown(h);
}
