// SPDX-License-Identifier: MIT
// libFuzzer target: audio decoding through our libsndfile + soxr wrapper
// (any format libsndfile reads, resampled to 16 kHz mono).
#include "acoustok/audio_io.hpp"
#include "acoustok/error.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = acoustok::fuzz::write_input(data, size, "input.wav");
  try {
    (void)acoustok::probe_audio(path);
    (void)acoustok::read_audio_16k_mono(path);
  } catch (const acoustok::Error&) {
  }
  return 0;
}
