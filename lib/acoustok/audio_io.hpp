// SPDX-License-Identifier: MIT
// Audio files in and out. Every reader returns 16 kHz mono float in [-1, 1]:
// channels are averaged first, then the signal is resampled with soxr (HQ).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "acoustok/frame_grid.hpp"

namespace acoustok {

// Sample rates acoustok reads; a file outside them is refused by name.
constexpr int kMinSampleRate = 1000;
constexpr int kMaxSampleRate = 768000;

struct AudioFileInfo {
  int sample_rate = 0;
  int channels = 0;
  int64_t frames = 0;
  std::string format;  // libsndfile's name for the major format
};

// Header of any file libsndfile reads (WAV, FLAC, OGG, MP3, ...).
AudioFileInfo probe_audio(const std::string& path);

// Whole file as 16 kHz mono float. Throws acoustok::Error naming the file when
// it cannot be opened, holds no audio, or is shorter than its header says.
std::vector<float> read_audio_16k_mono(const std::string& path);

// A file read block by block as 16 kHz mono float, memory flat however long
// it is: the blocks joined are exactly read_audio_16k_mono(path) (the same
// downmix, soxr's HQ resampler fed piece by piece, which gives the samples
// its one-shot call gives). The same checks throw the same acoustok::Error,
// each when the reader reaches it: header problems on opening, a NaN in its
// block, a truncated file or a read error at the end.
// Thread-safety: one thread at a time.
class AudioReader {
 public:
  explicit AudioReader(const std::string& path);
  ~AudioReader();
  AudioReader(const AudioReader&) = delete;
  AudioReader& operator=(const AudioReader&) = delete;
  const AudioFileInfo& info() const;
  // Appends the next samples to `out`; false once the file is done (nothing
  // appended then, the end checks passed).
  bool read(std::vector<float>& out);
  int64_t samples_read() const;  // 16 kHz samples appended so far

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Downmix interleaved frames to mono by averaging the channels.
std::vector<float> downmix(const std::vector<float>& interleaved, int channels);

// Resample mono float with soxr's high quality preset.
std::vector<float> resample(const std::vector<float>& x, double in_rate, double out_rate);

// resample() fed piece by piece, for streams: the outputs of process() on
// consecutive pieces, then flush(), joined, equal resample() of the pieces
// joined bit for bit, however the input is cut (soxr's filters run on an
// internal FIFO; the end is capped at round(n x ratio) samples as resample()
// sizes it). Equal rates pass the samples through. After flush() the
// resampler is spent: a new stream needs a new one.
// Thread-safety: one thread at a time.
class StreamResampler {
 public:
  StreamResampler(double in_rate, double out_rate);
  ~StreamResampler();
  StreamResampler(const StreamResampler&) = delete;
  StreamResampler& operator=(const StreamResampler&) = delete;
  // Appends the output the next `n` input samples complete to `out`.
  void process(const float* x, size_t n, std::vector<float>& out);
  // End of the input: appends the output still held back.
  void flush(std::vector<float>& out);
  // Output samples the filter holds back at most (its group delay), which a
  // live stream waits for before they leave; 0 at equal rates.
  double delay() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// 16-bit PCM WAV, written to a temporary name and renamed into place.
// A 16 kHz (or `sample_rate`) mono PCM16 WAV written piece by piece, under a
// temporary name until commit(): memory stays flat however long the audio.
// Thread-safety: one thread at a time.
class WavWriter {
 public:
  explicit WavWriter(const std::string& path, int sample_rate = grid::kSampleRate);
  ~WavWriter();
  WavWriter(const WavWriter&) = delete;
  WavWriter& operator=(const WavWriter&) = delete;
  void write(const float* samples, size_t count);
  // Closes the file and gives it its final name.
  void commit();
  int64_t samples_written() const { return written_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t written_ = 0;
};

void write_wav_pcm16(const std::string& path, const float* samples, size_t count,
                     int sample_rate = grid::kSampleRate);

}  // namespace acoustok
