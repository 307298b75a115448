// SPDX-License-Identifier: MIT
// xlsrfeat changes nothing process-wide unless a property asks: with its
// defaults, loading and running the model leaves LibTorch's thread count as
// the application set it and never calls glibc's mallopt; threads=N sets the
// count (process-wide by nature), still without touching the allocator.
#include <ATen/Parallel.h>
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "acoustok/audio_io.hpp"
#include "acoustok/process.hpp"
#include "mallopt_spy.hpp"
#include "test_util.hpp"

using acoustok::test::fixture;
using acoustok::test::mallopt_calls;

namespace {

constexpr const char* kAudioCaps = "audio/x-raw, format=F32LE, rate=16000, channels=1, layout=interleaved";

// A count no setting of ours picks (they stay within the usable CPUs).
int sentinel_threads() { return acoustok::available_cpus() + 1; }

// Loads the model with `props`, runs one second of speech through it and
// returns the frames that came out.
int64_t run_element(const std::string& props) {
  GstHarness* h =
      gst_harness_new_parse(("xlsrfeat model=" + fixture("xlsr/xlsr_st") + " layer=2 " + props).c_str());
  gst_harness_set_src_caps_str(h, kAudioCaps);
  const std::vector<float> speech = acoustok::read_audio_16k_mono(fixture("xlsr/speech_pt.wav"));
  const size_t n = std::min<size_t>(speech.size(), 16000);
  GstBuffer* b = gst_buffer_new_allocate(nullptr, n * sizeof(float), nullptr);
  gst_buffer_fill(b, 0, speech.data(), n * sizeof(float));
  GST_BUFFER_PTS(b) = 0;
  EXPECT_EQ(gst_harness_push(h, b), GST_FLOW_OK);
  gst_harness_push_event(h, gst_event_new_eos());
  int64_t bytes = 0;
  while (GstBuffer* out = gst_harness_try_pull(h)) {
    bytes += static_cast<int64_t>(gst_buffer_get_size(out));
    gst_buffer_unref(out);
  }
  gst_harness_teardown(h);
  return bytes / static_cast<int64_t>(sizeof(float));
}

}  // namespace

TEST(XlsrFeatProcess, DefaultsLeaveThreadsAndAllocatorAlone) {
  at::set_num_threads(sentinel_threads());
  mallopt_calls = 0;
  EXPECT_GT(run_element(""), 0);
  EXPECT_EQ(at::get_num_threads(), sentinel_threads())
      << "xlsrfeat with threads=0 changed LibTorch's thread count";
  EXPECT_EQ(mallopt_calls, 0) << "xlsrfeat tuned glibc's allocator without being asked";
}

TEST(XlsrFeatProcess, ThreadsPropertySetsTheProcessCount) {
  at::set_num_threads(sentinel_threads());
  mallopt_calls = 0;
  EXPECT_GT(run_element("threads=1"), 0);
  EXPECT_EQ(at::get_num_threads(), 1);
  EXPECT_EQ(mallopt_calls, 0) << "threads= asks for threads, not for allocator settings";
}

// The spy sees what configure_process does.
TEST(XlsrFeatProcess, ConfigureProcessIsWhereTheAllocatorIsTuned) {
  acoustok::test::expect_spy_sees_configure_process();
}
