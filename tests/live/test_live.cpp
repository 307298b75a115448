// SPDX-License-Identifier: MIT
// Live: appsrc (is-live, fed in real time from speech) ! silencesplit
// low-latency ! streaming xlsrfeat ! kmeansunits ! unitvocoder with a short
// lookahead ! synced sink, with the demo models: the README's live chain.
// Also the soak: ACOUSTOK_LIVE_SECONDS (default 120, the CI slice; `tests/bench/soak_live.sh`
// runs 1800) of audio, with resident memory flat within 5 % from a third of
// the run to its end. Requires that no buffer is dropped as late, that every
// element answers LATENCY, and prints the end-to-end latency.
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "acoustok/audio_io.hpp"
#include "acoustok/features.hpp"
#include "acoustok/silence.hpp"
#include "acoustok/vocoder_config.hpp"
#include "vocoder/torch/checkpoint.hpp"
#include "vocoder/torch/hifigan.hpp"
#include "demo_models.hpp"
#include "test_util.hpp"

using namespace acoustok;

namespace {

// ACOUSTOK_LIVE_EXTRA="identity sleep-time=2000000" (2 s per 0.5 s output buffer)
// shows the test failing when the chain cannot keep up.
std::string extra_element() {
  const char* e = std::getenv("ACOUSTOK_LIVE_EXTRA");
  return e && *e ? std::string(e) + " ! " : std::string();
}

}  // namespace

TEST(Live, SpeechToUnitsAndBackInRealTimeWithoutLateBuffers) {
  const test::DemoModels& m = test::demo_models();
  // The fixture looped.
  const char* seconds_env = std::getenv("ACOUSTOK_LIVE_SECONDS");
  const size_t seconds = seconds_env ? static_cast<size_t>(std::atol(seconds_env)) : 120;
  const auto speech = read_audio_16k_mono(test::fixture("silence/speech_pauses.wav"));
  std::vector<float> audio;
  while (audio.size() < seconds * 16000u) audio.insert(audio.end(), speech.begin(), speech.end());
  audio.resize(seconds * 16000u);

  const std::string launch =
      "appsrc name=src is-live=true format=time do-timestamp=false "
      "caps=audio/x-raw,format=F32LE,rate=16000,channels=1,layout=interleaved ! "
      "silencesplit low-latency=true max-segment-time=10000000000 ! xlsrfeat model=" +
      m.feature_model +
      " layer=3 chunk-time=320000000 lookahead-time=160000000 context-time=2000000000 ! kmeansunits model=" +
      m.kmeans + " ! unitvocoder model=" + m.vocoder + " chunk-frames=25 lookahead-frames=1 ! " +
      extra_element() +
      "fakesink name=sink sync=true qos=true max-lateness=" + std::to_string(20 * GST_MSECOND);
  GError* err = nullptr;
  GstElement* pipeline = gst_parse_launch(launch.c_str(), &err);
  ASSERT_TRUE(pipeline) << (err ? err->message : "");
  GstElement* src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
  GstBus* bus = gst_element_get_bus(pipeline);
  ASSERT_NE(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);

  // Feed 20 ms buffers at the pace of the clock.
  std::atomic<bool> stop{false};
  std::atomic<long> rss_third{0}, rss_end{0};
  std::thread feeder([&] {
    const size_t chunk = 320;
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t pos = 0; pos < audio.size() && !stop; pos += chunk) {
      std::this_thread::sleep_until(t0 + std::chrono::microseconds(pos * 1000000 / 16000));
      GstBuffer* b = gst_buffer_new_allocate(nullptr, chunk * sizeof(float), nullptr);
      gst_buffer_fill(b, 0, audio.data() + pos, chunk * sizeof(float));
      GstClock* clock = gst_element_get_clock(pipeline);
      const GstClockTime now = clock ? gst_clock_get_time(clock) - gst_element_get_base_time(pipeline) : 0;
      if (clock) gst_object_unref(clock);
      GST_BUFFER_PTS(b) = now;
      GST_BUFFER_DURATION(b) = 20 * GST_MSECOND;
      if (gst_app_src_push_buffer(GST_APP_SRC(src), b) != GST_FLOW_OK) break;
      if (pos / chunk == audio.size() / chunk / 3) rss_third = test::rss_kb();
    }
    rss_end = test::rss_kb();
    gst_app_src_end_of_stream(GST_APP_SRC(src));
  });

  guint64 dropped = 0, qos_messages = 0;
  bool eos = false, error = false;
  GstClockTime latency = GST_CLOCK_TIME_NONE;
  while (!eos && !error) {
    GstMessage* msg = gst_bus_timed_pop(bus, 60 * GST_SECOND);
    if (!msg) break;
    switch (GST_MESSAGE_TYPE(msg)) {
      case GST_MESSAGE_QOS: {
        guint64 processed = 0, qos_dropped = 0;
        GstFormat fmt;
        gst_message_parse_qos_stats(msg, &fmt, &processed, &qos_dropped);
        dropped = std::max(dropped, qos_dropped);
        ++qos_messages;
        break;
      }
      case GST_MESSAGE_LATENCY: {
        gst_bin_recalculate_latency(GST_BIN(pipeline));
        GstQuery* q = gst_query_new_latency();
        if (gst_element_query(pipeline, q)) gst_query_parse_latency(q, nullptr, &latency, nullptr);
        gst_query_unref(q);
        break;
      }
      case GST_MESSAGE_ERROR: {
        GError* e = nullptr;
        gst_message_parse_error(msg, &e, nullptr);
        ADD_FAILURE() << e->message;
        g_error_free(e);
        error = true;
        break;
      }
      case GST_MESSAGE_EOS:
        eos = true;
        break;
      default:
        break;
    }
    gst_message_unref(msg);
  }
  stop = true;
  feeder.join();
  EXPECT_TRUE(eos);
  EXPECT_EQ(dropped, 0u) << "buffers dropped as late at the synced sink";
  ASSERT_TRUE(GST_CLOCK_TIME_IS_VALID(latency));
  std::printf(
      "[ live ] end-to-end latency of the pipeline: %.3f s; %llu QoS messages, %llu buffers dropped\n",
      static_cast<double>(latency) / GST_SECOND, static_cast<unsigned long long>(qos_messages),
      static_cast<unsigned long long>(dropped));
  std::printf("[ live ] %zu s of audio; RSS %ld kB at a third, %ld kB at the end (%+.1f %%)\n", seconds,
              rss_third.load(), rss_end.load(),
              100.0 * (rss_end - rss_third) / std::max(1L, rss_third.load()));
  if (!test::kUnderAddressSanitizer) {
    EXPECT_LE(rss_end.load(), rss_third.load() + rss_third.load() / 20)
        << "resident memory grew by more than 5 %";
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(src);
  gst_object_unref(pipeline);
}

namespace {

std::vector<acoustok::Segment> expected_segments() {
  return split_on_silence(read_audio_16k_mono(test::fixture("silence/speech_pauses.wav")), SilenceOptions{});
}

}  // namespace

TEST(Examples, EmbedProgramPrintsOneLinePerSegmentWithItsUnits) {
  const test::DemoModels& m = test::demo_models();
  const char* bin = std::getenv("ACOUSTOK_EMBED_BIN");
  ASSERT_TRUE(bin) << "ACOUSTOK_EMBED_BIN not set";
  std::string out;
  ASSERT_EQ(test::run_command(std::string(bin) + " " + test::fixture("silence/speech_pauses.wav") + " " +
                                  m.feature_model + " " + m.kmeans + " 3",
                              &out),
            0)
      << out;
  const auto segs = expected_segments();
  size_t lines = 0, pos = 0;
  while ((pos = out.find("segment ", pos)) != std::string::npos) {
    // "segment I  A-B s  N units: ..." with N = the segment's feature frames
    const size_t eol = out.find('\n', pos);
    const std::string line = out.substr(pos, eol - pos);
    ASSERT_LT(lines, segs.size()) << line;
    const int64_t frames = feature_frames(segs[lines].end - segs[lines].start);
    EXPECT_NE(line.find(" " + std::to_string(frames) + " units:"), std::string::npos) << line;
    ++lines;
    pos = eol;
  }
  EXPECT_EQ(lines, segs.size()) << out;
}

TEST(Examples, UnitsTravelOverTcpAndAreSynthesisedOnTheFarSide) {
  const test::DemoModels& m = test::demo_models();
  const std::string dir = test::make_temp_dir("tcp");
  const std::string script = test::fixtures_dir() + "/../../examples/units_over_tcp.sh";
  std::string out;
  ASSERT_EQ(
      test::run_command("timeout 120 bash " + script + " " + test::fixture("silence/speech_pauses.wav") +
                            " " + m.feature_model + " 3 " + m.kmeans + " " + m.vocoder + " " + dir +
                            "/far.wav 127.0.0.1 " + std::to_string(20000 + (::getpid() % 20000)),
                        &out),
      0)
      << out;
  // The far side spoke every unit of every segment: 320 samples each.
  int64_t units = 0;
  for (const auto& s : expected_segments()) units += feature_frames(s.end - s.start);
  const auto info = probe_audio(dir + "/far.wav");
  EXPECT_EQ(info.sample_rate, 16000);
  EXPECT_EQ(info.frames, units * 320);
}

// Issue contract: units from `silencesplit ! xlsrfeat ! kmeansunits` on a file
// agree with `acoustok units` on that file's segments (same k-means model).
// The command line reads PCM16 segment files and caches features as float16,
// so a few frames may move; the agreement is printed and must stay high.
TEST(Examples, PipelineUnitsAgreeWithTheCommandLine) {
  const test::DemoModels& m = test::demo_models();
  const std::string dir = test::make_temp_dir("agree");
  const std::string wav = test::fixture("silence/speech_pauses.wav");
  std::string log;
  ASSERT_EQ(test::run_command(test::acoustok_bin() + " segment -q " + wav + " -o " + dir + "/seg", &log), 0)
      << log;
  ASSERT_EQ(test::run_command(test::acoustok_bin() + " units --model " + m.feature_model +
                                  " --layer 3 --k 16 " + dir + "/seg -o " + dir + "/units",
                              &log),
            0)
      << log;
  ASSERT_EQ(
      test::run_command("gst-launch-1.0 -q filesrc location=" + wav +
                            " ! wavparse ! audioconvert ! silencesplit ! xlsrfeat model=" + m.feature_model +
                            " layer=3 ! kmeansunits model=" + dir +
                            "/units/kmeans.safetensors ! text/x-raw,format=utf8 ! filesink location=" + dir +
                            "/gst_units.txt",
                        &log),
      0)
      << log;
  const std::string cli = test::read_file(dir + "/units/all_units_for_bpe.txt");
  const std::string gst = test::read_file(dir + "/gst_units.txt");
  std::istringstream a(cli), b(gst);
  std::string la, lb;
  size_t lines = 0, frames = 0, equal = 0;
  while (std::getline(a, la) && std::getline(b, lb)) {
    std::istringstream ua(la), ub(lb);
    std::vector<int> va, vb;
    for (int u; ua >> u;) va.push_back(u);
    for (int u; ub >> u;) vb.push_back(u);
    EXPECT_EQ(va.size(), vb.size()) << "segment " << lines;
    for (size_t i = 0; i < std::min(va.size(), vb.size()); ++i) equal += va[i] == vb[i];
    frames += va.size();
    ++lines;
  }
  EXPECT_EQ(lines, expected_segments().size());
  ASSERT_GT(frames, 0u);
  const double agreement = static_cast<double>(equal) / static_cast<double>(frames);
  std::printf("[ agree ] pipeline vs acoustok units: %zu of %zu frames (%.1f %%)\n", equal, frames,
              100 * agreement);
  EXPECT_GE(agreement, 0.95);
}
