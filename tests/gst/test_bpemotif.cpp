// SPDX-License-Identifier: MIT
// The bpemotif element with GstHarness: motifs equal those of the
// SentencePiece Python module (tests/fixtures/gen_bpe_fixtures.py) for binary
// and text caps, per segment; timestamps; events; windows; latency; EOS;
// flush; model errors before data flows; reduced units (caps reduced=true)
// against the frame units they came from.
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>
#include <vector>

#include "acoustok/unit_text.hpp"
#include "gst_breaks.hpp"
#include "test_util.hpp"

using acoustok::test::fixture;
using nlohmann::json;

namespace {

constexpr const char* kUnitCaps =
    "application/x-acoustok-units, vocab-size=(int)100, frame-rate=(fraction)50/1";
constexpr const char* kTextCaps = "text/x-raw, format=(string)utf8";
constexpr GstClockTime kFrame = 20 * GST_MSECOND;

json expected() { return json::parse(acoustok::test::read_file(fixture("bpe/expected.json"))); }

std::vector<std::vector<int>> heldout_lines() {
  std::vector<std::vector<int>> lines;
  std::istringstream in(acoustok::test::read_file(fixture("bpe/heldout.txt")));
  std::vector<int> units;
  for (std::string line; std::getline(in, line);) {
    acoustok::parse_unit_line(line, &units, "heldout.txt", 0);
    lines.push_back(units);
  }
  return lines;
}

GstHarness* make_harness(const std::string& model, const char* src_caps, const char* sink_caps,
                         GstClockTime max_window = 60 * GST_SECOND) {
  GstElement* e = gst_element_factory_make("bpemotif", nullptr);
  EXPECT_NE(e, nullptr);
  g_object_set(e, "model", fixture("bpe/" + model).c_str(), "max-window-time", max_window, nullptr);
  GstHarness* h = gst_harness_new_with_element(e, "sink", "src");
  gst_object_unref(e);
  if (sink_caps) gst_harness_set_sink_caps_str(h, sink_caps);
  gst_harness_set_src_caps_str(h, src_caps);
  return h;
}

GstBuffer* units_buffer(const int* units, size_t n, GstClockTime pts, guint64 offset) {
  GstBuffer* b = gst_buffer_new_allocate(nullptr, n * 2, nullptr);
  GstMapInfo map;
  gst_buffer_map(b, &map, GST_MAP_WRITE);
  for (size_t i = 0; i < n; ++i) {
    const guint16 u = static_cast<guint16>(units[i]);
    std::memcpy(map.data + 2 * i, &u, 2);
  }
  gst_buffer_unmap(b, &map);
  GST_BUFFER_PTS(b) = pts;
  GST_BUFFER_DURATION(b) = n * kFrame;
  GST_BUFFER_OFFSET(b) = offset;
  GST_BUFFER_OFFSET_END(b) = offset + n;
  return b;
}

GstBuffer* text_buffer(const std::string& text) {
  GstBuffer* b = gst_buffer_new_allocate(nullptr, text.size(), nullptr);
  gst_buffer_fill(b, 0, text.data(), text.size());
  return b;
}

std::string buffer_text(GstBuffer* b) {
  GstMapInfo map;
  gst_buffer_map(b, &map, GST_MAP_READ);
  std::string s(reinterpret_cast<const char*>(map.data), map.size);
  gst_buffer_unmap(b, &map);
  return s;
}

// (token id, frames) of each motif in a binary buffer.
std::vector<std::pair<gint32, guint32>> buffer_motifs(GstBuffer* b) {
  GstMapInfo map;
  gst_buffer_map(b, &map, GST_MAP_READ);
  EXPECT_EQ(map.size % 8, 0u);
  std::vector<std::pair<gint32, guint32>> out(map.size / 8);
  for (size_t k = 0; k < out.size(); ++k) {
    std::memcpy(&out[k].first, map.data + 8 * k, 4);
    std::memcpy(&out[k].second, map.data + 8 * k + 4, 4);
  }
  gst_buffer_unmap(b, &map);
  return out;
}

// Drains the harness's event queue; returns the indices of acoustok-segment events.
std::vector<guint64> segment_events(GstHarness* h) {
  std::vector<guint64> out;
  while (GstEvent* e = gst_harness_try_pull_event(h)) {
    const GstStructure* s = gst_event_get_structure(e);
    if (GST_EVENT_TYPE(e) == GST_EVENT_CUSTOM_DOWNSTREAM && s &&
        gst_structure_has_name(s, "acoustok-segment")) {
      guint64 index = 0;
      gst_structure_get_uint64(s, "index", &index);
      out.push_back(index);
    }
    gst_event_unref(e);
  }
  return out;
}

GstEvent* segment_event(guint64 index, GstClockTime start, GstClockTime stop) {
  GstStructure* s = gst_structure_new("acoustok-segment", "index", G_TYPE_UINT64, index, "start",
                                      G_TYPE_UINT64, start, "stop", G_TYPE_UINT64, stop, nullptr);
  return gst_event_new_custom(GST_EVENT_CUSTOM_DOWNSTREAM, s);
}

// Pushes each held-out line as one segment (in two buffers, on one timeline
// with a second of silence between segments) and checks the motifs of each
// segment leave before the event that closes it.
template <typename Check>
void push_segments(GstHarness* h, const std::vector<std::vector<int>>& lines, Check check) {
  guint64 offset = 0;
  guint64 index = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto& line = lines[i];
    if (line.empty()) continue;
    const size_t half = line.size() / 2;
    ASSERT_EQ(gst_harness_push(h, units_buffer(line.data(), half, offset * kFrame, offset)), GST_FLOW_OK);
    ASSERT_EQ(gst_harness_push(h, units_buffer(line.data() + half, line.size() - half,
                                               (offset + half) * kFrame, offset + half)),
              GST_FLOW_OK);
    EXPECT_EQ(gst_harness_try_pull(h), nullptr) << "motifs before the segment ended";
    ASSERT_TRUE(
        gst_harness_push_event(h, segment_event(index, offset * kFrame, (offset + line.size()) * kFrame)));
    GstBuffer* out = gst_harness_try_pull(h);
    ASSERT_NE(out, nullptr) << "line " << i + 1;
    EXPECT_EQ(GST_BUFFER_PTS(out), offset * kFrame);
    EXPECT_EQ(GST_BUFFER_DURATION(out), line.size() * kFrame);
    EXPECT_EQ(GST_BUFFER_OFFSET(out), offset);
    EXPECT_EQ(GST_BUFFER_OFFSET_END(out), offset + line.size());
    check(i, out);
    gst_buffer_unref(out);
    EXPECT_EQ(segment_events(h), std::vector<guint64>{index})
        << "the segment event is forwarded after its motifs";
    offset += line.size() + 50;
    ++index;
  }
}

}  // namespace

TEST(BpeMotifElement, BinaryUnitsToTextMotifsEqualThePythonModule) {
  const json e = expected();
  const auto lines = heldout_lines();
  for (const std::string name : {"ref", "ref_dedup"}) {
    GstHarness* h = make_harness(name + ".model", kUnitCaps, kTextCaps);
    push_segments(h, lines, [&](size_t i, GstBuffer* out) {
      EXPECT_EQ(buffer_text(out), e[name]["heldout"][i].get<std::string>() + "\n")
          << name << " line " << i + 1;
    });
    GstCaps* caps = gst_pad_get_current_caps(h->sinkpad);
    EXPECT_TRUE(gst_structure_has_name(gst_caps_get_structure(caps, 0), "text/x-raw"));
    gst_caps_unref(caps);
    gst_harness_teardown(h);
  }
}

TEST(BpeMotifElement, BinaryMotifsCarryTokenIdsAndFrameCounts) {
  const json e = expected();
  const auto lines = heldout_lines();
  for (const std::string name : {"ref", "ref_dedup"}) {
    GstHarness* h = make_harness(name + ".model", kUnitCaps, nullptr);
    push_segments(h, lines, [&](size_t i, GstBuffer* out) {
      const auto motifs = buffer_motifs(out);
      const json& want = e[name]["heldout_motifs"][i];
      ASSERT_EQ(motifs.size(), want.size()) << name << " line " << i + 1;
      for (size_t k = 0; k < motifs.size(); ++k) {
        EXPECT_EQ(motifs[k].first, want[k][0].get<gint32>());
        EXPECT_EQ(motifs[k].second, want[k][2].get<guint32>());
      }
    });
    GstCaps* caps = gst_pad_get_current_caps(h->sinkpad);
    const GstStructure* s = gst_caps_get_structure(caps, 0);
    EXPECT_TRUE(gst_structure_has_name(s, "application/x-acoustok-motifs"));
    int vocab = 0;
    EXPECT_TRUE(gst_structure_get_int(s, "vocab-size", &vocab));
    EXPECT_EQ(vocab, static_cast<int>(e[name]["pieces"].size()));
    gst_caps_unref(caps);
    gst_harness_teardown(h);
  }
}

// Text in, arbitrary chunks: one output line per input line (empty ones too),
// stamped one after the other; the last line needs no newline (EOS drains it).
TEST(BpeMotifElement, TextUnitsInTextMotifsOut) {
  const json e = expected();
  std::string text = acoustok::test::read_file(fixture("bpe/heldout.txt"));
  ASSERT_EQ(text.back(), '\n');
  text.pop_back();
  GstHarness* h = make_harness("ref.model", kTextCaps, kTextCaps);
  for (size_t pos = 0; pos < text.size(); pos += 37) {
    ASSERT_EQ(gst_harness_push(h, text_buffer(text.substr(pos, 37))), GST_FLOW_OK);
  }
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  const auto lines = heldout_lines();
  guint64 offset = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    GstBuffer* out = gst_harness_try_pull(h);
    ASSERT_NE(out, nullptr) << "line " << i + 1;
    EXPECT_EQ(buffer_text(out), e["ref"]["heldout"][i].get<std::string>() + "\n") << "line " << i + 1;
    EXPECT_EQ(GST_BUFFER_PTS(out), offset * kFrame);
    EXPECT_EQ(GST_BUFFER_DURATION(out), lines[i].size() * kFrame);
    EXPECT_EQ(GST_BUFFER_OFFSET(out), offset);
    offset += lines[i].size();
    gst_buffer_unref(out);
  }
  EXPECT_EQ(gst_harness_try_pull(h), nullptr);
  gst_harness_teardown(h);
}

// Without segment events: windows of max-window-time, and a new window at a
// timestamp jump; EOS drains the last one.
TEST(BpeMotifElement, StreamWithoutSegmentEventsIsEncodedInWindows) {
  const auto lines = heldout_lines();
  std::vector<int> units;
  for (const auto& l : lines) units.insert(units.end(), l.begin(), l.end());
  ASSERT_GT(units.size(), 180u);
  GstHarness* h = make_harness("ref.model", kUnitCaps, kTextCaps, GST_SECOND);  // 50 frames
  ASSERT_EQ(gst_harness_push(h, units_buffer(units.data(), 120, 0, 0)), GST_FLOW_OK);
  // 60 more frames after a jump of 2 s (frames 120..219 missing).
  ASSERT_EQ(gst_harness_push(h, units_buffer(units.data() + 120, 60, 220 * kFrame, 220)), GST_FLOW_OK);
  EXPECT_EQ(gst_harness_buffers_received(h), 4u);  // [0,50) [50,100) [100,120) [220,270); [270,280) pending
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  const std::vector<std::pair<guint64, guint64>> spans = {
      {0, 50}, {50, 100}, {100, 120}, {220, 270}, {270, 280}};
  for (const auto& [from, to] : spans) {
    GstBuffer* out = gst_harness_try_pull(h);
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(GST_BUFFER_PTS(out), from * kFrame);
    EXPECT_EQ(GST_BUFFER_DURATION(out), (to - from) * kFrame);
    EXPECT_EQ(GST_BUFFER_OFFSET(out), from);
    EXPECT_EQ(GST_BUFFER_OFFSET_END(out), to);
    // Every motif's units, in order, are the window's units.
    std::string joined = buffer_text(out);
    for (char& c : joined) c = (c == '-' || c == '\n') ? ' ' : c;
    std::vector<int> got;
    acoustok::parse_unit_line(joined, &got, "output", 0);
    const size_t src = from < 120 ? from : from - 100;
    EXPECT_EQ(got, std::vector<int>(units.begin() + src, units.begin() + src + (to - from)));
    gst_buffer_unref(out);
  }
  EXPECT_EQ(gst_harness_try_pull(h), nullptr);
  gst_harness_teardown(h);
}

TEST(BpeMotifElement, EosDrainsAndFlushStopForgets) {
  const auto lines = heldout_lines();
  GstHarness* h = make_harness("ref.model", kUnitCaps, kTextCaps);
  const auto& a = lines[0];
  const auto& b = lines[1];
  ASSERT_EQ(gst_harness_push(h, units_buffer(a.data(), a.size(), 0, 0)), GST_FLOW_OK);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_flush_start()));
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
  GstSegment seg;
  gst_segment_init(&seg, GST_FORMAT_TIME);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_segment(&seg)));
  EXPECT_EQ(gst_harness_try_pull(h), nullptr);
  ASSERT_EQ(gst_harness_push(h, units_buffer(b.data(), b.size(), 10 * GST_SECOND, 500)), GST_FLOW_OK);
  EXPECT_EQ(gst_harness_try_pull(h), nullptr);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  GstBuffer* out = gst_harness_try_pull(h);
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(buffer_text(out), expected()["ref"]["heldout"][1].get<std::string>() + "\n");
  EXPECT_EQ(GST_BUFFER_PTS(out), 10 * GST_SECOND);
  EXPECT_EQ(GST_BUFFER_OFFSET(out), 500u);
  gst_buffer_unref(out);
  EXPECT_EQ(gst_harness_try_pull(h), nullptr);
  bool eos = false;
  while (GstEvent* e = gst_harness_try_pull_event(h)) {
    eos |= GST_EVENT_TYPE(e) == GST_EVENT_EOS;
    gst_event_unref(e);
  }
  EXPECT_TRUE(eos);
  gst_harness_teardown(h);
}

TEST(BpeMotifElement, AnswersLatencyWithItsWindow) {
  GstHarness* h = make_harness("ref.model", kUnitCaps, kTextCaps, 3 * GST_SECOND);
  gst_harness_set_upstream_latency(h, 10 * GST_MSECOND);
  const GstClockTime min = acoustok::test::harness_min_latency(h);
  ASSERT_TRUE(GST_CLOCK_TIME_IS_VALID(min));
  EXPECT_EQ(min, 10 * GST_MSECOND + 3 * GST_SECOND);
  gst_harness_teardown(h);
}

TEST(BpeMotifElement, BadUnitsAreAnErrorNotACrash) {
  GstHarness* h = make_harness("ref.model", kUnitCaps, kTextCaps);
  const int units[] = {1, 2, 40000};
  EXPECT_EQ(gst_harness_push(h, units_buffer(units, 3, 0, 0)), GST_FLOW_ERROR);
  gst_harness_teardown(h);

  h = make_harness("ref.model", kTextCaps, kTextCaps);
  EXPECT_EQ(gst_harness_push(h, text_buffer("1 2 3\n4 five 6\n")), GST_FLOW_ERROR);
  gst_harness_teardown(h);
}

// The model loads on NULL->READY: a missing or wrong one fails that change
// with an error naming the file, before any buffer.
TEST(BpeMotifElement, ModelErrorsBeforeDataFlows) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "no model"},
      {"/nonexistent/bpe.model", "/nonexistent/bpe.model: cannot open"},
      {fixture("bpe/corpus.txt"), "corpus.txt: not a SentencePiece model"},
      {fixture("bpe/text.model"), "text.model: piece 3"},
  };
  for (const auto& [path, message] : cases) {
    GstElement* e = gst_element_factory_make("bpemotif", nullptr);
    ASSERT_NE(e, nullptr);
    if (!path.empty()) g_object_set(e, "model", path.c_str(), nullptr);
    GstBus* bus = gst_bus_new();
    gst_element_set_bus(e, bus);
    EXPECT_EQ(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE) << path;
    GstMessage* m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    ASSERT_NE(m, nullptr) << path;
    GError* err = nullptr;
    gst_message_parse_error(m, &err, nullptr);
    EXPECT_NE(std::string(err->message).find(message), std::string::npos) << err->message;
    EXPECT_TRUE(g_error_matches(err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND));
    g_error_free(err);
    gst_message_unref(m);
    gst_element_set_state(e, GST_STATE_NULL);
    gst_element_set_bus(e, nullptr);
    gst_object_unref(bus);
    gst_object_unref(e);
  }
}

// The model is read on NULL->READY: a later change would silently not apply.
TEST(BpeMotifElement, ModelIsMutableOnlyInNullOrReady) {
  GstHarness* h = make_harness("ref.model", kUnitCaps, kTextCaps);
  g_object_set(h->element, "model", fixture("bpe/ref_dedup.model").c_str(),
               nullptr);  // ignored, with a warning
  gchar* model = nullptr;
  g_object_get(h->element, "model", &model, nullptr);
  EXPECT_EQ(std::string(model), fixture("bpe/ref.model"));
  g_free(model);
  gst_harness_teardown(h);
}

// Issue 15: a unit at or above the input's vocab-size (99 from a k = 50
// model) passed silently and came out looking like a motif; it is warned
// about, once per stream.
TEST(BpeMotifElement, UnitsBeyondTheInputVocabularyAreWarnedAboutOnce) {
  GstHarness* h =
      make_harness("ref.model", "application/x-acoustok-units, vocab-size=(int)50, frame-rate=(fraction)50/1",
                   "text/x-raw, format=utf8");
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(h->element, bus);
  const int units[] = {3, 99, 4, 120};
  ASSERT_EQ(gst_harness_push(h, units_buffer(units, 4, 0, 0)), GST_FLOW_OK);
  ASSERT_EQ(gst_harness_push(h, units_buffer(units, 4, 4 * kFrame, 4)), GST_FLOW_OK);
  int warnings = 0;
  while (GstMessage* m = gst_bus_pop_filtered(bus, GST_MESSAGE_WARNING)) {
    GError* err = nullptr;
    gst_message_parse_warning(m, &err, nullptr);
    EXPECT_NE(std::string(err->message).find("unit 99 at frame 1 is not below the input's vocab-size 50"),
              std::string::npos)
        << err->message;
    g_error_free(err);
    gst_message_unref(m);
    ++warnings;
  }
  EXPECT_EQ(warnings, 1);
  gst_element_set_bus(h->element, nullptr);
  gst_object_unref(bus);
  gst_harness_teardown(h);
}

// ---- reduced units (kmeansunits dedup=true) ----------------------------------

namespace {

constexpr const char* kReducedCaps =
    "application/x-acoustok-units, vocab-size=(int)100, frame-rate=(fraction)50/1, reduced=(boolean)true";

// A line's runs as reduced entries (unit, frames); every run of more than 2
// frames is cut in two entries, as a run longer than an entry holds is.
std::vector<std::pair<int, int>> reduced_entries(const std::vector<int>& frames) {
  std::vector<std::pair<int, int>> runs;
  for (int u : frames) {
    if (!runs.empty() && runs.back().first == u)
      ++runs.back().second;
    else
      runs.push_back({u, 1});
  }
  std::vector<std::pair<int, int>> out;
  for (const auto& r : runs) {
    if (r.second > 2) {
      out.push_back({r.first, 2});
      out.push_back({r.first, r.second - 2});
    } else {
      out.push_back(r);
    }
  }
  return out;
}

GstBuffer* reduced_buffer(const std::vector<std::pair<int, int>>& entries, size_t from, size_t to,
                          GstClockTime pts, guint64 offset) {
  GstBuffer* b = gst_buffer_new_allocate(nullptr, (to - from) * 4, nullptr);
  GstMapInfo map;
  gst_buffer_map(b, &map, GST_MAP_WRITE);
  guint64 frames = 0;
  for (size_t i = from; i < to; ++i) {
    const guint16 v[2] = {static_cast<guint16>(entries[i].first), static_cast<guint16>(entries[i].second)};
    std::memcpy(map.data + 4 * (i - from), v, 4);
    frames += static_cast<guint64>(entries[i].second);
  }
  gst_buffer_unmap(b, &map);
  GST_BUFFER_PTS(b) = pts;
  GST_BUFFER_DURATION(b) = frames * kFrame;
  GST_BUFFER_OFFSET(b) = offset;
  GST_BUFFER_OFFSET_END(b) = offset + frames;
  return b;
}

// Each held-out line as reduced entries in buffers of 1, 5, 2, 11 entries
// (on one timeline, a second of silence between segments), a segment event
// after each; returns every segment's output buffer.
std::vector<GstBuffer*> push_reduced(GstHarness* h, const std::vector<std::vector<int>>& lines) {
  std::vector<GstBuffer*> out;
  const size_t sizes[] = {1, 5, 2, 11};
  guint64 offset = 0, index = 0;
  for (const auto& line : lines) {
    if (line.empty()) continue;
    const auto entries = reduced_entries(line);
    guint64 at = offset;
    for (size_t from = 0, k = 0; from < entries.size(); ++k) {
      const size_t to = std::min(entries.size(), from + sizes[k % 4]);
      EXPECT_EQ(gst_harness_push(h, reduced_buffer(entries, from, to, at * kFrame, at)), GST_FLOW_OK);
      for (size_t i = from; i < to; ++i) at += static_cast<guint64>(entries[i].second);
      from = to;
    }
    EXPECT_EQ(gst_harness_try_pull(h), nullptr) << "motifs before the segment ended";
    EXPECT_TRUE(gst_harness_push_event(h, segment_event(index++, offset * kFrame, at * kFrame)));
    out.push_back(gst_harness_try_pull(h));
    offset = at + 50;
  }
  return out;
}

}  // namespace

// A --dedup model over reduced units gives what it gives over the frames the
// runs came from (the Python module's motifs and frame counts), with the
// same stamps: runs cut in two entries or across buffers change nothing.
TEST(BpeMotifElement, ReducedUnitsWithADedupModelEqualTheFrameUnits) {
  const json e = expected();
  const auto lines = heldout_lines();
  GstHarness* h = make_harness("ref_dedup.model", kReducedCaps, nullptr);
  const std::vector<GstBuffer*> got = push_reduced(h, lines);
  size_t s = 0;
  guint64 offset = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    ASSERT_LT(s, got.size());
    GstBuffer* out = got[s++];
    ASSERT_NE(out, nullptr) << "line " << i + 1;
    EXPECT_EQ(GST_BUFFER_PTS(out), offset * kFrame) << "line " << i + 1;
    EXPECT_EQ(GST_BUFFER_DURATION(out), lines[i].size() * kFrame);
    EXPECT_EQ(GST_BUFFER_OFFSET(out), offset);
    EXPECT_EQ(GST_BUFFER_OFFSET_END(out), offset + lines[i].size());
    const auto motifs = buffer_motifs(out);
    const json& want = e["ref_dedup"]["heldout_motifs"][i];
    ASSERT_EQ(motifs.size(), want.size()) << "line " << i + 1;
    for (size_t k = 0; k < motifs.size(); ++k) {
      EXPECT_EQ(motifs[k].first, want[k][0].get<gint32>()) << "line " << i + 1 << " motif " << k;
      EXPECT_EQ(motifs[k].second, want[k][2].get<guint32>()) << "line " << i + 1 << " motif " << k;
    }
    gst_buffer_unref(out);
    offset += lines[i].size() + 50;
  }
  EXPECT_EQ(s, got.size());
  gst_harness_teardown(h);
}

// A model trained without --dedup sees the reduced ids as they are: its
// motifs are those of the reduced line as text, each counting the frames of
// the runs it covers.
TEST(BpeMotifElement, ReducedUnitsWithAPlainModelAreMotifsOfTheReducedIds) {
  std::vector<std::vector<int>> short_runs;
  for (const auto& line : heldout_lines())
    if (!line.empty()) short_runs.push_back(line);
  GstHarness* h = make_harness("ref.model", kReducedCaps, nullptr);
  const std::vector<GstBuffer*> got = push_reduced(h, short_runs);
  gst_harness_teardown(h);
  ASSERT_EQ(got.size(), short_runs.size());
  for (size_t i = 0; i < short_runs.size(); ++i) {
    const auto entries = reduced_entries(short_runs[i]);
    std::string ids;
    for (const auto& en : entries) ids += (ids.empty() ? "" : " ") + std::to_string(en.first);
    // The reference: the reduced ids as one text line, one frame per id.
    GstHarness* t = make_harness("ref.model", kTextCaps, nullptr);
    ASSERT_EQ(gst_harness_push(t, text_buffer(ids + "\n")), GST_FLOW_OK);
    GstBuffer* ref = gst_harness_try_pull(t);
    ASSERT_NE(ref, nullptr);
    const auto want = buffer_motifs(ref);
    gst_buffer_unref(ref);
    gst_harness_teardown(t);
    ASSERT_NE(got[i], nullptr);
    const auto motifs = buffer_motifs(got[i]);
    gst_buffer_unref(got[i]);
    ASSERT_EQ(motifs.size(), want.size()) << "line " << i;
    size_t unit = 0;
    for (size_t k = 0; k < motifs.size(); ++k) {
      EXPECT_EQ(motifs[k].first, want[k].first) << "line " << i << " motif " << k;
      guint32 frames = 0;
      for (guint32 j = 0; j < want[k].second; ++j) frames += static_cast<guint32>(entries[unit++].second);
      EXPECT_EQ(motifs[k].second, frames) << "line " << i << " motif " << k;
    }
  }
}
