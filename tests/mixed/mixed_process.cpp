// SPDX-License-Identifier: MIT
// One process that uses LibTorch (a feature model, through libacoustok) and
// SentencePiece (a BPE model, libacoustok-motifs), loaded in the order asked
// for: before they were isolated, libprotobuf and SentencePiece's private
// protobuf crashed such a process whichever came first.
//   mixed_process features-first|bpe-first MODEL_DIR LAYER AUDIO FEATS.npy BPE.model UNITS.txt
// writes the audio's features to FEATS.npy and the motifs of each line of
// UNITS.txt on stdout (as `acoustok bpe encode` prints them).
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "acoustok/audio_io.hpp"
#include "acoustok/error.hpp"
#include "acoustok/features.hpp"
#include "acoustok/motif_model.hpp"
#include "acoustok/tensor_file.hpp"
#include "acoustok/unit_text.hpp"

namespace {

void write_features(const std::string& model_dir, int layer, const std::string& audio,
                    const std::string& out) {
  acoustok::FeatureOptions options;
  options.layer = layer;
  const auto extractor = acoustok::FeatureExtractor::load(model_dir, options);
  const std::vector<float> wave = acoustok::read_audio_16k_mono(audio);
  const acoustok::Features f = extractor->extract(wave.data(), wave.size());
  acoustok::write_npy(out, f.data.data(), {f.frames, f.dim});
}

void print_motifs(const acoustok::MotifModel& model, const std::string& units) {
  std::ifstream in(units);
  if (!in) throw acoustok::file_error(units, "cannot open");
  std::string line;
  std::vector<int> frames;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    acoustok::parse_unit_line(line, &frames, units, n);
    std::printf("%s\n", model.encode(frames).text().c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 8 || (std::string(argv[1]) != "features-first" && std::string(argv[1]) != "bpe-first")) {
    std::fprintf(stderr,
                 "usage: %s features-first|bpe-first MODEL_DIR LAYER AUDIO FEATS.npy BPE.model UNITS.txt\n",
                 argv[0]);
    return 2;
  }
  try {
    std::unique_ptr<acoustok::MotifModel> bpe;
    if (std::string(argv[1]) == "bpe-first") bpe = std::make_unique<acoustok::MotifModel>(argv[6]);
    write_features(argv[2], std::stoi(argv[3]), argv[4], argv[5]);
    if (!bpe) bpe = std::make_unique<acoustok::MotifModel>(argv[6]);
    print_motifs(*bpe, argv[7]);
    // Both still work after the other one loaded.
    write_features(argv[2], std::stoi(argv[3]), argv[4], argv[5]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mixed_process: %s\n", e.what());
    return 1;
  }
  return 0;
}
