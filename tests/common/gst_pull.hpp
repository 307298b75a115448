// SPDX-License-Identifier: MIT
// What an audio element's harness pushed out: every float sample and each
// buffer's timestamps, offsets and DISCONT flag (the unitvocoder suites).
#pragma once

#include <gst/check/gstharness.h>
#include <gst/gst.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace acoustok::test {

struct Pulled {
  std::vector<float> audio;
  std::vector<GstClockTime> pts, duration;
  std::vector<size_t> samples;
  std::vector<guint64> offset, offset_end;
  std::vector<bool> discont;
};

// Pulls every buffer the harness holds (F32 audio).
inline Pulled pull_all(GstHarness* h) {
  Pulled p;
  while (GstBuffer* b = gst_harness_try_pull(h)) {
    GstMapInfo map;
    gst_buffer_map(b, &map, GST_MAP_READ);
    const auto* f = reinterpret_cast<const float*>(map.data);
    p.audio.insert(p.audio.end(), f, f + map.size / 4);
    p.samples.push_back(map.size / 4);
    p.pts.push_back(GST_BUFFER_PTS(b));
    p.duration.push_back(GST_BUFFER_DURATION(b));
    p.offset.push_back(GST_BUFFER_OFFSET(b));
    p.offset_end.push_back(GST_BUFFER_OFFSET_END(b));
    p.discont.push_back(GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DISCONT) != 0);
    gst_buffer_unmap(b, &map);
    gst_buffer_unref(b);
  }
  return p;
}

// max |a - b| over the common length.
inline float max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

}  // namespace acoustok::test
