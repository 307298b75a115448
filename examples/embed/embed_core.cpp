// SPDX-License-Identifier: MIT
// embed_core: acoustok as a library, without GStreamer (the use shown at the
// top of acoustok/acoustok.hpp). Build it against an installed acoustok:
//
//   g++ -std=c++17 embed_core.cpp $(pkg-config --cflags --libs acoustok) -o embed_core
//   embed_core AUDIO_FILE FEATURE_MODEL_DIR LAYER KMEANS_FILE [VOCODER_CHECKPOINT OUT_DIR]
//
// Cuts the recording at its pauses and prints one line per segment:
//
//   segment 3 12.480-15.020 s 127 units: 17 17 4 88 ...
//
// With a vocoder, each segment's units are also spoken into OUT_DIR/segment_N.wav.
#include <acoustok/acoustok.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  if (argc != 5 && argc != 7) {
    std::fprintf(stderr, "usage: %s AUDIO FEATURE_MODEL_DIR LAYER KMEANS [VOCODER OUT_DIR]\n", argv[0]);
    return 2;
  }
  try {
    acoustok::ProcessOptions process;
    process.threads = acoustok::available_cpus();
    process.tune_allocator = true;
    acoustok::configure_process(process);
    acoustok::set_log_callback([](acoustok::LogLevel, const char* message, void*) {
      std::fprintf(stderr, "[acoustok] %s\n", message);
    });

    const std::vector<float> audio = acoustok::read_audio_16k_mono(argv[1]);
    acoustok::FeatureOptions options;
    options.layer = std::atoi(argv[3]);
    auto extractor = acoustok::FeatureExtractor::load(argv[2], options);
    const acoustok::KMeansModel kmeans = acoustok::KMeansModel::load(argv[4]);
    std::unique_ptr<acoustok::Vocoder> vocoder;
    if (argc == 7) vocoder = acoustok::Vocoder::load(argv[5], "cpu");

    for (const acoustok::Segment& seg : acoustok::split_on_silence(audio, acoustok::SilenceOptions{})) {
      const acoustok::Features f =
          extractor->extract(audio.data() + seg.start, static_cast<size_t>(seg.end - seg.start));
      const std::vector<int32_t> units = kmeans.predict(f.data.data(), f.frames);
      std::printf("segment %lld %.3f-%.3f s %zu units:", static_cast<long long>(seg.index),
                  static_cast<double>(seg.start) / acoustok::grid::kSampleRate,
                  static_cast<double>(seg.end) / acoustok::grid::kSampleRate, units.size());
      for (int32_t u : units) std::printf(" %d", u);
      std::printf("\n");
      if (vocoder && !units.empty()) {
        const std::vector<float> speech = vocoder->synthesize(units.data(), units.size());
        const std::string out = std::string(argv[6]) + "/segment_" + std::to_string(seg.index) + ".wav";
        acoustok::write_wav_pcm16(out, speech.data(), speech.size());
      }
    }
  } catch (const acoustok::Error& e) {
    std::fprintf(stderr, "embed_core: %s\n", e.what());
    return 1;
  }
  return 0;
}
