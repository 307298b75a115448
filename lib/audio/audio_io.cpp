// SPDX-License-Identifier: MIT
#include "acoustok/audio_io.hpp"
#include "acoustok/frame_grid.hpp"

#include <sndfile.h>
#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>

#include "acoustok/error.hpp"
#include "common/fs_util.hpp"

namespace acoustok {
namespace {

struct SndfileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
using SndfilePtr = std::unique_ptr<SNDFILE, SndfileCloser>;

// Refuses what is not a regular file before libsndfile opens it (a FIFO
// would block forever), and sample rates outside [kMinSampleRate,
// kMaxSampleRate] (a 1 Hz header would turn 32 KB into hours of audio).
SndfilePtr open_for_reading(const std::string& path, SF_INFO& info) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
    throw file_error(path, "not a regular file");
  }
  info = SF_INFO{};
  SndfilePtr file(sf_open(path.c_str(), SFM_READ, &info));
  if (!file) {
    throw file_error(path, std::string("cannot read audio: ") + sf_strerror(nullptr));
  }
  if (info.samplerate < kMinSampleRate || info.samplerate > kMaxSampleRate) {
    throw file_error(path, "sample rate " + std::to_string(info.samplerate) + " Hz is outside the " +
                               std::to_string(kMinSampleRate) + ".." + std::to_string(kMaxSampleRate) +
                               " Hz acoustok reads");
  }
  return file;
}

std::string major_format_name(int format) {
  SF_FORMAT_INFO fi{};
  fi.format = format & SF_FORMAT_TYPEMASK;
  if (sf_command(nullptr, SFC_GET_FORMAT_INFO, &fi, sizeof(fi)) == 0 && fi.name) return fi.name;
  return "unknown";
}

// libsndfile quietly shortens a WAV whose data chunk runs past the end of the
// file; its log then says "data : N (should be M)".
bool data_chunk_cut_short(SNDFILE* file) {
  char log[8192] = {0};
  sf_command(file, SFC_GET_LOG_INFO, log, sizeof log - 1);
  for (const char* line = log; line && *line;) {
    const char* next = std::strchr(line, '\n');
    const std::string text(line, next ? static_cast<size_t>(next - line) : std::strlen(line));
    if (text.rfind("data", 0) == 0 && text.find("should be") != std::string::npos) return true;
    line = next ? next + 1 : nullptr;
  }
  return false;
}

}  // namespace

AudioFileInfo probe_audio(const std::string& path) {
  SF_INFO info;
  SndfilePtr file = open_for_reading(path, info);
  return {info.samplerate, info.channels, static_cast<int64_t>(info.frames),
          major_format_name(info.format)};
}

std::vector<float> downmix(const std::vector<float>& interleaved, int channels) {
  if (channels == 1) return interleaved;
  const size_t frames = interleaved.size() / static_cast<size_t>(channels);
  std::vector<float> mono(frames);
  const float scale = 1.0f / static_cast<float>(channels);
  for (size_t i = 0; i < frames; ++i) {
    float sum = 0.0f;
    for (int c = 0; c < channels; ++c) sum += interleaved[i * channels + c];
    mono[i] = sum * scale;
  }
  return mono;
}

std::vector<float> resample(const std::vector<float>& x, double in_rate, double out_rate) {
  if (in_rate == out_rate || x.empty()) return x;
  const size_t out_len = static_cast<size_t>(std::llround(static_cast<double>(x.size()) * out_rate / in_rate));
  // Shorter than one output sample (e.g. 1 sample at 44.1 kHz): nothing to resample.
  if (out_len == 0) return {};
  std::vector<float> y(out_len);
  size_t done = 0;
  soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
  soxr_error_t err = soxr_oneshot(in_rate, out_rate, 1, x.data(), x.size(), nullptr,
                                  y.data(), y.size(), &done, &io, &q, nullptr);
  if (err) throw Error(std::string("resampling failed: ") + soxr_strerror(err));
  y.resize(done);
  return y;
}

std::vector<float> read_audio_16k_mono(const std::string& path) {
  SF_INFO info;
  SndfilePtr file = open_for_reading(path, info);
  if (info.channels <= 0 || info.samplerate <= 0) throw file_error(path, "invalid audio header");
  if (info.frames <= 0) throw file_error(path, "contains no audio");

  // Read in blocks rather than trusting the header's frame count: MP3 and
  // truncated files may deliver fewer frames than announced.
  // Both bounded whatever the header says: the reservation by the file's
  // size (compressed formats grow as they are read), a block by 1 M samples.
  std::error_code ec;
  const auto file_bytes = std::filesystem::file_size(path, ec);
  const uint64_t announced = static_cast<uint64_t>(info.frames) * static_cast<uint64_t>(info.channels);
  std::vector<float> interleaved;
  interleaved.reserve(static_cast<size_t>(std::min<uint64_t>(announced, ec ? 0 : file_bytes)));
  const sf_count_t block_frames = std::max<sf_count_t>(1, (1 << 20) / info.channels);
  std::vector<float> block(static_cast<size_t>(block_frames) * info.channels);
  for (;;) {
    const sf_count_t got = sf_readf_float(file.get(), block.data(), block_frames);
    if (got <= 0) break;
    interleaved.insert(interleaved.end(), block.begin(), block.begin() + got * info.channels);
  }
  if (sf_error(file.get()) != SF_ERR_NO_ERROR) {
    throw file_error(path, std::string("read error: ") + sf_strerror(file.get()));
  }
  const int64_t got_frames = static_cast<int64_t>(interleaved.size()) / info.channels;
  if (got_frames == 0) throw file_error(path, "contains no audio");
  // Compressed formats estimate their length; PCM containers state it exactly.
  const int major = info.format & SF_FORMAT_TYPEMASK;
  const bool exact_length = major == SF_FORMAT_WAV || major == SF_FORMAT_AIFF ||
                            major == SF_FORMAT_W64 || major == SF_FORMAT_RF64 ||
                            major == SF_FORMAT_AU || major == SF_FORMAT_CAF;
  if (exact_length && got_frames < info.frames) {
    throw file_error(path, "truncated: header announces " + std::to_string(info.frames) +
                               " frames but only " + std::to_string(got_frames) + " are present");
  }
  if (exact_length && data_chunk_cut_short(file.get())) {
    throw file_error(path, "truncated: the data chunk runs past the end of the file");
  }
  for (float v : interleaved) {
    if (!std::isfinite(v)) throw file_error(path, "contains NaN or infinite samples");
  }
  std::vector<float> mono = downmix(interleaved, info.channels);
  return resample(mono, info.samplerate, grid::kSampleRate);
}

struct WavWriter::Impl {
  explicit Impl(const std::string& path) : out(path) {}
  common::AtomicFile out;
  SndfilePtr file;
};

WavWriter::WavWriter(const std::string& path, int sample_rate) : impl_(std::make_unique<Impl>(path)) {
  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  impl_->file.reset(sf_open(impl_->out.temp_path().c_str(), SFM_WRITE, &info));
  if (!impl_->file) throw file_error(path, std::string("cannot write: ") + sf_strerror(nullptr));
  // Clip rather than wrap: libsndfile scales floats by 32767 once normalised.
  sf_command(impl_->file.get(), SFC_SET_CLIPPING, nullptr, SF_TRUE);
}

WavWriter::~WavWriter() = default;

void WavWriter::write(const float* samples, size_t count) {
  if (!impl_->file) throw file_error(impl_->out.path(), "written after commit");
  if (sf_writef_float(impl_->file.get(), samples, static_cast<sf_count_t>(count)) != static_cast<sf_count_t>(count)) {
    throw file_error(impl_->out.path(), std::string("write failed: ") + sf_strerror(impl_->file.get()));
  }
  written_ += static_cast<int64_t>(count);
}

void WavWriter::commit() {
  impl_->file.reset();
  impl_->out.commit();
}

void write_wav_pcm16(const std::string& path, const float* samples, size_t count, int sample_rate) {
  WavWriter out(path, sample_rate);
  out.write(samples, count);
  out.commit();
}

}  // namespace acoustok
