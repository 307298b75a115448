// SPDX-License-Identifier: MIT
#include "acoustok/audio_io.hpp"
#include "acoustok/frame_grid.hpp"

#include <sndfile.h>
#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
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

// A WAV's format chunk: sample rate and channel count as the header states
// them, when the file is RIFF/WAVE and has one.
bool wav_header_fields(const std::string& path, uint32_t* rate, uint16_t* channels) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  unsigned char head[12];
  bool found = false;
  if (std::fread(head, 1, 12, f) == 12 && std::memcmp(head, "RIFF", 4) == 0 &&
      std::memcmp(head + 8, "WAVE", 4) == 0) {
    unsigned char chunk[8];
    for (int i = 0; i < 64 && std::fread(chunk, 1, 8, f) == 8; ++i) {
      const uint32_t size = chunk[4] | chunk[5] << 8 | chunk[6] << 16 | static_cast<uint32_t>(chunk[7]) << 24;
      if (std::memcmp(chunk, "fmt ", 4) == 0) {
        unsigned char fmt[8];
        if (std::fread(fmt, 1, 8, f) == 8) {
          *channels = static_cast<uint16_t>(fmt[2] | fmt[3] << 8);
          *rate = fmt[4] | fmt[5] << 8 | fmt[6] << 16 | static_cast<uint32_t>(fmt[7]) << 24;
          found = true;
        }
        break;
      }
      if (std::fseek(f, static_cast<long>(size + (size & 1)), SEEK_CUR) != 0) break;
    }
  }
  std::fclose(f);
  return found;
}

// What is wrong with a file libsndfile would not open, in the file's terms:
// its own messages speak of its internals ("SF_INFO struct incomplete") or
// guess wrong ("does not exist or is not a regular file" for a cut MP3).
std::string open_failure(const std::string& path, const std::string& sndfile_message) {
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(path, ec);
  if (ec) return ec.message();
  if (bytes == 0) return "the file is empty (0 bytes)";
  uint32_t rate = 0;
  uint16_t channels = 0;
  if (wav_header_fields(path, &rate, &channels)) {
    if (rate == 0) return "WAV header gives a sample rate of 0 Hz";
    if (channels == 0) return "WAV header gives 0 channels";
  }
  if (sndfile_message.find("not a regular file") != std::string::npos ||
      sndfile_message.find("SF_INFO") != std::string::npos) {
    return "the file is cut short or corrupt (" + std::to_string(bytes) +
           " bytes, no readable header or first frame)";
  }
  return sndfile_message;
}

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
    throw file_error(path, "cannot read audio: " + open_failure(path, sf_strerror(nullptr)));
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
  return {info.samplerate, info.channels, static_cast<int64_t>(info.frames), major_format_name(info.format)};
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
  const size_t out_len =
      static_cast<size_t>(std::llround(static_cast<double>(x.size()) * out_rate / in_rate));
  // Shorter than one output sample (e.g. 1 sample at 44.1 kHz): nothing to resample.
  if (out_len == 0) return {};
  std::vector<float> y(out_len);
  size_t done = 0;
  soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
  soxr_error_t err = soxr_oneshot(in_rate, out_rate, 1, x.data(), x.size(), nullptr, y.data(), y.size(),
                                  &done, &io, &q, nullptr);
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
  const bool exact_length = major == SF_FORMAT_WAV || major == SF_FORMAT_AIFF || major == SF_FORMAT_W64 ||
                            major == SF_FORMAT_RF64 || major == SF_FORMAT_AU || major == SF_FORMAT_CAF;
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

struct StreamResampler::Impl {
  double in_rate, out_rate;
  soxr_t soxr = nullptr;  // none at equal rates
  std::vector<float> buf;
  int64_t in_total = 0, out_total = 0;
  double delay = -1;  // measured on the first delay()

  ~Impl() { soxr_delete(soxr); }
  static void check(soxr_error_t err) {
    if (err) throw Error(std::string("resampling failed: ") + soxr_strerror(err));
  }
  // Keeps the output within round(in_total x ratio), where resample() ends it.
  void append(size_t made, std::vector<float>& out) {
    const auto cap = std::llround(static_cast<double>(in_total) * out_rate / in_rate);
    const auto room = static_cast<size_t>(std::max<int64_t>(0, cap - out_total));
    made = std::min(made, room);
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(made));
    out_total += static_cast<int64_t>(made);
  }
};

StreamResampler::StreamResampler(double in_rate, double out_rate) : impl_(std::make_unique<Impl>()) {
  Impl& r = *impl_;
  r.in_rate = in_rate;
  r.out_rate = out_rate;
  if (in_rate == out_rate) return;
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
  soxr_error_t err = nullptr;
  r.soxr = soxr_create(in_rate, out_rate, 1, &err, &io, &q, nullptr);
  if (err || !r.soxr)
    throw Error(std::string("resampling failed: ") + (err ? soxr_strerror(err) : "no resampler"));
  r.buf.resize(1 << 16);
}

StreamResampler::~StreamResampler() = default;

void StreamResampler::process(const float* x, size_t n, std::vector<float>& out) {
  Impl& r = *impl_;
  if (!r.soxr) {
    out.insert(out.end(), x, x + n);
    return;
  }
  r.in_total += static_cast<int64_t>(n);
  for (size_t off = 0; off < n;) {
    size_t used = 0, made = 0;
    Impl::check(soxr_process(r.soxr, x + off, n - off, &used, r.buf.data(), r.buf.size(), &made));
    r.append(made, out);
    off += used;
  }
}

void StreamResampler::flush(std::vector<float>& out) {
  Impl& r = *impl_;
  if (!r.soxr) return;
  for (;;) {
    size_t made = 0;
    Impl::check(soxr_process(r.soxr, nullptr, 0, nullptr, r.buf.data(), r.buf.size(), &made));
    if (made == 0) break;
    r.append(made, out);
  }
}

// soxr holds input back until it has a block for its filter, and then in
// blocks: the most it holds, fed 1 ms pieces over 3 s, plus one piece's worth
// bounds what pieces of any size leave held (larger pieces hold less than one
// 1 ms piece more). A twin measures it, so this resampler's stream is untouched.
double StreamResampler::delay() const {
  Impl& r = *impl_;
  if (!r.soxr || r.delay >= 0) return std::max(0.0, r.delay);
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
  soxr_error_t err = nullptr;
  std::unique_ptr<soxr, decltype(&soxr_delete)> twin(
      soxr_create(r.in_rate, r.out_rate, 1, &err, &io, &q, nullptr), &soxr_delete);
  if (err || !twin)
    throw Error(std::string("resampling failed: ") + (err ? soxr_strerror(err) : "no resampler"));
  const size_t piece = static_cast<size_t>(std::max(1.0, r.in_rate / 1000));
  const std::vector<float> zeros(piece, 0.0f);
  std::vector<float> out(1 << 16);
  double in = 0, made_total = 0, most = 0;
  while (in < 3 * r.in_rate) {
    size_t used = 0, made = 0;
    Impl::check(soxr_process(twin.get(), zeros.data(), piece, &used, out.data(), out.size(), &made));
    in += static_cast<double>(used);
    made_total += static_cast<double>(made);
    most = std::max(most, in * r.out_rate / r.in_rate - made_total);
  }
  most += static_cast<double>(piece) * r.out_rate / r.in_rate;
  r.delay = most;
  return most;
}

namespace {

bool states_exact_length(int format) {
  const int major = format & SF_FORMAT_TYPEMASK;
  return major == SF_FORMAT_WAV || major == SF_FORMAT_AIFF || major == SF_FORMAT_W64 ||
         major == SF_FORMAT_RF64 || major == SF_FORMAT_AU || major == SF_FORMAT_CAF;
}

}  // namespace

struct AudioReader::Impl {
  std::string path;
  SF_INFO sf{};
  SndfilePtr file;
  AudioFileInfo info;
  std::unique_ptr<StreamResampler> resampler;  // none at 16 kHz
  std::vector<float> block, mono;
  int64_t frames_in = 0, samples_out = 0;
  bool done = false;
};

AudioReader::AudioReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
  Impl& r = *impl_;
  r.path = path;
  r.file = open_for_reading(path, r.sf);
  if (r.sf.channels <= 0 || r.sf.samplerate <= 0) throw file_error(path, "invalid audio header");
  if (r.sf.frames <= 0) throw file_error(path, "contains no audio");
  // Known from the header already: fail before hours of work, not after.
  if (states_exact_length(r.sf.format) && data_chunk_cut_short(r.file.get())) {
    throw file_error(path, "truncated: the data chunk runs past the end of the file");
  }
  r.info = {r.sf.samplerate, r.sf.channels, static_cast<int64_t>(r.sf.frames),
            major_format_name(r.sf.format)};
  if (r.sf.samplerate != grid::kSampleRate)
    r.resampler = std::make_unique<StreamResampler>(r.sf.samplerate, grid::kSampleRate);
  // Blocks as read_audio_16k_mono reads them: at most 1 M samples.
  r.block.resize(static_cast<size_t>(std::max(1, (1 << 20) / r.sf.channels)) *
                 static_cast<size_t>(r.sf.channels));
}

AudioReader::~AudioReader() = default;

const AudioFileInfo& AudioReader::info() const { return impl_->info; }

int64_t AudioReader::samples_read() const { return impl_->samples_out; }

bool AudioReader::read(std::vector<float>& out) {
  Impl& r = *impl_;
  const size_t before = out.size();
  while (!r.done && out.size() == before) {
    const int channels = r.sf.channels;
    const sf_count_t got =
        sf_readf_float(r.file.get(), r.block.data(), static_cast<sf_count_t>(r.block.size() / channels));
    if (got > 0) {
      const size_t n = static_cast<size_t>(got) * static_cast<size_t>(channels);
      for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(r.block[i])) throw file_error(r.path, "contains NaN or infinite samples");
      }
      r.frames_in += got;
      const float* mono = r.block.data();
      if (channels > 1) {
        r.mono = downmix(
            std::vector<float>(r.block.begin(), r.block.begin() + static_cast<std::ptrdiff_t>(n)), channels);
        mono = r.mono.data();
      }
      const auto frames = static_cast<size_t>(got);
      if (r.resampler) {
        r.resampler->process(mono, frames, out);
      } else {
        out.insert(out.end(), mono, mono + frames);
      }
      continue;
    }
    // The end: the checks read_audio_16k_mono makes on the whole file.
    r.done = true;
    if (sf_error(r.file.get()) != SF_ERR_NO_ERROR) {
      throw file_error(r.path, std::string("read error: ") + sf_strerror(r.file.get()));
    }
    if (r.frames_in == 0) throw file_error(r.path, "contains no audio");
    if (states_exact_length(r.sf.format) && r.frames_in < r.sf.frames) {
      throw file_error(r.path, "truncated: header announces " + std::to_string(r.sf.frames) +
                                   " frames but only " + std::to_string(r.frames_in) + " are present");
    }
    if (states_exact_length(r.sf.format) && data_chunk_cut_short(r.file.get())) {
      throw file_error(r.path, "truncated: the data chunk runs past the end of the file");
    }
    if (r.resampler) r.resampler->flush(out);
  }
  r.samples_out += static_cast<int64_t>(out.size() - before);
  return out.size() > before;
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
  if (sf_writef_float(impl_->file.get(), samples, static_cast<sf_count_t>(count)) !=
      static_cast<sf_count_t>(count)) {
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
