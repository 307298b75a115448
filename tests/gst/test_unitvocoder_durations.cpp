// SPDX-License-Identifier: MIT
// unitvocoder with a released fairseq CodeHiFiGAN that predicts durations
// and has a speaker table (written by tests/vocoder/codehifigan_reference.py
// with random weights): reduced binary units streamed in small buffers and
// text lines equal `acoustok synth --dur-prediction` and the PyTorch
// reference's audio within 1e-4; with dur-prediction=off reduced units keep
// their run lengths; LATENCY; the speaker and dur-prediction refusals.
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "acoustok/audio_io.hpp"
#include "acoustok/vocoder_config.hpp"
#include "gst_breaks.hpp"
#include "gst_pull.hpp"
#include "test_util.hpp"

using namespace acoustok;

using test::max_diff;
using test::pull_all;
using test::Pulled;

namespace {

constexpr int kSpeaker = 1;
const char* kReducedCaps =
    "application/x-acoustok-units, vocab-size=(int)100, frame-rate=(fraction)50/1, reduced=(boolean)true";

std::string reference_script() { return test::fixtures_dir() + "/../vocoder/codehifigan_reference.py"; }

void run_ok(const std::string& command) {
  std::string out;
  ASSERT_EQ(test::run_command(command + " 2>&1", &out), 0) << command << "\n" << out;
}

// The models, written once: one with a duration predictor and 3 speakers,
// one with neither.
struct Models {
  std::string dir, dp, plain;
};
const Models& models() {
  static Models m;
  if (m.dir.empty()) {
    m.dir = test::make_temp_dir("unitvocoder_durations");
    m.dp = m.dir + "/dp";
    m.plain = m.dir + "/plain";
    run_ok("/usr/bin/python3 " + reference_script() + " write --out-dir " + m.dp +
           " --dur-predictor --num-speakers 3 --seed 3");
    run_ok("/usr/bin/python3 " + reference_script() + " write --out-dir " + m.plain + " --seed 4");
  }
  return m;
}

// Reduced units (no two equal neighbours) and the run lengths they carry.
std::vector<int32_t> reduced_units(size_t n, int seed) {
  std::vector<int32_t> u(n);
  for (size_t i = 0; i < n; ++i)
    u[i] = static_cast<int32_t>((i * 31 + static_cast<size_t>(seed) * 17 + i * i) % 100);
  for (size_t i = 1; i < n; ++i)
    if (u[i] == u[i - 1]) u[i] = (u[i] + 1) % 100;
  return u;
}
std::vector<int32_t> runs_of(size_t n) {
  std::vector<int32_t> r(n);
  for (size_t i = 0; i < n; ++i) r[i] = static_cast<int32_t>(1 + (i * 5) % 4);
  return r;
}

std::string line_of(const std::vector<int32_t>& u) {
  std::string s;
  for (size_t i = 0; i < u.size(); ++i) s += (i ? " " : "") + std::to_string(u[i]);
  return s;
}

std::string write_lines(const std::string& name, const std::vector<std::vector<int32_t>>& lines) {
  const std::string path = models().dir + "/" + name;
  std::ofstream out(path);
  for (const auto& l : lines) out << line_of(l) << "\n";
  return path;
}

// `acoustok synth` of the lines joined, and the PyTorch reference's.
std::vector<float> synth_cli(const std::string& units, const std::string& flags) {
  const std::string wav = units + ".cli" + std::to_string(std::hash<std::string>()(flags)) + ".wav";
  run_ok(test::acoustok_bin() + " synth --checkpoint " + models().dp + "/g_00000000 " + units +
         " --concat -o " + wav + " --threads 1 " + flags);
  return read_audio_16k_mono(wav);
}
std::vector<float> synth_reference(const std::string& units, std::vector<int32_t>* durations) {
  const std::string wav = units + ".ref.wav";
  run_ok("/usr/bin/python3 " + reference_script() + " synth --out-dir " + models().dp + " --units " + units +
         " --dur-prediction --speaker " + std::to_string(kSpeaker) + " --out-wav " + wav);
  std::istringstream in(test::read_file(wav + ".durations.txt"));
  for (int32_t d; in >> d;) durations->push_back(d);
  return read_audio_16k_mono(wav);
}

GstHarness* make_harness(const std::string& model, const char* caps, const char* dur_prediction,
                         int chunk = 5) {
  GstElement* e = gst_element_factory_make("unitvocoder", nullptr);
  g_object_set(e, "model", (model + "/g_00000000").c_str(), "chunk-frames", chunk, "speaker", kSpeaker,
               nullptr);
  gst_util_set_object_arg(G_OBJECT(e), "dur-prediction", dur_prediction);
  GstHarness* h = gst_harness_new_with_element(e, "sink", "src");
  gst_object_unref(e);
  gst_harness_set_src_caps_str(h, caps);
  return h;
}

// Per run a uint16 unit and a uint16 length; PTS at the first run's start.
GstBuffer* reduced_buffer(const int32_t* u, const int32_t* runs, size_t n, GstClockTime pts) {
  GstBuffer* b = gst_buffer_new_allocate(nullptr, n * 4, nullptr);
  GstMapInfo map;
  gst_buffer_map(b, &map, GST_MAP_WRITE);
  guint64 frames = 0;
  for (size_t i = 0; i < n; ++i) {
    const guint16 v[2] = {static_cast<guint16>(u[i]), static_cast<guint16>(runs[i])};
    std::memcpy(map.data + 4 * i, v, 4);
    frames += static_cast<guint64>(runs[i]);
  }
  gst_buffer_unmap(b, &map);
  GST_BUFFER_PTS(b) = pts;
  GST_BUFFER_DURATION(b) = frames * 20 * GST_MSECOND;
  return b;
}

// Streams the runs in buffers of `per_buffer` runs, stamped contiguously
// from `base` by their run lengths, then EOS.
Pulled stream_reduced(GstHarness* h, const std::vector<int32_t>& u, const std::vector<int32_t>& runs,
                      size_t per_buffer, GstClockTime base, size_t* out_before_eos) {
  GstClockTime pts = base;
  *out_before_eos = 0;
  for (size_t i = 0; i < u.size(); i += per_buffer) {
    const size_t n = std::min(per_buffer, u.size() - i);
    GstBuffer* b = reduced_buffer(u.data() + i, runs.data() + i, n, pts);
    pts += GST_BUFFER_DURATION(b);
    EXPECT_EQ(gst_harness_push(h, b), GST_FLOW_OK);
    *out_before_eos += gst_harness_buffers_in_queue(h);
  }
  gst_harness_push_event(h, gst_event_new_eos());
  return pull_all(h);
}

std::string ready_error(const std::string& model, int speaker, const char* dur_prediction) {
  GstElement* e = gst_element_factory_make("unitvocoder", nullptr);
  g_object_set(e, "model", (model + "/g_00000000").c_str(), "speaker", speaker, nullptr);
  gst_util_set_object_arg(G_OBJECT(e), "dur-prediction", dur_prediction);
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(e, bus);
  std::string message = "(state change succeeded)";
  if (gst_element_set_state(e, GST_STATE_READY) == GST_STATE_CHANGE_FAILURE) {
    message = "(no error message)";
    if (GstMessage* m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR)) {
      GError* err = nullptr;
      gchar* debug = nullptr;
      gst_message_parse_error(m, &err, &debug);
      message = err->message;
      g_error_free(err);
      g_free(debug);
      gst_message_unref(m);
    }
  }
  gst_element_set_state(e, GST_STATE_NULL);
  gst_element_set_bus(e, nullptr);
  gst_object_unref(bus);
  gst_object_unref(e);
  return message;
}

}  // namespace

// Reduced runs in buffers of 3, chunks of 5 frames: the durations are
// predicted as the runs arrive, yet the stream equals the whole line's
// synthesis by acoustok synth and by the reference; the output timeline
// starts at the first run and follows the predicted frames.
TEST(UnitVocoderDurations, ReducedStreamEqualsSynthAndTheReference) {
  const auto u = reduced_units(61, 1);
  const auto runs = runs_of(u.size());
  const std::string file = write_lines("stream.txt", {u});
  std::vector<int32_t> durations;
  const auto reference = synth_reference(file, &durations);
  ASSERT_EQ(durations.size(), u.size());
  int64_t frames = 0;
  for (int32_t d : durations) frames += d;
  const auto cli = synth_cli(file, "--dur-prediction --speaker " + std::to_string(kSpeaker));
  ASSERT_EQ(cli.size(), static_cast<size_t>(frames) * 320);
  ASSERT_LT(max_diff(cli, reference), 1e-4f);

  GstHarness* h = make_harness(models().dp, kReducedCaps, "on");
  const GstClockTime base = 2 * GST_SECOND;
  size_t before_eos = 0;
  const Pulled p = stream_reduced(h, u, runs, 3, base, &before_eos);
  EXPECT_GT(before_eos, 0u) << "nothing came out before EOS: not streaming";
  ASSERT_EQ(p.audio.size(), static_cast<size_t>(frames) * 320);
  EXPECT_LT(max_diff(p.audio, cli), 1e-4f);
  EXPECT_LT(max_diff(p.audio, reference), 1e-4f);
  GstClockTime expect = base;
  for (size_t b = 0; b < p.pts.size(); ++b) {
    EXPECT_EQ(p.pts[b], expect) << b;
    expect += p.duration[b];
  }
  EXPECT_EQ(expect, base + static_cast<GstClockTime>(frames) * 20 * GST_MSECOND);
  gst_harness_teardown(h);
}

// auto: a reduced caps stream predicts; off: each unit lasts its run, as
// acoustok synth speaks the expanded line, on the input's own timeline.
TEST(UnitVocoderDurations, AutoPredictsAndOffKeepsTheRunLengths) {
  const auto u = reduced_units(30, 2);
  const auto runs = runs_of(u.size());
  std::vector<int32_t> expanded;
  for (size_t i = 0; i < u.size(); ++i) expanded.insert(expanded.end(), static_cast<size_t>(runs[i]), u[i]);
  const std::string file = write_lines("auto.txt", {u});
  const std::string expanded_file = write_lines("expanded.txt", {expanded});
  const auto predicted = synth_cli(file, "--dur-prediction --speaker 1");
  const auto kept = synth_cli(expanded_file, "--no-dur-prediction --speaker 1");
  ASSERT_EQ(kept.size(), expanded.size() * 320);

  size_t before_eos = 0;
  GstHarness* h = make_harness(models().dp, kReducedCaps, "auto");
  const Pulled a = stream_reduced(h, u, runs, 4, 0, &before_eos);
  ASSERT_EQ(a.audio.size(), predicted.size());
  EXPECT_LT(max_diff(a.audio, predicted), 1e-4f);
  gst_harness_teardown(h);

  h = make_harness(models().dp, kReducedCaps, "off");
  const Pulled off = stream_reduced(h, u, runs, 4, GST_SECOND, &before_eos);
  ASSERT_EQ(off.audio.size(), kept.size());
  EXPECT_LT(max_diff(off.audio, kept), 1e-4f);
  EXPECT_EQ(off.pts.front(), GST_SECOND);
  gst_harness_teardown(h);
}

// One buffer whose runs stand for 3,450 frames (69 s): synthesised in
// bounded slices (the element's are one minute: here 3,100 frames, then 350),
// yet the same audio as the expanded line, on one unbroken timeline.
TEST(UnitVocoderDurations, LongRunsInOneBufferEqualTheExpandedLine) {
  const std::vector<int32_t> u{7, 3, 7, 12};
  const std::vector<int32_t> runs{2000, 1100, 200, 150};
  std::vector<int32_t> expanded;
  for (size_t i = 0; i < u.size(); ++i) expanded.insert(expanded.end(), static_cast<size_t>(runs[i]), u[i]);
  const auto kept = synth_cli(write_lines("long_runs.txt", {expanded}), "--no-dur-prediction --speaker 1");
  size_t before_eos = 0;
  GstHarness* h = make_harness(models().dp, kReducedCaps, "off");
  const Pulled off = stream_reduced(h, u, runs, u.size(), 0, &before_eos);
  ASSERT_EQ(off.audio.size(), kept.size());
  EXPECT_LT(max_diff(off.audio, kept), 1e-4f);
  GstClockTime next = 0;
  for (size_t i = 0; i < off.pts.size(); ++i) {
    EXPECT_EQ(off.pts[i], next) << "buffer " << i;
    next = off.pts[i] + off.duration[i];
  }
  EXPECT_EQ(next, expanded.size() * 20 * GST_MSECOND);
  gst_harness_teardown(h);
}

// Text lines (reduced) with dur-prediction=auto: each line predicted whole,
// as acoustok synth and the reference do.
TEST(UnitVocoderDurations, TextLinesPredictAsSynthDoes) {
  const std::string file = write_lines("text.txt", {reduced_units(25, 3), reduced_units(12, 4)});
  std::vector<int32_t> durations;
  const auto reference = synth_reference(file, &durations);
  const auto cli = synth_cli(file, "--speaker 1");  // auto: reduced lines are predicted
  ASSERT_EQ(cli.size(), reference.size());
  ASSERT_LT(max_diff(cli, reference), 1e-4f);
  GstHarness* h = make_harness(models().dp, "text/x-raw, format=(string)utf8", "auto");
  const std::string text = test::read_file(file);
  gst_harness_push(h, gst_buffer_new_wrapped(g_strdup(text.c_str()), text.size()));
  const Pulled p = pull_all(h);
  ASSERT_EQ(p.audio.size(), reference.size());
  EXPECT_LT(max_diff(p.audio, reference), 1e-4f);
  gst_harness_teardown(h);
}

// Predicting adds the predictor's context to the latency and has no upper
// bound; off reports what it did before.
TEST(UnitVocoderDurations, LatencyCountsThePredictorsContext) {
  VocoderConfig c = VocoderConfig::preset("tiny");
  const int field = c.receptive_field_frames();
  c.dur_predictor_hidden = 32;
  c.dur_predictor_kernel = 3;  // the reference's
  for (const char* mode : {"on", "off"}) {
    SCOPED_TRACE(mode);
    GstHarness* h = make_harness(models().dp, kReducedCaps, mode, 10);
    gst_harness_set_upstream_latency(h, 0);
    GstQuery* q = gst_query_new_latency();
    ASSERT_TRUE(gst_pad_peer_query(h->sinkpad, q));
    GstClockTime min = 0, max = 0;
    gst_query_parse_latency(q, nullptr, &min, &max);
    gst_query_unref(q);
    const bool on = std::string(mode) == "on";
    EXPECT_EQ(min, static_cast<GstClockTime>(10 + field - 1 + (on ? c.duration_context_units() : 0)) * 20 *
                       GST_MSECOND);
    if (on) {
      EXPECT_FALSE(GST_CLOCK_TIME_IS_VALID(max));
    }
    gst_harness_teardown(h);
  }
}

TEST(UnitVocoderDurations, SpeakerAndPredictorRefusalsNameTheModelAndProperty) {
  const std::string missing = ready_error(models().dp, -1, "auto");
  EXPECT_NE(missing.find("'speaker'"), std::string::npos) << missing;
  EXPECT_NE(missing.find("g_00000000"), std::string::npos) << missing;
  const std::string outside = ready_error(models().dp, 3, "auto");
  EXPECT_NE(outside.find("'speaker'"), std::string::npos) << outside;
  EXPECT_NE(outside.find("0..2"), std::string::npos) << outside;
  const std::string no_table = ready_error(models().plain, 0, "auto");
  EXPECT_NE(no_table.find("'speaker'"), std::string::npos) << no_table;
  const std::string no_predictor = ready_error(models().plain, -1, "on");
  EXPECT_NE(no_predictor.find("'dur-prediction'"), std::string::npos) << no_predictor;
  EXPECT_NE(no_predictor.find("plain/g_00000000"), std::string::npos) << no_predictor;
  EXPECT_EQ(ready_error(models().dp, 2, "on"), "(state change succeeded)");
}
