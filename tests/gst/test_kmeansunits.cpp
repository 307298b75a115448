// SPDX-License-Identifier: MIT
// The kmeansunits element with GstHarness: units equal to scikit-learn's
// predict for the same centroids, binary and text output, timestamps,
// segment events, caps refusal, model errors, latency, EOS and flush; dedup=true
// (reduced units) against the collapse of the frame units.
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <sstream>
#include <vector>

#include "acoustok/tensor_file.hpp"
#include "gst_breaks.hpp"
#include "test_util.hpp"

using acoustok::test::fixture;

namespace {

constexpr const char* kFeatureCaps16 = "application/x-acoustok-features, dim=16, layer=14, frame-rate=50/1";

struct Data {
  acoustok::NpyArray x = acoustok::read_npy(fixture("kmeans/mix16.npy"));
  std::vector<int> labels;  // sklearn's predict for mix16_centroids.npy
  Data() {
    std::istringstream in(acoustok::test::read_file(fixture("kmeans/mix16_labels.txt")));
    for (int v; in >> v;) labels.push_back(v);
  }
};
const Data& data() {
  static const Data d;
  return d;
}

std::string launch() { return "kmeansunits model=" + fixture("kmeans/mix16_centroids.npy"); }

// Frames [from, to) of mix16 as one buffer, stamped on the audio timeline.
GstBuffer* frames(int64_t from, int64_t to, GstClockTime base = 0) {
  const auto& x = data().x;
  const size_t bytes = static_cast<size_t>(to - from) * 16 * sizeof(float);
  GstBuffer* b = gst_buffer_new_allocate(nullptr, bytes, nullptr);
  gst_buffer_fill(b, 0, x.values.data() + from * 16, bytes);
  GST_BUFFER_PTS(b) = base + from * 20 * GST_MSECOND;
  GST_BUFFER_DURATION(b) = (to - from) * 20 * GST_MSECOND;
  GST_BUFFER_OFFSET(b) = static_cast<guint64>(from);
  return b;
}

std::string line_of(int64_t from, int64_t to) {
  std::string s;
  for (int64_t i = from; i < to; ++i)
    s += (i > from ? " " : "") + std::to_string(data().labels[static_cast<size_t>(i)]);
  return s + "\n";
}

std::string text_of(GstBuffer* b) {
  GstMapInfo map;
  gst_buffer_map(b, &map, GST_MAP_READ);
  std::string s(reinterpret_cast<const char*>(map.data), map.size);
  gst_buffer_unmap(b, &map);
  return s;
}

std::string error_text(GstBus* bus) {
  std::string all;
  while (GstMessage* m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR)) {
    GError* err = nullptr;
    gst_message_parse_error(m, &err, nullptr);
    all += std::string(err->message) + "\n";
    g_error_free(err);
    gst_message_unref(m);
  }
  return all;
}

}  // namespace

TEST(KMeansUnitsElement, BinaryUnitsAreSklearnLabelsWithTheInputTimestamps) {
  GstHarness* h = gst_harness_new_parse(launch().c_str());
  gst_harness_set_src_caps_str(h, kFeatureCaps16);
  for (int b = 0; b < 5; ++b)
    ASSERT_EQ(gst_harness_push(h, frames(b * 50, b * 50 + 50, GST_SECOND)), GST_FLOW_OK);
  GstCaps* caps = gst_pad_get_current_caps(h->sinkpad);
  ASSERT_TRUE(caps);
  const GstStructure* s = gst_caps_get_structure(caps, 0);
  EXPECT_TRUE(gst_structure_has_name(s, "application/x-acoustok-units"));
  gint vocab = 0;
  EXPECT_TRUE(gst_structure_get_int(s, "vocab-size", &vocab));
  EXPECT_EQ(vocab, 12);
  gst_caps_unref(caps);
  for (int b = 0; b < 5; ++b) {
    GstBuffer* out = gst_harness_pull(h);
    ASSERT_TRUE(out);
    EXPECT_EQ(GST_BUFFER_PTS(out), GST_SECOND + b * GST_SECOND);
    EXPECT_EQ(GST_BUFFER_DURATION(out), GST_SECOND);
    EXPECT_EQ(GST_BUFFER_OFFSET(out), static_cast<guint64>(b * 50));
    EXPECT_EQ(GST_BUFFER_OFFSET_END(out), static_cast<guint64>(b * 50 + 50));
    GstMapInfo map;
    gst_buffer_map(out, &map, GST_MAP_READ);
    ASSERT_EQ(map.size, 50 * sizeof(guint16));
    const auto* u = reinterpret_cast<const guint16*>(map.data);
    for (int i = 0; i < 50; ++i)
      EXPECT_EQ(u[i], data().labels[static_cast<size_t>(b * 50 + i)]) << b << "/" << i;
    gst_buffer_unmap(out, &map);
    gst_buffer_unref(out);
  }
  gst_harness_teardown(h);
}

TEST(KMeansUnitsElement, TextIsOneLinePerSegmentBeforeItsEventAndAtEos) {
  GstHarness* h = gst_harness_new_parse(launch().c_str());
  gst_harness_set_sink_caps_str(h, "text/x-raw, format=utf8");
  gst_harness_set_src_caps_str(h, kFeatureCaps16);
  auto segment_event = [](guint64 i) {
    GstStructure* s = gst_structure_new("acoustok-segment", "index", G_TYPE_UINT64, i, "start", G_TYPE_UINT64,
                                        guint64(0), "stop", G_TYPE_UINT64, guint64(GST_SECOND), nullptr);
    return gst_event_new_custom(GST_EVENT_CUSTOM_DOWNSTREAM, s);
  };
  // The source timeline starts at 5 s: a line's PTS is its first frame's,
  // also when the line spans several input buffers.
  const GstClockTime t0 = 5 * GST_SECOND;
  ASSERT_EQ(gst_harness_push(h, frames(0, 60, t0)), GST_FLOW_OK);
  ASSERT_EQ(gst_harness_push(h, frames(60, 100, t0)), GST_FLOW_OK);
  EXPECT_EQ(gst_harness_buffers_received(h), 0u);  // the line waits for its segment's end
  ASSERT_TRUE(gst_harness_push_event(h, segment_event(0)));
  ASSERT_EQ(gst_harness_push(h, frames(100, 150, t0)), GST_FLOW_OK);
  ASSERT_TRUE(gst_harness_push_event(h, segment_event(1)));
  ASSERT_TRUE(gst_harness_push_event(h, segment_event(2)));  // a segment without a whole frame
  ASSERT_EQ(gst_harness_push(h, frames(150, 230, t0)), GST_FLOW_OK);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));

  const std::vector<std::string> want = {line_of(0, 100), line_of(100, 150), "\n", line_of(150, 230)};
  ASSERT_EQ(gst_harness_buffers_in_queue(h), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    GstBuffer* b = gst_harness_pull(h);
    EXPECT_EQ(text_of(b), want[i]) << i;
    if (i == 0) {
      EXPECT_EQ(GST_BUFFER_PTS(b), t0);
      EXPECT_EQ(GST_BUFFER_OFFSET(b), 0u);
    }
    if (i == 1) {
      EXPECT_EQ(GST_BUFFER_PTS(b), t0 + 100 * 20 * GST_MSECOND);
      EXPECT_EQ(GST_BUFFER_DURATION(b), 50 * 20 * GST_MSECOND);
      EXPECT_EQ(GST_BUFFER_OFFSET(b), 100u);
    }
    gst_buffer_unref(b);
  }
  int segment_events = 0;
  while (GstEvent* e = gst_harness_try_pull_event(h)) {
    const GstStructure* s = gst_event_get_structure(e);
    if (GST_EVENT_TYPE(e) == GST_EVENT_CUSTOM_DOWNSTREAM && s &&
        gst_structure_has_name(s, "acoustok-segment")) {
      guint64 index = 99;
      gst_structure_get_uint64(s, "index", &index);
      EXPECT_EQ(index, static_cast<guint64>(segment_events));
      ++segment_events;
    }
    gst_event_unref(e);
  }
  EXPECT_EQ(segment_events, 3);
  gst_harness_teardown(h);
}

TEST(KMeansUnitsElement, RefusesAnotherFeatureDimensionNamingBoth) {
  GstHarness* h = gst_harness_new_parse(launch().c_str());
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(h->element, bus);
  gst_harness_set_src_caps_str(h, "application/x-acoustok-features, dim=1024, layer=14, frame-rate=50/1");
  const std::string err = error_text(bus);
  EXPECT_NE(err.find("feature dimension 1024 of the input differs from the k-means model's 16"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("mix16_centroids.npy"), std::string::npos) << err;
  gst_element_set_bus(h->element, nullptr);
  gst_object_unref(bus);
  gst_harness_teardown(h);
}

TEST(KMeansUnitsElement, MissingOrBadModelFailsOnNullToReadyNamingTheFile) {
  const std::string dir = acoustok::test::make_temp_dir("kmu");
  {
    FILE* f = std::fopen((dir + "/bad.safetensors").c_str(), "wb");
    std::fputs("garbage", f);
    std::fclose(f);
  }
  for (const std::string& path : {dir + "/missing.safetensors", dir + "/bad.safetensors", std::string()}) {
    GstElement* e = gst_element_factory_make("kmeansunits", nullptr);
    ASSERT_TRUE(e);
    if (!path.empty()) g_object_set(e, "model", path.c_str(), nullptr);
    GstBus* bus = gst_bus_new();
    gst_element_set_bus(e, bus);
    EXPECT_EQ(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE) << path;
    const std::string err = error_text(bus);
    EXPECT_NE(err.find(path.empty() ? "no model set" : path), std::string::npos) << err;
    gst_element_set_state(e, GST_STATE_NULL);
    gst_element_set_bus(e, nullptr);
    gst_object_unref(bus);
    gst_object_unref(e);
  }
}

TEST(KMeansUnitsElement, FlushStopDropsThePartialLine) {
  GstHarness* h = gst_harness_new_parse(launch().c_str());
  gst_harness_set_sink_caps_str(h, "text/x-raw, format=utf8");
  gst_harness_set_src_caps_str(h, kFeatureCaps16);
  ASSERT_EQ(gst_harness_push(h, frames(0, 40)), GST_FLOW_OK);
  gst_harness_push_event(h, gst_event_new_flush_start());
  gst_harness_push_event(h, gst_event_new_flush_stop(TRUE));
  GstSegment seg;
  gst_segment_init(&seg, GST_FORMAT_TIME);
  gst_harness_push_event(h, gst_event_new_segment(&seg));
  ASSERT_EQ(gst_harness_push(h, frames(300, 380)), GST_FLOW_OK);
  gst_harness_push_event(h, gst_event_new_eos());
  ASSERT_EQ(gst_harness_buffers_in_queue(h), 1u);
  GstBuffer* b = gst_harness_pull(h);
  EXPECT_EQ(text_of(b), line_of(300, 380));
  gst_buffer_unref(b);
  gst_harness_teardown(h);
}

// dedup=true too: the wait for a run's end is the speech's, not reported.
TEST(KMeansUnitsElement, AddsNoLatencyToBinaryUnits) {
  for (const char* dedup : {"", " dedup=true"}) {
    GstHarness* h = gst_harness_new_parse((launch() + dedup).c_str());
    gst_harness_set_src_caps_str(h, kFeatureCaps16);
    gst_harness_set_upstream_latency(h, 30 * GST_MSECOND);
    const GstClockTime min = acoustok::test::harness_min_latency(h);
    ASSERT_TRUE(GST_CLOCK_TIME_IS_VALID(min)) << dedup;
    EXPECT_EQ(min, 30 * GST_MSECOND) << dedup;
    gst_harness_teardown(h);
  }
}

TEST(KMeansUnitsElement, DocumentsItselfForGstInspect) {
  GstElementFactory* f = gst_element_factory_find("kmeansunits");
  ASSERT_TRUE(f);
  EXPECT_STREQ(gst_element_factory_get_metadata(f, GST_ELEMENT_METADATA_KLASS), "Filter/Analyzer/Audio");
  // One sentence, as gst-plugins-good writes them; launch lines live in the doc block.
  const std::string description = gst_element_factory_get_metadata(f, GST_ELEMENT_METADATA_DESCRIPTION);
  EXPECT_GT(description.size(), 20u);
  EXPECT_EQ(description.find("gst-launch-1.0"), std::string::npos);
  EXPECT_EQ(description.find(". "), std::string::npos);
  GstElement* e = gst_element_factory_create(f, nullptr);
  GParamSpec* p = g_object_class_find_property(G_OBJECT_GET_CLASS(e), "model");
  ASSERT_TRUE(p);
  EXPECT_GT(strlen(g_param_spec_get_blurb(p)), 10u);
  gst_object_unref(e);
  gst_object_unref(f);
}

// The element over features of each segment (`acoustok features`, float32)
// against `acoustok units` on the same segments (float16 feature cache):
// the only difference is the cache's rounding, which may move a frame that
// lies almost exactly between two centroids.
TEST(KMeansUnitsElement, AgreesWithAcoustokUnitsOnTheSameSegments) {
  using acoustok::test::acoustok_bin;
  using acoustok::test::run_command;
  const std::string dir = acoustok::test::make_temp_dir("kmu-units");
  const std::string model = fixture("xlsr/xlsr_st");
  std::string log;
  ASSERT_EQ(run_command(acoustok_bin() + " segment -q " + fixture("silence/speech_pauses.wav") + " -o " +
                            dir + "/seg",
                        &log),
            0)
      << log;
  if (run_command(acoustok_bin() + " units -q --model " + model + " --layer 2 --k 10 " + dir + "/seg -o " +
                      dir + "/out",
                  &log) != 0) {
    if (log.find("torch") != std::string::npos || log.find("LibTorch") != std::string::npos)
      GTEST_SKIP() << log;
    FAIL() << log;
  }
  std::vector<std::string> want;
  {
    std::istringstream in(acoustok::test::read_file(dir + "/out/all_units_for_bpe.txt"));
    for (std::string line; std::getline(in, line);) want.push_back(line + "\n");
  }
  GstHarness* h = gst_harness_new_parse(("kmeansunits model=" + dir + "/out/kmeans.safetensors").c_str());
  gst_harness_set_sink_caps_str(h, "text/x-raw, format=utf8");
  gst_harness_set_src_caps_str(h, "application/x-acoustok-features, dim=32, layer=2, frame-rate=50/1");
  for (size_t s = 0; s < want.size(); ++s) {
    char name[64];
    std::snprintf(name, sizeof name, "speech_pauses_%05zu", s);
    ASSERT_EQ(run_command(acoustok_bin() + " features -q --model " + model + " --layer 2 " + dir + "/seg/" +
                              name + ".wav -o " + dir + "/" + name + ".npy",
                          &log),
              0)
        << log;
    const auto x = acoustok::read_npy(dir + "/" + name + ".npy");
    GstBuffer* b = gst_buffer_new_allocate(nullptr, x.values.size() * sizeof(float), nullptr);
    gst_buffer_fill(b, 0, x.values.data(), x.values.size() * sizeof(float));
    GST_BUFFER_PTS(b) = s * 10 * GST_SECOND;
    ASSERT_EQ(gst_harness_push(h, b), GST_FLOW_OK);
    gst_harness_push_event(h, gst_event_new_custom(GST_EVENT_CUSTOM_DOWNSTREAM,
                                                   gst_structure_new("acoustok-segment", "index",
                                                                     G_TYPE_UINT64, guint64(s), nullptr)));
  }
  gst_harness_push_event(h, gst_event_new_eos());
  ASSERT_EQ(gst_harness_buffers_in_queue(h), want.size());
  size_t same = 0, total = 0;
  for (size_t s = 0; s < want.size(); ++s) {
    GstBuffer* b = gst_harness_pull(h);
    std::istringstream a(text_of(b)), e(want[s]);
    gst_buffer_unref(b);
    std::vector<int> got_ids, want_ids;
    for (int v; a >> v;) got_ids.push_back(v);
    for (int v; e >> v;) want_ids.push_back(v);
    ASSERT_EQ(got_ids.size(), want_ids.size()) << "segment " << s;
    for (size_t i = 0; i < got_ids.size(); ++i) same += got_ids[i] == want_ids[i];
    total += got_ids.size();
  }
  ASSERT_GT(total, 100u);
  std::printf("kmeansunits vs acoustok units: %zu of %zu frames agree (%.2f%%)\n", same, total,
              100.0 * same / total);
  EXPECT_GE(static_cast<double>(same), 0.99 * static_cast<double>(total));
  gst_harness_teardown(h);
}

// A break in the input (a PTS jump, a DISCONT buffer, a GAP event): binary
// units keep each frame's own time; a text line ends at the break.
TEST(KMeansUnitsElement, BreaksKeepTheTimelineAndEndTheTextLine) {
  using acoustok::test::Break;
  const auto& cases = acoustok::test::kStandardBreaks;
  for (const bool text : {false, true}) {
    for (const auto& c : cases) {
      SCOPED_TRACE(std::string(c.name) + (text ? ", text" : ", binary"));
      GstHarness* h = gst_harness_new_parse(launch().c_str());
      if (text) gst_harness_set_sink_caps_str(h, "text/x-raw, format=utf8");
      gst_harness_set_src_caps_str(h, kFeatureCaps16);
      ASSERT_EQ(gst_harness_push(h, frames(0, 60)), GST_FLOW_OK);
      if (c.kind == Break::gap_event) {
        ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_gap(60 * 20 * GST_MSECOND, c.shift)));
      }
      GstBuffer* after = frames(60, 100, c.shift);
      if (c.kind == Break::discont_flag) GST_BUFFER_FLAG_SET(after, GST_BUFFER_FLAG_DISCONT);
      ASSERT_EQ(gst_harness_push(h, after), GST_FLOW_OK);
      ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
      ASSERT_EQ(gst_harness_buffers_in_queue(h), 2u);
      const int64_t from[2] = {0, 60}, to[2] = {60, 100};
      for (int s = 0; s < 2; ++s) {
        GstBuffer* b = gst_harness_pull(h);
        EXPECT_EQ(GST_BUFFER_PTS(b), (s ? c.shift : 0) + from[s] * 20 * GST_MSECOND) << s;
        EXPECT_EQ(GST_BUFFER_DURATION(b), static_cast<GstClockTime>(to[s] - from[s]) * 20 * GST_MSECOND) << s;
        EXPECT_EQ(GST_BUFFER_OFFSET(b), static_cast<guint64>(from[s])) << s;
        EXPECT_EQ(GST_BUFFER_OFFSET_END(b), static_cast<guint64>(to[s])) << s;
        if (s == 1) {
          EXPECT_TRUE(GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DISCONT));
        }
        if (text)
          EXPECT_EQ(text_of(b), line_of(from[s], to[s])) << s;
        else
          EXPECT_EQ(gst_buffer_get_size(b), static_cast<gsize>(to[s] - from[s]) * sizeof(guint16)) << s;
        gst_buffer_unref(b);
      }
      gst_harness_teardown(h);
    }
  }
}

// ---- dedup=true: reduced units ---------------------------------------------

namespace {

// A speech-like stream: mix16 row j repeated 1..5 times, so runs of one
// unit last several frames (and neighbouring rows may share a unit too).
std::vector<int64_t> run_rows(int64_t rows) {
  std::vector<int64_t> out;
  for (int64_t j = 0; j < rows; ++j)
    for (int64_t r = 0; r <= (j * 7) % 5; ++r) out.push_back(j);
  return out;
}

// Frames [from, to) of a stream of mix16 rows as one buffer.
GstBuffer* row_frames(const std::vector<int64_t>& rows, int64_t from, int64_t to, GstClockTime base = 0) {
  GstBuffer* b =
      gst_buffer_new_allocate(nullptr, static_cast<size_t>(to - from) * 16 * sizeof(float), nullptr);
  for (int64_t f = from; f < to; ++f)
    gst_buffer_fill(b, static_cast<gsize>(f - from) * 16 * sizeof(float),
                    data().x.values.data() + rows[f] * 16, 16 * sizeof(float));
  GST_BUFFER_PTS(b) = base + from * 20 * GST_MSECOND;
  GST_BUFFER_OFFSET(b) = static_cast<guint64>(from);
  return b;
}

struct UnitRun {
  int unit;
  int64_t frames, start;  // start: frame index
  bool operator==(const UnitRun& o) const { return unit == o.unit && frames == o.frames && start == o.start; }
};
std::ostream& operator<<(std::ostream& os, const UnitRun& r) {
  return os << r.unit << "x" << r.frames << "@" << r.start;
}

// The reference: frame units cut at the segment ends, each piece's repeats
// collapsed, with the frame index where each run starts.
std::vector<UnitRun> collapse(const std::vector<int>& units, const std::vector<int64_t>& ends) {
  std::vector<UnitRun> out;
  int64_t begin = 0;
  for (int64_t end : ends) {
    for (int64_t f = begin; f < end; ++f) {
      if (f > begin && out.back().unit == units[static_cast<size_t>(f)])
        ++out.back().frames;
      else
        out.push_back({units[static_cast<size_t>(f)], 1, f});
    }
    begin = end;
  }
  return out;
}

GstEvent* segment_end(guint64 index) {
  return gst_event_new_custom(GST_EVENT_CUSTOM_DOWNSTREAM,
                              gst_structure_new("acoustok-segment", "index", G_TYPE_UINT64, index, nullptr));
}

// Pushes rows[0, n) in buffers of awkward sizes (1, 7, 3, 50, 13, ...) that
// cut runs, with segment events at `ends` (inside runs) and EOS.
void push_awkwardly(GstHarness* h, const std::vector<int64_t>& rows, const std::vector<int64_t>& ends) {
  const int64_t sizes[] = {1, 7, 3, 50, 13, 2, 29};
  int64_t at = 0;
  size_t next_end = 0;
  for (int k = 0; at < static_cast<int64_t>(rows.size()); ++k) {
    int64_t to = std::min<int64_t>(at + sizes[k % 7], static_cast<int64_t>(rows.size()));
    if (next_end < ends.size() && to > ends[next_end]) to = ends[next_end];
    ASSERT_EQ(gst_harness_push(h, row_frames(rows, at, to)), GST_FLOW_OK);
    at = to;
    if (next_end < ends.size() && at == ends[next_end]) {
      ASSERT_TRUE(gst_harness_push_event(h, segment_end(next_end++)));
    }
  }
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
}

// Every reduced run out of the harness, checking each buffer's stamps
// against its runs: PTS and OFFSET of its first frame, DURATION of them all
// (frames from `shift_at` on are stamped `shift` later).
std::vector<UnitRun> pull_runs(GstHarness* h, int64_t shift_at = INT64_MAX, GstClockTime shift = 0) {
  std::vector<UnitRun> out;
  while (GstBuffer* b = gst_harness_try_pull(h)) {
    GstMapInfo map;
    gst_buffer_map(b, &map, GST_MAP_READ);
    EXPECT_EQ(map.size % 4, 0u);
    const auto* v = reinterpret_cast<const guint16*>(map.data);
    int64_t at = static_cast<int64_t>(GST_BUFFER_OFFSET(b));
    EXPECT_EQ(GST_BUFFER_PTS(b),
              static_cast<GstClockTime>(at) * 20 * GST_MSECOND + (at >= shift_at ? shift : 0));
    for (size_t i = 0; i + 1 < map.size / 2; i += 2) {
      out.push_back({v[i], v[i + 1], at});
      at += v[i + 1];
    }
    EXPECT_EQ(GST_BUFFER_DURATION(b),
              static_cast<GstClockTime>(at - static_cast<int64_t>(GST_BUFFER_OFFSET(b))) * 20 * GST_MSECOND);
    EXPECT_EQ(GST_BUFFER_OFFSET_END(b), static_cast<guint64>(at));
    gst_buffer_unmap(b, &map);
    gst_buffer_unref(b);
  }
  return out;
}

}  // namespace

TEST(KMeansUnitsElement, DedupIsTheCollapseOfTheFrameUnitsWithDurations) {
  const std::vector<int64_t> rows = run_rows(300);
  const auto n = static_cast<int64_t>(rows.size());
  std::vector<int> labels;
  for (int64_t r : rows) labels.push_back(data().labels[static_cast<size_t>(r)]);
  const std::vector<int64_t> ends = {201, 407, n};  // segment events inside runs, then EOS

  // dedup=false: frame units as they are.
  GstHarness* plain = gst_harness_new_parse(launch().c_str());
  gst_harness_set_src_caps_str(plain, kFeatureCaps16);
  push_awkwardly(plain, rows, {ends[0], ends[1]});
  std::vector<int> frame_units;
  while (GstBuffer* b = gst_harness_try_pull(plain)) {
    GstMapInfo map;
    gst_buffer_map(b, &map, GST_MAP_READ);
    const auto* u = reinterpret_cast<const guint16*>(map.data);
    frame_units.insert(frame_units.end(), u, u + map.size / 2);
    gst_buffer_unmap(b, &map);
    gst_buffer_unref(b);
  }
  gst_harness_teardown(plain);
  ASSERT_EQ(frame_units, labels);  // sklearn's

  GstHarness* h = gst_harness_new_parse((launch() + " dedup=true").c_str());
  gst_harness_set_src_caps_str(h, kFeatureCaps16);
  push_awkwardly(h, rows, {ends[0], ends[1]});
  GstCaps* caps = gst_pad_get_current_caps(h->sinkpad);
  ASSERT_TRUE(caps);
  gboolean reduced = FALSE;
  EXPECT_TRUE(gst_structure_get_boolean(gst_caps_get_structure(caps, 0), "reduced", &reduced));
  EXPECT_TRUE(reduced);
  gst_caps_unref(caps);
  const std::vector<UnitRun> got = pull_runs(h);
  const std::vector<UnitRun> want = collapse(frame_units, ends);
  ASSERT_LT(want.size(), frame_units.size() * 3 / 4);  // the stream has runs to collapse
  EXPECT_EQ(got, want);
  gst_harness_teardown(h);
}

TEST(KMeansUnitsElement, DedupHoldsARunUntilItEndsAndCutsLongOnes) {
  GstHarness* h = gst_harness_new_parse((launch() + " dedup=true").c_str());
  gst_harness_set_src_caps_str(h, kFeatureCaps16);
  // 70000 frames of one row: one run, longer than an entry holds.
  const std::vector<int64_t> rows(70000, 5);
  ASSERT_EQ(gst_harness_push(h, row_frames(rows, 0, 70000)), GST_FLOW_OK);
  const int u = data().labels[5];
  std::vector<UnitRun> got = pull_runs(h);
  ASSERT_EQ(got, (std::vector<UnitRun>{{u, 65535, 0}}));  // the rest may continue
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  got = pull_runs(h);
  EXPECT_EQ(got, (std::vector<UnitRun>{{u, 70000 - 65535, 65535}}));
  gst_harness_teardown(h);
}

TEST(KMeansUnitsElement, DedupFlushDropsTheHeldRunAndTextIsCollapsed) {
  const std::vector<int64_t> rows = run_rows(100);
  std::vector<int> labels;
  for (int64_t r : rows) labels.push_back(data().labels[static_cast<size_t>(r)]);
  GstHarness* h = gst_harness_new_parse((launch() + " dedup=true").c_str());
  gst_harness_set_src_caps_str(h, kFeatureCaps16);
  ASSERT_EQ(gst_harness_push(h, row_frames(rows, 0, 40)), GST_FLOW_OK);
  const std::vector<UnitRun> before = pull_runs(h);
  // What went out is every run of frames 0..40 but the last (held).
  std::vector<UnitRun> want = collapse(std::vector<int>(labels.begin(), labels.begin() + 40), {40});
  want.pop_back();
  EXPECT_EQ(before, want);
  gst_harness_push_event(h, gst_event_new_flush_start());
  gst_harness_push_event(h, gst_event_new_flush_stop(TRUE));
  GstSegment seg;
  gst_segment_init(&seg, GST_FORMAT_TIME);
  gst_harness_push_event(h, gst_event_new_segment(&seg));
  const int64_t end = 180;
  ASSERT_EQ(gst_harness_push(h, row_frames(rows, 100, end)), GST_FLOW_OK);
  gst_harness_push_event(h, gst_event_new_eos());
  std::vector<UnitRun> after = pull_runs(h);
  std::vector<int> tail(labels.begin() + 100, labels.begin() + end);
  std::vector<UnitRun> want_after = collapse(tail, {end - 100});
  for (UnitRun& r : want_after) r.start += 100;
  EXPECT_EQ(after, want_after);  // nothing of the dropped run
  gst_harness_teardown(h);

  // Text: one line of collapsed ids per segment.
  h = gst_harness_new_parse((launch() + " dedup=true").c_str());
  gst_harness_set_sink_caps_str(h, "text/x-raw, format=utf8");
  gst_harness_set_src_caps_str(h, kFeatureCaps16);
  push_awkwardly(h, rows, {57});
  std::string want_text;
  for (const UnitRun& r : collapse(labels, {57, static_cast<int64_t>(rows.size())})) {
    if (r.start == 57)
      want_text += "\n";
    else if (r.start)
      want_text += " ";
    want_text += std::to_string(r.unit);
  }
  want_text += "\n";
  std::string got_text;
  while (GstBuffer* b = gst_harness_try_pull(h)) {
    got_text += text_of(b);
    gst_buffer_unref(b);
  }
  EXPECT_EQ(got_text, want_text);
  gst_harness_teardown(h);
}

// A break (PTS jump, DISCONT, GAP) ends a run as a segment end does; the
// runs after it keep their own times.
TEST(KMeansUnitsElement, DedupRunsEndAtBreaks) {
  using acoustok::test::Break;
  const std::vector<int64_t> rows = run_rows(40);
  std::vector<int> labels;
  for (int64_t r : rows) labels.push_back(data().labels[static_cast<size_t>(r)]);
  const int64_t mid = 62, n = 100;  // the break is inside a run of row 21
  ASSERT_EQ(rows[mid - 1], rows[mid]);
  for (const auto& c : acoustok::test::kStandardBreaks) {
    SCOPED_TRACE(c.name);
    GstHarness* h = gst_harness_new_parse((launch() + " dedup=true").c_str());
    gst_harness_set_src_caps_str(h, kFeatureCaps16);
    ASSERT_EQ(gst_harness_push(h, row_frames(rows, 0, mid)), GST_FLOW_OK);
    if (c.kind == Break::gap_event) {
      ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_gap(mid * 20 * GST_MSECOND, c.shift)));
    }
    GstBuffer* after = row_frames(rows, mid, n, c.shift);
    if (c.kind == Break::discont_flag) GST_BUFFER_FLAG_SET(after, GST_BUFFER_FLAG_DISCONT);
    ASSERT_EQ(gst_harness_push(h, after), GST_FLOW_OK);
    ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
    EXPECT_EQ(pull_runs(h, mid, c.shift),
              collapse(std::vector<int>(labels.begin(), labels.begin() + n), {mid, n}));
    gst_harness_teardown(h);
  }
}
