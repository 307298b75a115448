// SPDX-License-Identifier: MIT
// WAV files the library's own writer does not make (other rates, stereo,
// float32 samples, NaN), written through libsndfile for the tests.
#pragma once

#include <sndfile.h>

#include <cstddef>
#include <stdexcept>
#include <string>

namespace acoustok::test {

// `frames` interleaved frames of `channels` floats as a WAV of float32
// samples (exactly the values), or PCM16 when `pcm16`. Throws
// std::runtime_error naming the file when libsndfile fails.
inline void write_wav(const std::string& path, const float* frames, size_t count, int rate, int channels = 1,
                      bool pcm16 = false) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = SF_FORMAT_WAV | (pcm16 ? SF_FORMAT_PCM_16 : SF_FORMAT_FLOAT);
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!f) throw std::runtime_error(path + ": " + sf_strerror(nullptr));
  const sf_count_t written = sf_writef_float(f, frames, static_cast<sf_count_t>(count));
  sf_close(f);
  if (written != static_cast<sf_count_t>(count)) throw std::runtime_error(path + ": short write");
}

}  // namespace acoustok::test
