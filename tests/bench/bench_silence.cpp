// SPDX-License-Identifier: MIT
// Times the core silence detection on one WAV file (no file writing):
//   bench_silence FILE.wav [repeats]
// prints "seconds=<best of repeats> segments=<n> audio_seconds=<len>".
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "acoustok/audio_io.hpp"
#include "acoustok/silence.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_silence FILE.wav [repeats]\n");
    return 2;
  }
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
  const auto audio = acoustok::read_audio_16k_mono(argv[1]);
  double best = 1e9;
  size_t n = 0;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    n = acoustok::split_on_silence(audio, acoustok::SilenceOptions{}).size();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf("seconds=%.6f segments=%zu audio_seconds=%.1f\n", best, n, audio.size() / 16000.0);
  return 0;
}
