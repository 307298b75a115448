// SPDX-License-Identifier: MIT
// Harness of tests/vocoder/test_codehifigan_parity.sh: acoustok's library
// (Vocoder::load, predict_durations, expand_durations, set_speaker,
// set_speaker_embedding, synthesize) on a released CodeHiFiGAN vocoder, as
// codehifigan_reference.py's `synth` runs the reference:
//
//   codehifigan_synth CHECKPOINT UNITS.txt OUT.npy [--dur-prediction]
//                     [--speaker N] [--speaker-embedding E.npy]
//
// OUT.npy: float32 audio of every line, joined; with --dur-prediction also
// OUT.npy.durations.txt (one line of durations per input line). On a
// refusal: the library's one-line error on stderr, exit 1, nothing written.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "acoustok/error.hpp"
#include "acoustok/process.hpp"
#include "acoustok/tensor_file.hpp"
#include "acoustok/vocoder.hpp"

using namespace acoustok;

namespace {

std::vector<std::vector<int32_t>> read_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot read");
  std::vector<std::vector<int32_t>> lines;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::vector<int32_t> ids;
    for (long v; words >> v;) ids.push_back(static_cast<int32_t>(v));
    if (!ids.empty()) lines.push_back(std::move(ids));
  }
  return lines;
}

int run(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: %s CHECKPOINT UNITS.txt OUT.npy [--dur-prediction] [--speaker N] "
                 "[--speaker-embedding E.npy]\n",
                 argv[0]);
    return 2;
  }
  const std::string checkpoint = argv[1], units_path = argv[2], out = argv[3];
  bool dur_prediction = false;
  int speaker = -1;
  std::string embedding;
  for (int i = 4; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--dur-prediction"))
      dur_prediction = true;
    else if (!std::strcmp(argv[i], "--speaker") && i + 1 < argc)
      speaker = std::stoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--speaker-embedding") && i + 1 < argc)
      embedding = argv[++i];
    else
      return std::fprintf(stderr, "unknown argument %s\n", argv[i]), 2;
  }
  ProcessOptions process;
  process.threads = 2;
  configure_process(process);
  auto vocoder = Vocoder::load(checkpoint);
  if (speaker >= 0) vocoder->set_speaker(speaker);
  if (!embedding.empty()) vocoder->set_speaker_embedding(read_npy(embedding).values);
  std::vector<float> audio;
  std::string durations;
  for (const auto& ids : read_lines(units_path)) {
    std::vector<int32_t> frames = ids;
    if (dur_prediction) {
      const std::vector<int32_t> d = vocoder->predict_durations(ids.data(), ids.size());
      for (size_t i = 0; i < d.size(); ++i) durations += (i ? " " : "") + std::to_string(d[i]);
      durations += "\n";
      frames = expand_durations(ids.data(), ids.size(), d);
    }
    const std::vector<float> y = vocoder->synthesize(frames.data(), frames.size());
    audio.insert(audio.end(), y.begin(), y.end());
  }
  write_npy(out, audio.data(), {static_cast<int64_t>(audio.size())});
  if (dur_prediction) std::ofstream(out + ".durations.txt") << durations;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
