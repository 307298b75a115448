// SPDX-License-Identifier: MIT
// The breaks in a timeline that every element's tests push (issue 26): a PTS
// jump, a DISCONT buffer with contiguous PTS, a GAP event. Each element must
// end its segment, window or utterance there and keep both sides' times.
#pragma once

#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace acoustok::test {

// The minimum latency a LATENCY query at the harness's sink pad answers
// (upstream's, as set with gst_harness_set_upstream_latency, plus the
// element's); GST_CLOCK_TIME_NONE when the query fails.
inline GstClockTime harness_min_latency(GstHarness* h) {
  GstQuery* q = gst_query_new_latency();
  GstClockTime min = GST_CLOCK_TIME_NONE;
  if (gst_pad_peer_query(h->sinkpad, q)) gst_query_parse_latency(q, nullptr, &min, nullptr);
  gst_query_unref(q);
  return min;
}

enum class Break { pts_jump, discont_flag, gap_event };

struct BreakCase {
  const char* name;
  Break kind;
  GstClockTime shift;  // how much later than contiguous the data after the break is stamped
};

inline constexpr BreakCase kStandardBreaks[] = {
    {"PTS +10 s", Break::pts_jump, 10 * GST_SECOND},
    {"DISCONT, contiguous PTS", Break::discont_flag, 0},
    {"GAP event of 10 s", Break::gap_event, 10 * GST_SECOND},
};

// 16 kHz F32 audio x[0, mid) stamped from 0, the break, then x[mid, end)
// stamped `shift` later than contiguous; buffers of 1600 samples, each with
// its duration (mid is a multiple of 1600).
inline void push_audio_with_break(GstHarness* h, const std::vector<float>& x, size_t mid,
                                  const BreakCase& c) {
  for (size_t pos = 0; pos < x.size(); pos += 1600) {
    const size_t n = std::min<size_t>(1600, x.size() - pos);
    const GstClockTime contiguous = gst_util_uint64_scale_int(pos, GST_SECOND, 16000);
    if (pos == mid && c.kind == Break::gap_event) {
      ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_gap(contiguous, c.shift)));
    }
    GstBuffer* b = gst_buffer_new_allocate(nullptr, n * sizeof(float), nullptr);
    gst_buffer_fill(b, 0, x.data() + pos, n * sizeof(float));
    GST_BUFFER_PTS(b) = contiguous + (pos >= mid ? c.shift : 0);
    GST_BUFFER_DURATION(b) = gst_util_uint64_scale_int(n, GST_SECOND, 16000);
    if (pos == mid && c.kind == Break::discont_flag) GST_BUFFER_FLAG_SET(b, GST_BUFFER_FLAG_DISCONT);
    ASSERT_EQ(gst_harness_push(h, b), GST_FLOW_OK);
  }
}

}  // namespace acoustok::test
