// SPDX-License-Identifier: MIT
// Audio at any rate and channel count, as decodebin ! audioconvert gives it
// (no audioresample), through silencesplit and xlsrfeat gives what the
// command line gives for the same file: the 16 kHz samples of
// read_audio_16k_mono bit for bit, on the 16 kHz grid; the segments of
// `acoustok segment`; the units of `acoustok features` + `kmeans predict` on
// those segments (and, within a float16 cache's rounding, `acoustok units`'). For
// 8, 22.05, 44.1 and 48 kHz mono and 44.1 kHz stereo WAVs made from a fixture.
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "acoustok/audio_io.hpp"
#include "acoustok/frame_grid.hpp"
#include "test_util.hpp"
#include "test_wav.hpp"

using acoustok::test::acoustok_bin;
using acoustok::test::fixture;
using acoustok::test::run_command;

namespace {

struct Input {
  std::string name;
  int rate;
  int channels;
};

// The fixture's speech as a PCM16 WAV at `rate`; the second channel of a
// stereo file is the speech 13 ms later at 0.7 (the down-mix is then no copy
// of either channel).
std::string write_input(const std::string& dir, const Input& in) {
  const std::vector<float> speech = acoustok::read_audio_16k_mono(fixture("silence/speech_pauses.wav"));
  const std::vector<float> x = acoustok::resample(speech, 16000, in.rate);
  const std::string path = dir + "/" + in.name + ".wav";
  const size_t delay = static_cast<size_t>(in.rate * 13 / 1000);
  std::vector<float> frames(x.size() * static_cast<size_t>(in.channels));
  for (size_t i = 0; i < x.size(); ++i) {
    frames[i * in.channels] = x[i];
    if (in.channels == 2) frames[i * 2 + 1] = i >= delay ? 0.7f * x[i - delay] : 0.0f;
  }
  acoustok::test::write_wav(path, frames.data(), x.size(), in.rate, in.channels, /*pcm16=*/true);
  return path;
}

struct Pulled {
  std::vector<float> samples;      // audio/x-raw F32 from appsink "audio"
  std::vector<std::string> lines;  // text from appsink "units"
  std::vector<GstClockTime> pts, duration;
  std::vector<guint64> first;                                   // index of each audio buffer's first sample
  std::vector<std::pair<GstClockTime, GstClockTime>> segments;  // silencesplit's messages: start, stop
};

// Takes silencesplit's segment messages off the bus; false on an error.
bool take_messages(GstBus* bus, Pulled& p) {
  bool ok = true;
  while (GstMessage* m = gst_bus_pop(bus)) {
    if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
      GError* err = nullptr;
      gst_message_parse_error(m, &err, nullptr);
      ADD_FAILURE() << "pipeline error: " << (err ? err->message : "?");
      g_clear_error(&err);
      ok = false;
    }
    const GstStructure* s = gst_message_get_structure(m);
    if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ELEMENT && s && gst_structure_has_name(s, "silencesplit")) {
      guint64 start = 0, stop = 0;
      gst_structure_get_uint64(s, "start", &start);
      gst_structure_get_uint64(s, "stop", &stop);
      p.segments.emplace_back(start, stop);
    }
    gst_message_unref(m);
  }
  return ok;
}

// Runs `launch` to EOS (or an error), pulling from an appsink named `sink`.
Pulled run_pipeline(const std::string& launch, bool text) {
  GError* err = nullptr;
  GstElement* pipeline = gst_parse_launch(launch.c_str(), &err);
  EXPECT_EQ(err, nullptr) << (err ? err->message : "");
  g_clear_error(&err);
  Pulled p;
  if (!pipeline) return p;
  GstElement* sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  GstBus* bus = gst_element_get_bus(pipeline);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  std::string text_data;
  bool ok = true;
  while (ok) {
    GstSample* sample = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), 100 * GST_MSECOND);
    ok = take_messages(bus, p);
    if (!sample) {
      if (gst_app_sink_is_eos(GST_APP_SINK(sink))) break;
      continue;
    }
    GstBuffer* b = gst_sample_get_buffer(sample);
    GstMapInfo map;
    gst_buffer_map(b, &map, GST_MAP_READ);
    if (text) {
      text_data.append(reinterpret_cast<const char*>(map.data), map.size);
    } else {
      const auto* f = reinterpret_cast<const float*>(map.data);
      p.first.push_back(p.samples.size());
      p.samples.insert(p.samples.end(), f, f + map.size / sizeof(float));
      p.pts.push_back(GST_BUFFER_PTS(b));
      p.duration.push_back(GST_BUFFER_DURATION(b));
    }
    gst_buffer_unmap(b, &map);
    gst_sample_unref(sample);
  }
  take_messages(bus, p);
  gst_object_unref(bus);
  gst_object_unref(sink);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  std::istringstream lines(text_data);
  for (std::string line; std::getline(lines, line);) p.lines.push_back(line);
  return p;
}

std::vector<int> parse_units(const std::string& line) {
  std::istringstream in(line);
  std::vector<int> u;
  for (int v; in >> v;) u.push_back(v);
  return u;
}

// Units of every segment of corpus_timestamped.json, in segment order.
std::vector<std::vector<int>> corpus_units(const std::string& dir) {
  const auto corpus = nlohmann::json::parse(acoustok::test::read_file(dir + "/corpus_timestamped.json"));
  std::vector<std::vector<int>> units;
  for (const auto& s : corpus["segments"]) units.push_back(s["units"].get<std::vector<int>>());
  return units;
}

void write_float_wav(const std::string& path, const float* x, size_t n) {
  acoustok::test::write_wav(path, x, n, acoustok::grid::kSampleRate);
}

std::string run(const std::string& args) {
  std::string out;
  EXPECT_EQ(run_command(acoustok_bin() + " " + args, &out), 0) << args << "\n" << out;
  return out;
}

}  // namespace

TEST(AnyRate, DecodebinAudioconvertChainEqualsTheCommandLine) {
  const std::string dir = acoustok::test::make_temp_dir("any-rate");
  const std::string model = fixture("xlsr/xlsr_st");
  const std::string km = dir + "/fit/kmeans.safetensors";
  bool fitted = false;
  for (const Input& in : {Input{"r22050", 22050, 1}, Input{"r8000", 8000, 1}, Input{"r44100", 44100, 1},
                          Input{"r48000", 48000, 1}, Input{"r44100_stereo", 44100, 2}}) {
    SCOPED_TRACE(in.name);
    const std::string wav = write_input(dir, in);
    const std::string seg = dir + "/seg_" + in.name;
    run("segment -q " + wav + " -o " + seg);
    if (!fitted) {  // the units of every input on one k-means model, fitted on the first
      run("units -q " + seg + " -o " + dir + "/fit --model " + model +
          " --layer 2 --k 24 --seed 1 --threads 2");
      fitted = true;
    }
    const std::vector<float> cli = acoustok::read_audio_16k_mono(wav);

    // The 16 kHz audio silencesplit passes on is the command line's, bit for
    // bit, its buffers timed on the 16 kHz grid from the file's start.
    const Pulled audio = run_pipeline("filesrc location=" + wav +
                                          " ! decodebin ! audioconvert ! silencesplit drop-silence=false ! "
                                          "appsink name=sink sync=false",
                                      false);
    ASSERT_EQ(audio.samples.size(), cli.size());
    EXPECT_EQ(std::memcmp(audio.samples.data(), cli.data(), cli.size() * sizeof(float)), 0);
    for (size_t i = 0; i < audio.pts.size(); ++i) {
      const guint64 a = audio.first[i], b = i + 1 < audio.first.size() ? audio.first[i + 1] : cli.size();
      ASSERT_EQ(audio.pts[i], gst_util_uint64_scale_int(a, GST_SECOND, 16000)) << "buffer " << i;
      ASSERT_EQ(audio.duration[i], gst_util_uint64_scale_int(b, GST_SECOND, 16000) - audio.pts[i])
          << "buffer " << i;
    }

    // Segments and units: `decodebin ! audioconvert ! silencesplit ! xlsrfeat ! kmeansunits`.
    const Pulled units = run_pipeline(
        "filesrc location=" + wav + " ! decodebin ! audioconvert ! silencesplit ! xlsrfeat model=" + model +
            " layer=2 threads=2 ! kmeansunits model=" + km +
            " ! text/x-raw,format=utf8 ! appsink name=sink sync=false",
        true);
    std::vector<std::pair<int64_t, int64_t>> bounds;  // the command line's segments, in 16 kHz samples
    std::ifstream jsonl(seg + "/segments.jsonl");
    for (std::string line; std::getline(jsonl, line);) {
      const auto rec = nlohmann::json::parse(line);
      bounds.emplace_back(std::llround(rec["start"].get<double>() * 16000),
                          std::llround(rec["end"].get<double>() * 16000));
    }
    ASSERT_GE(bounds.size(), 5u);
    ASSERT_EQ(units.segments.size(), bounds.size());
    ASSERT_EQ(units.lines.size(), bounds.size());
    for (size_t i = 0; i < bounds.size(); ++i) {
      EXPECT_EQ(units.segments[i].first, gst_util_uint64_scale_int(bounds[i].first, GST_SECOND, 16000))
          << "segment " << i;
      EXPECT_EQ(units.segments[i].second, gst_util_uint64_scale_int(bounds[i].second, GST_SECOND, 16000))
          << "segment " << i;
    }

    // The nearest centroids of the float32 features of those exact samples
    // (`acoustok features`, then `kmeans predict`): the same units, segment by
    // segment. (`acoustok units` reads its features back from a float16
    // cache, so there a frame at a centroid boundary may move: below.)
    const std::string exact = dir + "/exact_" + in.name, feats = exact + "/features";
    std::filesystem::create_directories(exact);
    std::ifstream names(seg + "/segments.jsonl");
    std::string wavs;
    std::vector<std::string> stems;
    size_t i = 0;
    for (std::string line; std::getline(names, line); ++i) {
      const std::filesystem::path file = nlohmann::json::parse(line)["file"].get<std::string>();
      write_float_wav(exact + "/" + file.string(), cli.data() + bounds[i].first,
                      static_cast<size_t>(bounds[i].second - bounds[i].first));
      wavs += " " + exact + "/" + file.string();
      stems.push_back(file.stem().string());
    }
    ASSERT_EQ(stems.size(), bounds.size());
    run("features -q --model " + model + " --layer 2 --threads 2" + wavs + " -o " + feats + "/");
    for (size_t s = 0; s < stems.size(); ++s) {
      const std::string want = feats + "/" + stems[s] + ".txt";
      run("kmeans predict " + km + " " + feats + "/" + stems[s] + ".npy -o " + want);
      EXPECT_EQ(parse_units(units.lines[s]), parse_units(acoustok::test::read_file(want))) << "segment " << s;
    }

    // And `acoustok units` on `acoustok segment`'s own files: those round the
    // samples to 16 bits, which may move a unit at a centroid boundary, never
    // a segment's length.
    run("units -q " + seg + " -o " + dir + "/u_" + in.name + " --model " + model + " --layer 2 --kmeans " +
        km + " --threads 2");
    const auto pcm16 = corpus_units(dir + "/u_" + in.name);
    ASSERT_EQ(pcm16.size(), bounds.size());
    size_t frames = 0, same = 0;
    for (size_t s = 0; s < pcm16.size(); ++s) {
      const auto got = parse_units(units.lines[s]);
      ASSERT_EQ(got.size(), pcm16[s].size()) << "segment " << s;
      frames += got.size();
      for (size_t k = 0; k < got.size(); ++k) same += got[k] == pcm16[s][k];
    }
    std::printf("%s: %zu segments, %zu frames; the same units as acoustok units on the PCM16 segments: %zu\n",
                in.name.c_str(), pcm16.size(), frames, same);
    EXPECT_GE(static_cast<double>(same), 0.99 * static_cast<double>(frames));
  }
}
