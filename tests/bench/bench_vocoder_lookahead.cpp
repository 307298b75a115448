// SPDX-License-Identifier: MIT
// Low-latency unitvocoder: how far streamed synthesis with a short lookahead
// is from synthesising the same units whole, and what it costs.
// Usage: [CHUNKS=1,5,10,25] bench_vocoder_lookahead [THREADS=2] [CONFIGS=tiny,v1] [SECONDS=10]
// For every config, lookahead in {0, 1, 2, 4, 8, the receptive field} and
// chunk-frames in {1, 5, 10, 25}: the frame-aligned MCD (SPTK mel-cepstra as
// `vocoder test` computes them, frame k of one against frame k of the
// other, no DTW: both have the same length), the SNR of streamed against
// whole synthesis, the largest sample step at a chunk join relative to the
// largest step of whole synthesis at the same places, the latency, the
// real-time factor of the stream fed one unit at a time, as a live source
// feeds it, and its process CPU seconds per second of audio (all threads:
// less disturbed than the RTF when something else shares the CPUs). Random weights (seeded, rescaled to make
// a waveform, below): a trained generator's frames likely depend on far context less. One Markdown row per
// setting; the first line names the CPU.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include <unistd.h>

#include "acoustok/process.hpp"
#include "acoustok/vocoder.hpp"
#include "acoustok/vocoder_metrics.hpp"
#include "vocoder/mel_cepstral_distortion.hpp"
#include "vocoder/torch/checkpoint.hpp"
#include "vocoder/torch/hifigan.hpp"

using namespace acoustok;
using Clock = std::chrono::steady_clock;

namespace {

std::string cpu_name() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

// Speech-like units: runs of 1..6 frames of one unit, as undeduplicated
// k-means units come.
std::vector<int32_t> speech_like_units(size_t n, int k) {
  std::mt19937 rng(7);
  std::vector<int32_t> u;
  while (u.size() < n) {
    const auto unit = static_cast<int32_t>(rng() % static_cast<unsigned>(k));
    for (unsigned r = 1 + rng() % 6; r > 0 && u.size() < n; --r) u.push_back(unit);
  }
  return u;
}

double frame_aligned_mcd(const std::vector<float>& x, const std::vector<float>& y) {
  const auto a = vocoder::mel_cepstra(x.data(), x.size()), b = vocoder::mel_cepstra(y.data(), y.size());
  const size_t n = std::min(a.size(), b.size());
  double sum = 0;
  for (size_t k = 0; k < n; ++k) {
    double d2 = 0;
    for (size_t d = 0; d < a[k].size(); ++d) d2 += (a[k][d] - b[k][d]) * (a[k][d] - b[k][d]);
    sum += 10.0 / std::log(10.0) * std::sqrt(2.0 * d2);
  }
  return n ? sum / static_cast<double>(n) : NAN;
}

// Largest |x[i] - x[i-1]| over the 4 samples on either side of each join.
double step_at_joins(const std::vector<float>& x, const std::vector<size_t>& joins) {
  double worst = 0;
  for (size_t j : joins)
    for (size_t i = j > 4 ? j - 4 : 1; i < std::min(x.size(), j + 4); ++i)
      worst = std::max(worst, static_cast<double>(std::abs(x[i] - x[i - 1])));
  return worst;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::stoi(argv[1]) : 2;
  const std::string configs = argc > 2 ? argv[2] : "tiny,v1";
  const double seconds = argc > 3 ? std::stod(argv[3]) : 10.0;
  ProcessOptions process;
  process.threads = threads;
  process.tune_allocator = true;
  configure_process(process);
  std::printf("machine: %s, %u CPUs, %d threads; %.0f s of speech-like units, random weights\n\n",
              cpu_name().c_str(), std::thread::hardware_concurrency(), threads, seconds);
  const std::string dir = "/tmp/bench_vocoder_lookahead_" + std::to_string(::getpid());
  std::system(("mkdir -p " + dir).c_str());
  std::printf(
      "| config | receptive field | chunk | lookahead | latency (ms) | MCD vs whole (dB) | SNR vs whole (dB) "
      "| join step / whole's | RTF | CPU s per s |\n|---|---|---|---|---|---|---|---|---|---|\n");
  std::stringstream list(configs);
  for (std::string name; std::getline(list, name, ',');) {
    torch::manual_seed(0);
    VocoderConfig c = VocoderConfig::preset(name);
    c.num_units = 100;
    vocoder::Generator g(c);
    {
      // HiFi-GAN's initialisation (normal, std 0.01) gives a near-constant
      // output whose tiny ripple says little; unit filter norms and no
      // output bias give a waveform that depends on its context.
      torch::NoGradGuard no_grad;
      for (auto& p : g->named_parameters()) {
        const std::string& key = p.key();
        if (key.size() > 8 && key.compare(key.size() - 8, 8, "weight_g") == 0) p.value().fill_(1.0);
        if (key == "conv_post.bias") p.value().zero_();
      }
    }
    const std::string path = dir + "/" + name + ".pt";
    vocoder::write_checkpoint(path, c, {}, {&g});
    auto voc = Vocoder::load(path, "cpu");
    const int field = c.receptive_field_frames();
    const auto units = speech_like_units(static_cast<size_t>(seconds * 50), c.num_units);
    const auto whole = voc->synthesize(units.data(), units.size());
    double level = 0;
    for (float x : whole) level += static_cast<double>(x) * x;
    std::fprintf(stderr, "%s: whole synthesis RMS %.3f\n", name.c_str(), std::sqrt(level / whole.size()));
    std::vector<int> chunks{1, 5, 10, 25};
    if (const char* env = std::getenv("CHUNKS")) {  // e.g. CHUNKS=10,25 (chunk 1 of v1 is slow)
      chunks.clear();
      std::stringstream cl(env);
      for (std::string x; std::getline(cl, x, ',');) chunks.push_back(std::stoi(x));
    }
    for (int chunk : chunks) {
      for (int lookahead : {0, 1, 2, 4, 8, field}) {
        {  // warm-up: the steady state's input lengths (oneDNN makes its primitives per shape)
          StreamingVocoder w(*voc, chunk, -1, lookahead);
          w.push(units.data(), std::min(units.size(), static_cast<size_t>(3 * chunk + 2 * field)));
        }
        StreamingVocoder s(*voc, chunk, -1, lookahead);
        std::vector<float> out;
        std::vector<size_t> joins;
        const auto t0 = Clock::now();
        const std::clock_t cpu0 = std::clock();
        for (size_t i = 0; i < units.size(); ++i) {
          const auto part = s.push(&units[i], 1);
          if (!part.empty() && !out.empty()) joins.push_back(out.size());
          out.insert(out.end(), part.begin(), part.end());
        }
        const auto tail = s.finish();
        if (!tail.empty() && !out.empty()) joins.push_back(out.size());
        out.insert(out.end(), tail.begin(), tail.end());
        const double took = std::chrono::duration<double>(Clock::now() - t0).count();
        const double cpu = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
        if (out.size() != whole.size()) {
          std::fprintf(stderr, "length %zu != %zu\n", out.size(), whole.size());
          return 1;
        }
        const double step_ratio = step_at_joins(out, joins) / std::max(1e-12, step_at_joins(whole, joins));
        const double audio_s = static_cast<double>(units.size()) / 50.0;
        std::printf("| %s | %d | %d | %d%s | %d | %.3f | %.1f | %.2f | %.3f | %.3f |\n", name.c_str(), field,
                    chunk, lookahead, lookahead == field ? " (all)" : "", s.latency_frames() * 20,
                    frame_aligned_mcd(whole, out), snr_db(whole.data(), whole.size(), out.data(), out.size()),
                    step_ratio, took / audio_s, cpu / audio_s);
        std::fflush(stdout);
      }
    }
  }
  std::system(("rm -rf " + dir).c_str());
}
