// SPDX-License-Identifier: MIT
// acoustok: speech to discrete acoustic units, and back.
//
// One include for embedders: link with `pkg-config --cflags --libs acoustok`.
// Errors are acoustok::Error exceptions whose message names the file and the
// reason. Messages go to a log callback (stderr by default); the library
// changes nothing process-wide unless configure_process() is called.
//
// A complete use: a recording cut at its pauses, each segment turned into
// wav2vec2 layer-14 features, the features into k-means units, the units
// back into 16 kHz speech.
//
//   #include <acoustok/acoustok.hpp>
//   #include <cstdio>
//   #include <string>
//
//   int main() {
//     try {
//       acoustok::ProcessOptions process;
//       process.threads = acoustok::available_cpus();   // LibTorch's thread count
//       process.tune_allocator = true;                  // lower peak memory of the feature model
//       acoustok::configure_process(process);
//       acoustok::set_log_callback([](acoustok::LogLevel, const char* msg, void*) {
//         std::fprintf(stderr, "[acoustok] %s\n", msg);
//       });
//
//       std::vector<float> audio = acoustok::read_audio_16k_mono("talk.mp3");  // 16 kHz mono
//       acoustok::FeatureOptions options;
//       options.layer = 14;
//       auto extractor = acoustok::FeatureExtractor::load("xlsr53/", options);
//       acoustok::KMeansModel kmeans = acoustok::KMeansModel::load("kmeans.safetensors");
//       auto vocoder = acoustok::Vocoder::load("vocoder_final.pt", "cpu");
//
//       for (const acoustok::Segment& seg : acoustok::split_on_silence(audio, acoustok::SilenceOptions{})) {
//         acoustok::Features f = extractor->extract(audio.data() + seg.start, seg.end - seg.start);
//         std::vector<int32_t> units = kmeans.predict(f.data.data(), f.frames);   // one per 20 ms
//         std::vector<float> speech = vocoder->synthesize(units.data(), units.size());  // 320 samples per
//         unit const std::string out = "segment_" + std::to_string(seg.index) + ".wav";  // one file per
//         segment acoustok::write_wav_pcm16(out, speech.data(), speech.size());
//       }
//     } catch (const acoustok::Error& e) {
//       std::fprintf(stderr, "%s\n", e.what());
//       return 1;
//     }
//   }
//
// examples/embed/embed_core.cpp is this program, built and run by the tests.
//
// Thread-safety, class by class (each header repeats its sentence):
//   FeatureExtractor   one extract() at a time per object; use one object per thread.
//   KMeansModel        const after load: predict() from any number of threads.
//   Vocoder            one synthesize() at a time per object.
//   StreamingVocoder   one thread; it holds the stream's state.
//   SilenceSplitter    one thread; it holds the stream's state.
//   MiniBatchKMeans    one thread; its fit spreads work over `threads` itself.
//   SafetensorsFile    const after opening: read from any thread.
//   MotifModel (libacoustok-motifs, acoustok/motif_model.hpp): const after load: encode() from any thread.
//
// Phase 2 (BPE motifs, acoustok/motif_model.hpp, acoustok/bpe_train.hpp) is
// the separate library libacoustok-motifs (`pkg-config acoustok-motifs`). It
// shares a process with the LibTorch models in either order: it loads
// SentencePiece (and SentencePiece's private protobuf) from
// libacoustok-sentencepiece in a symbol scope of its own, apart from
// LibTorch's libprotobuf.
#pragma once

#include "acoustok/audio_io.hpp"
#include "acoustok/error.hpp"
#include "acoustok/features.hpp"
#include "acoustok/frame_grid.hpp"
#include "acoustok/kmeans.hpp"
#include "acoustok/log.hpp"
#include "acoustok/process.hpp"
#include "acoustok/silence.hpp"
#include "acoustok/streaming_features.hpp"
#include "acoustok/tensor_file.hpp"
#include "acoustok/unit_text.hpp"
#include "acoustok/units_job.hpp"
#include "acoustok/vocoder.hpp"
#include "acoustok/vocoder_config.hpp"
#include "acoustok/vocoder_data.hpp"
#include "acoustok/vocoder_metrics.hpp"
#include "acoustok/vocoder_train.hpp"
