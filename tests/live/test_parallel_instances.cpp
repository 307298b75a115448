// SPDX-License-Identifier: MIT
// Instances are independent (issue 26): 4 and 8 chains of xlsrfeat !
// kmeansunits ! unitvocoder in one process, all playing at once and fed from
// their own threads, give byte for byte what one chain alone gives: the
// features, the units and the audio. Before the fix, primitives shared
// between threads ran on the scratchpad of the thread that made them, and
// 2 of 24 outputs came out wrong.
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "acoustok/audio_io.hpp"
#include "demo_models.hpp"
#include "test_util.hpp"

namespace {

const char* const kSinks[] = {"features", "units", "audio"};

// Every sink's bytes, concatenated.
using Outputs = std::map<std::string, std::vector<uint8_t>>;

class Chain {
 public:
  explicit Chain(const acoustok::test::DemoModels& m) {
    const std::string launch =
        "appsrc name=src format=time caps=audio/x-raw,format=F32LE,rate=16000,channels=1,layout=interleaved "
        "! "
        "xlsrfeat model=" +
        m.feature_model +
        " layer=3 max-window-time=4000000000 context-time=1000000000 ! tee name=f "
        "f. ! queue ! appsink name=features sync=false wait-on-eos=false "
        "f. ! queue ! kmeansunits model=" +
        m.kmeans +
        " ! tee name=u "
        "u. ! queue ! appsink name=units sync=false wait-on-eos=false "
        "u. ! queue ! unitvocoder model=" +
        m.vocoder + " ! appsink name=audio sync=false wait-on-eos=false";
    GError* err = nullptr;
    pipeline_ = gst_parse_launch(launch.c_str(), &err);
    if (!pipeline_) ADD_FAILURE() << (err ? err->message : "gst_parse_launch failed");
    g_clear_error(&err);
  }
  ~Chain() {
    if (!pipeline_) return;
    gst_element_set_state(pipeline_, GST_STATE_NULL);
    gst_object_unref(pipeline_);
  }
  Chain(const Chain&) = delete;
  Chain& operator=(const Chain&) = delete;

  bool start() {
    return pipeline_ && gst_element_set_state(pipeline_, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE;
  }

  // Pushes the audio in 100 ms buffers, then EOS.
  void feed(const std::vector<float>& audio) {
    GstElement* src = gst_bin_get_by_name(GST_BIN(pipeline_), "src");
    for (size_t at = 0; at < audio.size(); at += 1600) {
      const size_t n = std::min<size_t>(1600, audio.size() - at);
      GstBuffer* b = gst_buffer_new_allocate(nullptr, n * sizeof(float), nullptr);
      gst_buffer_fill(b, 0, audio.data() + at, n * sizeof(float));
      GST_BUFFER_PTS(b) = gst_util_uint64_scale(at, GST_SECOND, 16000);
      GST_BUFFER_DURATION(b) = gst_util_uint64_scale(n, GST_SECOND, 16000);
      if (gst_app_src_push_buffer(GST_APP_SRC(src), b) != GST_FLOW_OK) break;
    }
    gst_app_src_end_of_stream(GST_APP_SRC(src));
    gst_object_unref(src);
  }

  // Waits for EOS, then takes what every sink holds; an error message instead on failure.
  std::string finish(Outputs* out) {
    // Minutes under ThreadSanitizer (tests/tsan/run.sh sets it).
    const char* wait_env = std::getenv("ACOUSTOK_PARALLEL_WAIT");
    const int wait = wait_env ? std::atoi(wait_env) : 120;
    GstBus* bus = gst_element_get_bus(pipeline_);
    GstMessage* msg = gst_bus_timed_pop_filtered(
        bus, wait * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    gst_object_unref(bus);
    std::string error;
    if (!msg) error = "no EOS within " + std::to_string(wait) + " s";
    if (msg && GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
      GError* err = nullptr;
      gst_message_parse_error(msg, &err, nullptr);
      error = err ? err->message : "error";
      g_clear_error(&err);
    }
    if (msg) gst_message_unref(msg);
    for (const char* name : kSinks) {
      GstElement* sink = gst_bin_get_by_name(GST_BIN(pipeline_), name);
      std::vector<uint8_t>& bytes = (*out)[name];
      while (GstSample* s = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), 0)) {
        GstMapInfo map;
        GstBuffer* b = gst_sample_get_buffer(s);
        gst_buffer_map(b, &map, GST_MAP_READ);
        bytes.insert(bytes.end(), map.data, map.data + map.size);
        gst_buffer_unmap(b, &map);
        gst_sample_unref(s);
      }
      gst_object_unref(sink);
    }
    return error;
  }

 private:
  GstElement* pipeline_ = nullptr;
};

Outputs run_alone(const acoustok::test::DemoModels& m, const std::vector<float>& audio) {
  Chain chain(m);
  Outputs out;
  EXPECT_TRUE(chain.start());
  chain.feed(audio);
  const std::string error = chain.finish(&out);
  EXPECT_EQ(error, "");
  return out;
}

// `n` chains at once, `rounds` times; returns how many outputs differed from `alone`.
int run_together(const acoustok::test::DemoModels& m, const std::vector<float>& audio, const Outputs& alone,
                 int n, int rounds) {
  int differing = 0;
  for (int r = 0; r < rounds; ++r) {
    std::vector<std::unique_ptr<Chain>> chains;
    for (int i = 0; i < n; ++i) {
      chains.push_back(std::make_unique<Chain>(m));
      EXPECT_TRUE(chains.back()->start()) << "chain " << i;
    }
    std::vector<std::thread> feeders;
    for (auto& c : chains) feeders.emplace_back([&c, &audio] { c->feed(audio); });
    for (auto& t : feeders) t.join();
    for (int i = 0; i < n; ++i) {
      Outputs out;
      const std::string error = chains[static_cast<size_t>(i)]->finish(&out);
      EXPECT_EQ(error, "") << "round " << r << ", chain " << i;
      for (const char* name : kSinks) {
        if (out[name] == alone.at(name)) continue;
        ++differing;
        ADD_FAILURE() << n << " chains, round " << r << ", chain " << i << ": its " << name
                      << " differ from one chain alone (" << out[name].size() << " bytes against "
                      << alone.at(name).size() << ")";
      }
    }
  }
  return differing;
}

}  // namespace

TEST(ParallelInstances, ChainsPlayingAtOnceComputeWhatOneAloneComputes) {
  const acoustok::test::DemoModels& m = acoustok::test::demo_models();
  // 8 s of speech: two windows of the stream, each with its context.
  auto audio = acoustok::read_audio_16k_mono(acoustok::test::fixture("silence/speech_pauses.wav"));
  audio.resize(std::min<size_t>(audio.size(), 8 * 16000));
  const Outputs alone = run_alone(m, audio);
  for (const char* name : kSinks) ASSERT_FALSE(alone.at(name).empty()) << name << " made nothing";
  const char* env = std::getenv("ACOUSTOK_PARALLEL_ROUNDS");
  const int rounds = env ? std::atoi(env) : 3;
  // ACOUSTOK_PARALLEL_CHAINS: the counts to run, e.g. "2" (ThreadSanitizer's run).
  const char* counts = std::getenv("ACOUSTOK_PARALLEL_CHAINS");
  std::vector<int> chains;
  for (const char* p = counts ? counts : "4,8"; *p;) {
    char* end = nullptr;
    const long n = std::strtol(p, &end, 10);
    if (end == p) break;
    if (n > 0) chains.push_back(static_cast<int>(n));
    p = *end == ',' ? end + 1 : end;
  }
  ASSERT_FALSE(chains.empty()) << "ACOUSTOK_PARALLEL_CHAINS names no chain count";
  for (int n : chains) EXPECT_EQ(run_together(m, audio, alone, n, rounds), 0) << n << " chains";
}
