// SPDX-License-Identifier: MIT
// acoustok live [INPUT|-|--mic] --model DIR --kmeans FILE: the streaming chain of
// our GStreamer elements, for people who do not write pipelines. It builds
// and runs the pipeline a user would write (silencesplit ! xlsrfeat !
// kmeansunits [! bpemotif] [tee ! unitvocoder]), so its units are the
// chain's by construction; the elements load LibTorch when they open their
// models, so this file adds no LibTorch to the program's start-up.
// Over 600 lines on purpose: it is the only GStreamer client in lib/tools,
// and its parts (options, pipeline text, stdin feeder, sample printer, bus
// loop) share the one pipeline's element names and state; split, each part
// would need that shared state in a header of its own.
#include "config.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "acoustok/error.hpp"
#include "acoustok/features.hpp"
#include "acoustok/frame_grid.hpp"
#include "common/fs_util.hpp"
#include "commands.hpp"
#include "option_checks.hpp"

namespace fs = std::filesystem;

namespace acoustok::tools {
namespace {

// The documented live setting (measured by tests/bench/bench_live.py), in
// seconds: xlsrfeat's new audio per model run, audio after it the model
// waits for, audio before it the model sees, and the part of that context
// run through the transformer again; unitvocoder's lookahead in units.
// One place to change when the benchmark moves it.
constexpr double kLiveChunkTime = 0.32;
constexpr double kLiveLookaheadTime = 0.16;
constexpr double kLiveContextTime = 2.0;
constexpr double kLiveRecomputeTime = 0.32;
constexpr int kLiveVocoderLookahead = 1;

// Any rate and channel count: silencesplit and xlsrfeat make it 16 kHz mono
// as `acoustok segment` and `units` read files (the same samples).
constexpr const char* kAudioIn = "audioconvert ! audio/x-raw,format=F32LE,layout=interleaved";

struct LiveArgs {
  std::string input;  // a file, "-" (standard input) or empty (the microphone)
  bool mic = false;
  std::string raw_format = "s16le";
  int raw_rate = grid::kSampleRate;
  std::string model, kmeans, motifs, vocoder, speech_out;
  int layer = 14;
  Precision precision = Precision::fp32;
  std::string device = "auto";
  int threads = 0;
  double chunk_time = kLiveChunkTime, lookahead_time = kLiveLookaheadTime, context_time = kLiveContextTime;
  double recompute_time = kLiveRecomputeTime;
  bool split = true;
  bool no_realtime = false;
  bool json = false;
  bool dedup = false;
  bool quiet = false;
  int vocoder_lookahead_frames = kLiveVocoderLookahead;
  bool vocoder_lookahead_set = false;
};

// ---- finding the elements ------------------------------------------------

// Run from a build tree (build/lib/tools/acoustok, the plugins in
// build/plugins), the elements just built are found first, without
// GST_PLUGIN_PATH; an installed program has no such folder and uses
// GStreamer's own plugin folder, where `meson install` puts them.
void add_build_tree_plugins() {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return;
  std::error_code ec;
  const fs::path plugins =
      fs::path(std::string(self, static_cast<size_t>(n))).parent_path() / ".." / ".." / "plugins";
  if (!fs::exists(plugins / "libgstacoustok.so", ec)) return;
  const std::string dir = fs::weakly_canonical(plugins, ec).string();
  const char* old = std::getenv("GST_PLUGIN_PATH");
  const std::string path = old && *old ? dir + ":" + old : dir;
  ::setenv("GST_PLUGIN_PATH", path.c_str(), 1);
}

void require_element(const char* name, const char* from) {
  GstElementFactory* f = gst_element_factory_find(name);
  if (!f) throw Error(std::string(from) + " is not installed: gst-inspect-1.0 " + name + " finds nothing");
  // The registry knows it; loading it can still fail (a library missing).
  GstPluginFeature* loaded = gst_plugin_feature_load(GST_PLUGIN_FEATURE(f));
  gst_object_unref(f);
  if (!loaded) throw Error(std::string(from) + " does not load: gst-inspect-1.0 " + name + " says why");
  gst_object_unref(loaded);
}

void require_elements(const LiveArgs& a) {
  for (const char* e : {"silencesplit", "xlsrfeat", "kmeansunits"})
    require_element(e, "the acoustok GStreamer plugin");
  if (!a.vocoder.empty()) require_element("unitvocoder", "the acoustok GStreamer plugin");
  if (!a.motifs.empty())
    require_element("bpemotif", "the acoustokbpe GStreamer plugin (built with SentencePiece)");
  for (const char* e : {"audioconvert", "audioresample", "appsink", "queue"})
    require_element(e, ("GStreamer's element " + std::string(e) + " (gstreamer1.0-plugins-base)").c_str());
  if (a.mic) require_element("autoaudiosrc", "GStreamer's element autoaudiosrc (gstreamer1.0-plugins-good)");
  if (!a.mic) require_element("decodebin", "GStreamer's element decodebin (gstreamer1.0-plugins-base)");
  if (!a.vocoder.empty() && !a.speech_out.empty())
    require_element("wavenc", "GStreamer's element wavenc (gstreamer1.0-plugins-good)");
  if (!a.vocoder.empty() && a.speech_out.empty())
    require_element("autoaudiosink", "GStreamer's element autoaudiosink (gstreamer1.0-plugins-good)");
}

// ---- the pipeline --------------------------------------------------------

// Seconds as GStreamer's nanoseconds, for a guint64 property.
std::string ns_text(double seconds) {
  return std::to_string(static_cast<unsigned long long>(seconds * GST_SECOND + 0.5));
}

GstElement* named(GstElement* pipeline, const char* name) {
  return gst_bin_get_by_name(GST_BIN(pipeline), name);  // owned by the caller
}

// Sets a property from its text form (numbers, enums) when the element has
// it; returns whether it was set.
bool set_if_present(GstElement* e, const char* property, const std::string& value) {
  if (!g_object_class_find_property(G_OBJECT_GET_CLASS(e), property)) return false;
  gst_util_set_object_arg(G_OBJECT(e), property, value.c_str());
  return true;
}

// An element without the property is an older plugin than this program (an
// installed one found before the build's): said so, instead of ignored.
void set_on(GstElement* pipeline, const char* element, const char* property, const std::string& value,
            bool required = true) {
  GstElement* e = named(pipeline, element);
  if (!e) return;
  const bool done = set_if_present(e, property, value);
  gst_object_unref(e);
  if (!done && required)
    throw Error(std::string(element) + " has no property '" + property + "': update the acoustok plugin");
}

// The description of the chain, in gst-launch-1.0 syntax; the paths are set
// as properties afterwards (a file name may hold anything).
std::string describe(const LiveArgs& a, bool stdin_wav) {
  std::string d;
  if (a.mic) {
    d = "autoaudiosrc name=src ! " + std::string(kAudioIn);
  } else if (a.input != "-") {
    d = "filesrc name=src ! decodebin ! " + std::string(kAudioIn);
  } else if (stdin_wav) {
    d = "appsrc name=src format=bytes block=true ! decodebin ! " + std::string(kAudioIn);
  } else {
    const std::string format = a.raw_format == "f32le" ? "F32LE" : "S16LE";
    d = "appsrc name=src format=time block=true caps=audio/x-raw,format=" + format +
        ",rate=" + std::to_string(a.raw_rate) + ",channels=1,layout=interleaved ! " + kAudioIn;
  }
  // A file or a pipe plays at the pace of the clock, as a microphone would
  // speak: clocksync holds each buffer until its time (and makes the pipeline
  // live), the queue lets it keep that pace while the models compute, so the
  // units come out when a live chain would give them.
  if (a.mic)
    d += " ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=30000000000";
  else if (!a.no_realtime)
    d += " ! clocksync ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=30000000000";
  if (a.split) d += " ! silencesplit name=silencesplit";
  d += " ! xlsrfeat name=xlsrfeat ! kmeansunits name=kmeansunits ! application/x-acoustok-units";
  // Output as soon as it is made (sync=false): the sinks do not hold it back
  // to the reported latency, and a slow chain is heard late, not cut. Nor do
  // they wait to preroll (async=false): with --no-realtime, the WAV's sink
  // holding its first buffer would stall the tee until bpemotif, which waits
  // for a segment's end, had given the printing sink one.
  const std::string sink = "appsink name=out sync=false async=false";
  const std::string out =
      a.motifs.empty() ? sink : "bpemotif name=bpemotif ! text/x-raw,format=utf8 ! " + sink;
  if (a.vocoder.empty()) return d + " ! " + out;
  d += " ! tee name=t t. ! queue ! " + out + " t. ! queue ! unitvocoder name=unitvocoder";
  if (!a.speech_out.empty())
    return d +
           " ! audioconvert dithering=none ! audio/x-raw,format=S16LE ! wavenc ! filesink name=speech "
           "sync=false async=false";
  return d + " ! audioconvert ! audioresample ! autoaudiosink name=speaker";
}

void configure(GstElement* p, const LiveArgs& a, const std::string& speech_temp) {
  if (!a.mic && a.input != "-") set_on(p, "src", "location", a.input);
  set_on(p, "xlsrfeat", "model", a.model);
  set_on(p, "xlsrfeat", "layer", std::to_string(a.layer));
  set_on(p, "xlsrfeat", "precision", a.precision == Precision::bf16 ? "bf16" : "fp32");
  set_on(p, "xlsrfeat", "device", a.device);
  set_on(p, "xlsrfeat", "threads", std::to_string(a.threads));
  set_on(p, "xlsrfeat", "chunk-time", ns_text(a.chunk_time));
  set_on(p, "xlsrfeat", "lookahead-time", ns_text(a.lookahead_time));
  set_on(p, "xlsrfeat", "context-time", ns_text(a.context_time));
  set_on(p, "xlsrfeat", "recompute-time", ns_text(a.recompute_time));
  // silencesplit passes speech on before the pause that ends its segment is
  // decided (the segments stay the same; their events follow).
  if (a.split) set_on(p, "silencesplit", "low-latency", "true");
  set_on(p, "kmeansunits", "model", a.kmeans);
  if (a.dedup) set_on(p, "kmeansunits", "dedup", "true");
  if (!a.motifs.empty()) set_on(p, "bpemotif", "model", a.motifs);
  if (!a.vocoder.empty()) {
    set_on(p, "unitvocoder", "model", a.vocoder);
    set_on(p, "unitvocoder", "device", a.device);
    set_on(p, "unitvocoder", "lookahead-frames", std::to_string(a.vocoder_lookahead_frames));
    if (!a.speech_out.empty())
      set_on(p, "speech", "location", speech_temp);
    else
      set_on(p, "speaker", "sync", "false", false);
  }
}

// ---- standard input ------------------------------------------------------

// Reads standard input into the appsrc: WAV as bytes (decodebin parses it),
// raw audio as whole samples stamped by their count. Polls so that it stops
// when the pipeline does, whatever the writer at the other end does.
class StdinFeeder {
 public:
  StdinFeeder(std::string head, bool raw, int sample_bytes, int rate)
      : head_(std::move(head)), raw_(raw), sample_bytes_(sample_bytes), rate_(rate) {}
  ~StdinFeeder() { stop(); }

  void start(GstElement* appsrc) {
    src_ = appsrc;
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  bool push(std::string& pending) {
    size_t n = pending.size();
    if (raw_) n -= n % static_cast<size_t>(sample_bytes_);
    if (n == 0) return true;
    GstBuffer* b = gst_buffer_new_allocate(nullptr, n, nullptr);
    gst_buffer_fill(b, 0, pending.data(), n);
    if (raw_) {
      const guint64 count = n / static_cast<size_t>(sample_bytes_);
      GST_BUFFER_PTS(b) = gst_util_uint64_scale_int(samples_, GST_SECOND, rate_);
      GST_BUFFER_DURATION(b) =
          gst_util_uint64_scale_int(samples_ + count, GST_SECOND, rate_) - GST_BUFFER_PTS(b);
      samples_ += count;
    }
    pending.erase(0, n);
    return gst_app_src_push_buffer(GST_APP_SRC(src_), b) == GST_FLOW_OK;
  }

  void run() {
    std::string pending = std::move(head_);
    std::vector<char> buf(raw_ ? 640 * sample_bytes_ : 16384);  // raw: 40 ms at 16 kHz
    bool ok = push(pending);
    while (ok && !stop_) {
      pollfd pfd{STDIN_FILENO, POLLIN, 0};
      const int r = ::poll(&pfd, 1, 100);
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) continue;
      const ssize_t got = ::read(STDIN_FILENO, buf.data(), buf.size());
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      pending.append(buf.data(), static_cast<size_t>(got));
      ok = push(pending);
    }
    if (ok && !stop_) gst_app_src_end_of_stream(GST_APP_SRC(src_));
  }

  std::string head_;
  bool raw_;
  int sample_bytes_, rate_;
  guint64 samples_ = 0;
  GstElement* src_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The first bytes of standard input, to tell WAV (a RIFF header) from raw.
std::string read_head() {
  std::string head;
  char c[4];
  while (head.size() < 4) {
    const ssize_t got = ::read(STDIN_FILENO, c, 4 - head.size());
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    head.append(c, static_cast<size_t>(got));
  }
  return head;
}

// ---- output --------------------------------------------------------------

struct Printer {
  bool json = false, motifs = false, dedup = false;
  std::mutex lock;
};

// --dedup: (unit, frames) pairs, each unit printed with its start and
// duration: "START UNIT@START+DURATION ..." (seconds), or JSON with the
// units, their durations in frames and their start times.
std::string reduced_line(bool json, double start, const uint16_t* runs, size_t n) {
  std::vector<uint16_t> units, frames;
  std::vector<double> times;
  double t = start;
  for (size_t i = 0; i < n; ++i) {
    units.push_back(runs[2 * i]);
    frames.push_back(runs[2 * i + 1]);
    times.push_back(std::round(t * 1e6) / 1e6);
    t += runs[2 * i + 1] * acoustok::grid::kFrameSeconds;
  }
  if (json) {
    return nlohmann::json{{"start", start}, {"units", units}, {"durations", frames}, {"unit_times", times}}
        .dump();
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", start);
  std::string line = buf;
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, " %u@%.3f+%.3f", units[i], times[i],
                  frames[i] * acoustok::grid::kFrameSeconds);
    line += buf;
  }
  return line;
}

void print_sample(Printer& p, GstSample* sample) {
  GstBuffer* b = gst_sample_get_buffer(sample);
  if (!b) return;
  GstMapInfo map;
  if (!gst_buffer_map(b, &map, GST_MAP_READ)) return;
  const double start = GST_BUFFER_PTS_IS_VALID(b) ? static_cast<double>(GST_BUFFER_PTS(b)) / GST_SECOND : 0.0;
  std::string line;
  if (p.motifs) {
    // One line of text per segment: motifs as their unit ids joined by '-'.
    std::string text(reinterpret_cast<const char*>(map.data), map.size);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (p.json) {
      nlohmann::json motifs = nlohmann::json::array();
      for (size_t at = 0; at < text.size();) {
        const size_t end = std::min(text.find(' ', at), text.size());
        if (end > at) motifs.push_back(text.substr(at, end - at));
        at = end + 1;
      }
      line = nlohmann::json{{"start", start}, {"motifs", motifs}}.dump();
    } else {
      char t[32];
      std::snprintf(t, sizeof t, "%.3f", start);
      line = std::string(t) + (text.empty() ? "" : " " + text);
    }
  } else if (p.dedup) {
    line = reduced_line(p.json, start, reinterpret_cast<const uint16_t*>(map.data), map.size / 4);
  } else {
    const auto* units = reinterpret_cast<const uint16_t*>(map.data);
    const size_t n = map.size / sizeof(uint16_t);
    if (p.json) {
      line = nlohmann::json{{"start", start}, {"units", std::vector<uint16_t>(units, units + n)}}.dump();
    } else {
      char t[32];
      std::snprintf(t, sizeof t, "%.3f", start);
      line = t;
      for (size_t i = 0; i < n; ++i) line += " " + std::to_string(units[i]);
    }
  }
  gst_buffer_unmap(b, &map);
  std::lock_guard<std::mutex> guard(p.lock);
  std::fputs((line + "\n").c_str(), stdout);
  std::fflush(stdout);  // as they are produced, also into a pipe
}

GstFlowReturn on_new_sample(GstAppSink* sink, gpointer data) {
  GstSample* sample = gst_app_sink_pull_sample(sink);
  if (!sample) return GST_FLOW_EOS;
  try {
    print_sample(*static_cast<Printer*>(data), sample);
  } catch (...) {  // never across GStreamer's C frames
    gst_sample_unref(sample);
    return GST_FLOW_ERROR;
  }
  gst_sample_unref(sample);
  return GST_FLOW_OK;
}

// ---- running -------------------------------------------------------------

volatile std::sig_atomic_t interrupted = 0;

// The first Ctrl-C ends the input (EOS): the last segment is flushed and the
// WAV completed. A second one stops at once.
void on_sigint(int) {
  if (interrupted) {
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
  }
  interrupted = 1;
}

// "<who>: <reason>", on one line. Our elements name themselves (their
// messages name the model file); the decoding side (filesrc, decodebin's
// typefind and parsers) stands for the input, the WAV writer for the speech.
std::string message_text(GstMessage* msg, const LiveArgs& a) {
  GError* e = nullptr;
  gchar* debug = nullptr;
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR)
    gst_message_parse_error(msg, &e, &debug);
  else
    gst_message_parse_warning(msg, &e, &debug);
  std::string who = GST_MESSAGE_SRC(msg) ? GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)) : "pipeline";
  if (who == "speech") {
    who = a.speech_out;
  } else if (who != "silencesplit" && who != "xlsrfeat" && who != "kmeansunits" && who != "bpemotif" &&
             who != "unitvocoder" && who != "out" && who != "speaker") {
    who = a.mic ? "microphone (" + who + ")" : a.input == "-" ? "standard input" : a.input;
  }
  std::string text = who + ": " + (e ? e->message : "unknown error");
  if (e) g_error_free(e);
  g_free(debug);
  for (char& c : text)
    if (c == '\n') c = ' ';
  return text;
}

struct PipelineGuard {
  GstElement* p = nullptr;
  ~PipelineGuard() {
    if (!p) return;
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(p);
  }
};

void check_paths(const LiveArgs& a) {
  std::error_code ec;
  const auto need = [&](const std::string& path, bool dir) {
    if (path.empty()) return;
    if (!fs::exists(path, ec)) throw file_error(path, "no such file or folder");
    if (!dir && fs::is_directory(path, ec)) throw file_error(path, "is a folder, not a file");
  };
  if (!a.mic && a.input != "-") need(a.input, false);
  need(a.model, true);  // a folder or a fairseq checkpoint file
  need(a.kmeans, false);
  need(a.motifs, false);
  need(a.vocoder, false);
  if (!a.speech_out.empty()) {
    const fs::path parent = fs::path(a.speech_out).parent_path();
    if (!parent.empty() && !fs::is_directory(parent, ec))
      throw file_error(a.speech_out, "its folder does not exist");
  }
}

void check_usage(LiveArgs& a) {
  if (!a.input.empty() && a.mic) throw UsageError("--mic takes no INPUT: give one or the other");
  a.mic = a.input.empty();  // no input: the microphone
  if (a.input != "-" && (a.raw_format != "s16le" || a.raw_rate != grid::kSampleRate))
    throw UsageError(
        "--raw-format and --raw-rate describe raw audio on standard input: use them with INPUT -");
  if (a.mic && a.no_realtime) throw UsageError("--no-realtime: a microphone speaks at its own pace");
  if (!a.speech_out.empty() && a.vocoder.empty()) throw UsageError("--speech-out needs --vocoder CKPT");
  if (a.vocoder_lookahead_set && a.vocoder.empty())
    throw UsageError("--vocoder-lookahead-frames needs --vocoder CKPT");
  if (a.speech_out == "-")
    throw UsageError("--speech-out: standard output carries the units; name a WAV file");
}

void run_pipeline(const LiveArgs& a, const Context& ctx) {
  require_elements(a);
  ctx.configure_process(a.threads, true);
  GError* err = nullptr;

  // Standard input: WAV when it starts with a RIFF header, else raw audio.
  std::string head;
  bool stdin_wav = false;
  if (a.input == "-") {
    head = read_head();
    stdin_wav = head == "RIFF";
  }
  const std::string description = describe(a, stdin_wav);
  Printer printer;  // before the pipeline: its streaming threads print through it until NULL
  printer.json = a.json;
  printer.motifs = !a.motifs.empty();
  printer.dedup = a.dedup;
  PipelineGuard pipeline;
  pipeline.p = gst_parse_launch(description.c_str(), &err);
  if (!pipeline.p || err) {
    const std::string why = err ? err->message : "unknown reason";
    if (err) g_error_free(err);
    throw Error("cannot build the pipeline: " + why);
  }
  std::unique_ptr<common::AtomicFile> speech;
  if (!a.speech_out.empty()) speech = std::make_unique<common::AtomicFile>(a.speech_out);
  configure(pipeline.p, a, speech ? speech->temp_path() : std::string());

  GstElement* out = named(pipeline.p, "out");
  GstAppSinkCallbacks callbacks{};
  callbacks.new_sample = on_new_sample;
  gst_app_sink_set_callbacks(GST_APP_SINK(out), &callbacks, &printer, nullptr);
  gst_object_unref(out);

  std::unique_ptr<StdinFeeder> feeder;
  if (a.input == "-") {
    const int sample_bytes = a.raw_format == "f32le" ? 4 : 2;
    feeder = std::make_unique<StdinFeeder>(head, !stdin_wav, sample_bytes, a.raw_rate);
  }

  interrupted = 0;
  struct sigaction old_action {};
  struct sigaction action {};
  action.sa_handler = on_sigint;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &old_action);
  struct Restore {
    struct sigaction* old;
    ~Restore() { sigaction(SIGINT, old, nullptr); }
  } restore{&old_action};

  GstBus* bus = gst_element_get_bus(pipeline.p);
  std::string failure;
  bool done = false;
  if (gst_element_set_state(pipeline.p, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    // A model that does not load fails NULL->READY; its element says why.
    failure = "cannot start the pipeline";
    if (GstMessage* msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR)) {
      failure = message_text(msg, a);
      gst_message_unref(msg);
    }
    done = true;
  }
  if (!done && !a.quiet) std::fprintf(stderr, "live: %s (Ctrl-C ends the input)\n", description.c_str());
  if (feeder && !done) {
    GstElement* src = named(pipeline.p, "src");
    feeder->start(src);
    gst_object_unref(src);
  }
  bool eos_sent = false;
  while (!done) {
    if (interrupted && !eos_sent) {
      eos_sent = true;
      gst_element_send_event(pipeline.p, gst_event_new_eos());
    }
    const auto types = static_cast<GstMessageType>(GST_MESSAGE_ERROR | GST_MESSAGE_WARNING | GST_MESSAGE_EOS);
    GstMessage* msg = gst_bus_timed_pop_filtered(bus, 100 * GST_MSECOND, types);
    if (!msg) continue;
    switch (GST_MESSAGE_TYPE(msg)) {
      case GST_MESSAGE_ERROR:
        failure = message_text(msg, a);  // the first error says why; later ones follow from it
        done = true;
        break;
      case GST_MESSAGE_WARNING:
        std::fprintf(stderr, "acoustok: warning: %s\n", message_text(msg, a).c_str());
        break;
      case GST_MESSAGE_EOS:
        done = true;
        break;
      default:
        break;
    }
    gst_message_unref(msg);
  }
  gst_object_unref(bus);
  gst_element_set_state(pipeline.p, GST_STATE_NULL);
  if (feeder) feeder->stop();
  if (!failure.empty()) throw Error(failure);
  if (speech) speech->commit();
}

void run_live(LiveArgs a, const Context& ctx) {
  check_usage(a);
  check_paths(a);
  add_build_tree_plugins();
  GError* err = nullptr;
  if (!gst_init_check(nullptr, nullptr, &err)) {
    const std::string why = err ? err->message : "unknown reason";
    if (err) g_error_free(err);
    throw Error("cannot start GStreamer: " + why);
  }
  // GStreamer's own allocations go before exit, also on an error, so that
  // LeakSanitizer (tests/asan/run.sh) sees only what would be ours.
  struct Deinit {
    ~Deinit() { gst_deinit(); }
  } deinit;
  run_pipeline(a, ctx);
}

}  // namespace

void add_live_command(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<LiveArgs>();
  CLI::App* cmd = app.add_subcommand(
      "live",
      "Streaming: units (or motifs) with timestamps as they are produced, from a file, standard input or the "
      "microphone; speech back with --vocoder");
  cmd->add_option(
      "input", a->input,
      "A sound file (anything GStreamer decodes), - for standard input (WAV, or raw audio: --raw-format); "
      "none: the microphone");
  cmd->add_flag("--mic", a->mic,
                "Listen to the default microphone (autoaudiosrc) until Ctrl-C (also without INPUT)");
  cmd->add_option("--raw-format", a->raw_format, "Raw audio on standard input: s16le or f32le, mono")
      ->capture_default_str()
      ->check(CLI::IsMember({"s16le", "f32le"}));
  cmd->add_option("--raw-rate", a->raw_rate, "Sample rate of raw audio on standard input (Hz)")
      ->capture_default_str()
      ->check(checks::int_between(1000, 768000));
  cmd->add_option(
         "--model", a->model,
         "Feature model: a Hugging Face wav2vec2 / XLSR-53 / HuBERT folder or a fairseq checkpoint (.pt)")
      ->required();
  cmd->add_option("--layer", a->layer, "Transformer layer (1-based)")
      ->capture_default_str()
      ->check(checks::int_at_least(1));
  cmd->add_option("--kmeans", a->kmeans,
                  "k-means model: kmeans.safetensors, .npy centroids or fairseq's km.bin")
      ->required();
  add_precision_option(cmd, a->precision);
  // The elements' device property: auto, cpu or cuda (no cuda:N).
  add_device_option(cmd, a->device)
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}).description(""))
      ->description(
          "Where the models run (xlsrfeat, unitvocoder): auto (a GPU when LibTorch has CUDA and one is "
          "visible, else "
          "the CPU), cpu or cuda");
  cmd->add_option("--threads", a->threads, "Threads of the feature model (0: every CPU this process may use)")
      ->capture_default_str()
      ->check(checks::threads());
  cmd->add_option("--chunk-time", a->chunk_time,
                  "New audio per model run, seconds (xlsrfeat chunk-time; 0: whole segments, exact)")
      ->capture_default_str()
      ->check(checks::seconds(0));
  cmd->add_option("--lookahead-time", a->lookahead_time, "Audio after a chunk the model waits for, seconds")
      ->capture_default_str()
      ->check(checks::seconds(0));
  cmd->add_option("--context-time", a->context_time, "Audio before a chunk the model sees, seconds")
      ->capture_default_str()
      ->check(checks::seconds(0));
  cmd->add_option(
         "--recompute-time", a->recompute_time,
         "Most recent context run through the model again each chunk, seconds (xlsrfeat recompute-time; "
         "the older context is reused)")
      ->capture_default_str()
      ->check(checks::seconds(0));
  cmd->add_flag("--split,!--no-split", a->split,
                "Cut the input at pauses first (silencesplit; default), or run it as one stream");
  cmd->add_flag("--no-realtime", a->no_realtime,
                "Play a file or standard input as fast as possible, not at its real pace");
  cmd->add_flag("--json", a->json,
                "One JSON object per line: {\"start\": seconds, \"units\": [...]} (or \"motifs\")");
  cmd->add_flag(
      "--dedup", a->dedup,
      "Reduced units: each run of a repeated unit as one unit, printed with its start and duration "
      "(UNIT@START+DURATION, seconds; --json: durations in frames and unit_times) once its run ends");
  cmd->add_option("--motifs", a->motifs,
                  "BPE model of acoustok bpe: print motifs (unit ids joined by '-') instead of units");
  cmd->add_option("--vocoder", a->vocoder,
                  "Vocoder checkpoint: speak the units back (to --speech-out, else the speakers)");
  cmd->add_option("--speech-out", a->speech_out,
                  "With --vocoder: write the speech to this WAV (16 kHz mono PCM16)")
      ->check(checks::non_empty_path());
  cmd->add_option_function<int>(
         "--vocoder-lookahead-frames",
         [a](const int& n) {
           a->vocoder_lookahead_frames = n;
           a->vocoder_lookahead_set = true;
         },
         "Units after a vocoder chunk it waits for (unitvocoder lookahead-frames; default 1: 0.5 s answers "
         "with "
         "chunk-frames 25; -1: its whole receptive field, exact)")
      ->check(checks::int_between(-1, 10000));
  cmd->add_flag("-q,--quiet", a->quiet, "No note on stderr (warnings and errors remain)");
  cmd->callback([a, &ctx]() { run_live(*a, ctx); });
}

}  // namespace acoustok::tools
