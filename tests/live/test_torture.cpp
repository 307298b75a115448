// SPDX-License-Identifier: MIT
// Elements for hours (issue 14): the whole chain appsrc ! silencesplit !
// xlsrfeat ! kmeansunits ! unitvocoder ! fakesink driven through NULL <->
// PLAYING 600 times (ACOUSTOK_TORTURE_CYCLES) with data flowing, flushing
// seeks and EOS in the middle of a segment, every other cycle through NULL
// (models unloaded and loaded again), every other pass through NULL
// switching the live settings on or off (silencesplit low-latency, streaming
// xlsrfeat, unitvocoder with a short lookahead). After the first half (the warm-up:
// heap and caches settle), GStreamer's leaks tracer (the suite runs with
// GST_TRACERS=leaks) must find no object or buffer made in the second half
// still alive at the end, and the resident memory may grow by 5 % at most.
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "acoustok/audio_io.hpp"
#include "demo_models.hpp"
#include "test_util.hpp"

namespace {

GstTracer* leaks_tracer() {
  GList* tracers = gst_tracing_get_active_tracers();
  GstTracer* found = nullptr;
  for (GList* l = tracers; l; l = l->next) {
    if (!found && g_str_equal(G_OBJECT_TYPE_NAME(l->data), "GstLeaksTracer"))
      found = GST_TRACER(gst_object_ref(l->data));
  }
  g_list_free_full(tracers, gst_object_unref);
  return found;
}

// The objects and buffers alive now, by type and address, as the leaks tracer
// sees them ("get-live-objects"); `descriptions` gets one line each.
std::set<std::pair<std::string, const void*>> live_objects(
    GstTracer* tracer, std::map<std::pair<std::string, const void*>, std::string>* descriptions = nullptr) {
  std::set<std::pair<std::string, const void*>> out;
  GstStructure* info = nullptr;
  g_signal_emit_by_name(tracer, "get-live-objects", &info);
  if (!info) return out;
  const GValue* list = gst_structure_get_value(info, "live-objects-list");
  for (guint k = 0; list && k < gst_value_list_get_size(list); ++k) {
    const GstStructure* o = gst_value_get_structure(gst_value_list_get_value(list, k));
    const GValue* v = gst_structure_get_value(o, "object");
    if (!v) continue;
    const void* p = G_VALUE_HOLDS(v, G_TYPE_OBJECT) ? static_cast<const void*>(g_value_get_object(v))
                                                    : g_value_get_boxed(v);
    const auto key = std::make_pair(std::string(G_VALUE_TYPE_NAME(v)), p);
    out.insert(key);
    if (descriptions) {
      guint refs = 0;
      gst_structure_get_uint(o, "ref-count", &refs);
      char text[160];
      std::snprintf(text, sizeof text, "%s %p (%u refs)", key.first.c_str(), p, refs);
      (*descriptions)[key] = text;
    }
  }
  // Not freed: GStreamer 1.22's tracer puts the objects in without taking a
  // reference, so freeing the list would unref objects it does not own.
  return out;
}

// Waits for EOS or an error; true on EOS.
bool wait_eos(GstBus* bus, std::string* error) {
  for (;;) {
    GstMessage* msg = gst_bus_timed_pop_filtered(
        bus, 30 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    if (!msg) {
      *error = "no EOS within 30 s";
      return false;
    }
    const bool eos = GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS;
    if (!eos) {
      GError* err = nullptr;
      gst_message_parse_error(msg, &err, nullptr);
      *error = err ? err->message : "error";
      g_clear_error(&err);
    }
    gst_message_unref(msg);
    return eos;
  }
}

}  // namespace

TEST(Torture, StateChangesFlushesAndEosLeakNothing) {
  GstTracer* tracer = leaks_tracer();
  ASSERT_TRUE(tracer) << "run with GST_TRACERS=leaks (the meson test sets it)";
  const acoustok::test::DemoModels& m = acoustok::test::demo_models();
  const auto speech = acoustok::read_audio_16k_mono(acoustok::test::fixture("silence/speech_pauses.wav"));
  const char* env = std::getenv("ACOUSTOK_TORTURE_CYCLES");
  const int cycles = env ? std::atoi(env) : 600, warmup = cycles / 2;

  const std::string launch =
      "appsrc name=src format=time stream-type=seekable "
      "caps=audio/x-raw,format=F32LE,rate=16000,channels=1,layout=interleaved ! "
      "silencesplit name=split max-segment-time=2000000000 ! xlsrfeat name=feat model=" +
      m.feature_model +
      " layer=3 max-window-time=2000000000 context-time=500000000 ! kmeansunits model=" + m.kmeans +
      " ! unitvocoder name=voc model=" + m.vocoder + " chunk-frames=10 ! fakesink sync=false async=false";
  GError* err = nullptr;
  GstElement* pipeline = gst_parse_launch(launch.c_str(), &err);
  ASSERT_TRUE(pipeline) << (err ? err->message : "");
  GstElement* src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
  GstElement* split = gst_bin_get_by_name(GST_BIN(pipeline), "split");
  GstElement* feat = gst_bin_get_by_name(GST_BIN(pipeline), "feat");
  GstElement* voc = gst_bin_get_by_name(GST_BIN(pipeline), "voc");
  // The live settings, or the whole-segment ones (set in NULL: they apply at load).
  auto live_settings = [&](bool on) {
    g_object_set(split, "low-latency", on, nullptr);
    g_object_set(feat, "chunk-time", on ? 160 * GST_MSECOND : 0, nullptr);
    g_object_set(voc, "lookahead-frames", on ? 2 : -1, nullptr);
  };
  GstBus* bus = gst_element_get_bus(pipeline);
  // A seekable appsrc asks where to go; from wherever it is, the audio goes on.
  g_signal_connect(src, "seek-data",
                   G_CALLBACK(+[](GstAppSrc*, guint64, gpointer) -> gboolean { return TRUE; }), nullptr);

  auto push_audio = [&](size_t from, size_t count, GstClockTime pts) {
    const size_t chunk = 1600;  // 100 ms
    for (size_t at = 0; at < count; at += chunk) {
      const size_t n = std::min(chunk, count - at);
      const size_t start = (from + at) % (speech.size() - n);
      GstBuffer* b = gst_buffer_new_allocate(nullptr, n * sizeof(float), nullptr);
      gst_buffer_fill(b, 0, speech.data() + start, n * sizeof(float));
      GST_BUFFER_PTS(b) = pts + gst_util_uint64_scale(at, GST_SECOND, 16000);
      GST_BUFFER_DURATION(b) = gst_util_uint64_scale(n, GST_SECOND, 16000);
      if (gst_app_src_push_buffer(GST_APP_SRC(src), b) != GST_FLOW_OK) return;
    }
  };

  long rss_warm = 0;
  std::set<std::pair<std::string, const void*>> before;
  for (int i = 0; i < cycles; ++i) {
    if (i == warmup) {
      before = live_objects(tracer);
      rss_warm = acoustok::test::rss_kb();
    }
    if (i > warmup && i % 100 == 0)
      std::printf("torture: cycle %d, RSS %ld kB\n", i, acoustok::test::rss_kb());
    if (i % 2 == 0) live_settings(i % 4 == 2);  // in NULL here: every other load streams
    ASSERT_NE(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE) << "cycle " << i;
    // 0.6 to 3 s of speech, from a different place each cycle.
    const size_t samples = 16000 * (6 + i % 25) / 10;
    push_audio(static_cast<size_t>(i) * 7919, samples, 0);
    switch (i % 3) {
      case 0:  // a flushing seek while data flows, then more data
        gst_element_seek_simple(pipeline, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH, 0);
        push_audio(static_cast<size_t>(i) * 104729, samples / 2, 0);
        break;
      case 1: {  // EOS in the middle of a segment: everything drains
        gst_app_src_end_of_stream(GST_APP_SRC(src));
        std::string error;
        ASSERT_TRUE(wait_eos(bus, &error)) << "cycle " << i << ": " << error;
        break;
      }
      default:  // straight back to NULL with data in flight
        break;
    }
    ASSERT_EQ(gst_element_set_state(pipeline, i % 2 ? GST_STATE_NULL : GST_STATE_READY),
              GST_STATE_CHANGE_SUCCESS)
        << "cycle " << i;
    gst_bus_set_flushing(bus, TRUE);  // drop this cycle's messages
    gst_bus_set_flushing(bus, FALSE);
  }
  ASSERT_EQ(gst_element_set_state(pipeline, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  const long rss_end = acoustok::test::rss_kb();
  gst_object_unref(bus);
  for (GstElement* e : {src, split, feat, voc}) gst_object_unref(e);
  gst_object_unref(pipeline);
  // appsrc's streaming task ends in its thread pool after the pipeline is gone.
  gst_task_cleanup_all();

  // Objects and buffers alive now that were not before the cycles began.
  std::map<std::pair<std::string, const void*>, std::string> descriptions;
  const auto after = live_objects(tracer, &descriptions);
  std::string leaked;
  size_t alive = 0;
  for (const auto& key : after) {
    if (before.count(key)) continue;
    if (++alive <= 5) leaked += descriptions[key] + "\n";
  }
  EXPECT_EQ(alive, 0u) << "left alive after " << cycles - warmup << " cycles:\n" << leaked;
  gst_object_unref(tracer);

  std::printf("torture: %d cycles; RSS %ld kB after warm-up, %ld kB at the end (%+.1f %%)\n", cycles,
              rss_warm, rss_end, 100.0 * (rss_end - rss_warm) / rss_warm);
  if (!acoustok::test::kUnderAddressSanitizer) {
    EXPECT_LE(rss_end, rss_warm + rss_warm / 20);
  }
}
