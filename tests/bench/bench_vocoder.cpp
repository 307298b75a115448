// SPDX-License-Identifier: MIT
// Vocoder speed: synthesis real-time factor and training step time.
// Usage: bench_vocoder [THREADS=2] [BATCH=4] [DEVICE=cpu] [CONFIGS=tiny,small,v1] [synthesis]
// ("synthesis": no training step; tests/bench/bench_loaded.sh)
// Prints one JSON object per measurement (tests/bench/bench_vocoder.py reads them).
#include <chrono>
#include <cstdio>
#include <functional>
#include <sstream>
#include <string>

#include "acoustok/process.hpp"
#include "acoustok/vocoder_config.hpp"
#include "tools/openmp_wait_policy.hpp"
#include "vocoder/torch/checkpoint.hpp"
#include "vocoder/torch/cpu_generator.hpp"
#include "vocoder/torch/hifigan.hpp"
#include "vocoder/torch/train_step.hpp"

using namespace acoustok;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  acoustok::tools::use_passive_openmp_wait(argv);  // as acoustok synth runs
  const int threads = argc > 1 ? std::stoi(argv[1]) : 2;
  const int batch = argc > 2 ? std::stoi(argv[2]) : 4;
  const torch::Device device = vocoder::resolve_device(argc > 3 ? argv[3] : "cpu");
  std::string configs = argc > 4 ? argv[4] : "tiny,small,v1";
  const bool synthesis_only = argc > 5 && std::string(argv[5]) == "synthesis";
  // As acoustok synth runs: its threads and allocator settings.
  acoustok::ProcessOptions process;
  process.threads = threads;
  process.tune_allocator = true;
  acoustok::configure_process(process);
  torch::manual_seed(0);
  std::stringstream list(configs);
  std::string name;
  while (std::getline(list, name, ',')) {
    VocoderConfig c = VocoderConfig::preset(name);
    c.num_units = 100;
    vocoder::Generator g(c);
    g->to(device);
    g->eval();
    // Synthesis: 10 s of units, best of 3 after a warm-up: what synth runs
    // (on CPU the oneDNN generator) and, beside it, the LibTorch module.
    const int64_t frames = 500;
    auto units = torch::randint(0, 100, {1, frames}, torch::kInt64).to(device);
    const auto best_of_3 = [](const std::function<torch::Tensor()>& run) {
      c10::InferenceMode guard;
      run();
      double best = 1e30;
      for (int r = 0; r < 3; ++r) {
        const auto t0 = Clock::now();
        run();
        best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
      }
      return best;
    };
    const double module_s = best_of_3([&] { return g->forward(units).to(torch::kCPU); });
    double best = module_s, max_rel = 0.0;
    if (device.is_cpu()) {
      const vocoder::CpuGenerator cpu(*g);
      best = best_of_3([&] { return cpu.forward(units.view({-1})); });
      c10::InferenceMode guard;
      const auto a = cpu.forward(units.view({-1})), b = g->forward(units).view({-1});
      max_rel = ((a - b).abs().max() / b.abs().max()).item<double>();
    }
    std::printf(
        "{\"what\": \"synthesis\", \"config\": \"%s\", \"device\": \"%s\", \"threads\": %d, \"audio_s\": "
        "10.0, "
        "\"seconds\": %.4f, \"rtf\": %.4f, \"module_seconds\": %.4f, \"max_rel_diff_to_module\": %.2e}\n",
        name.c_str(), device.str().c_str(), threads, best, best / 10.0, module_s, max_rel);
    std::fflush(stdout);
    if (synthesis_only) continue;
    // Training: D + G step on 1 s windows (the config's window), mean of N steps after a warm-up.
    g->train();
    vocoder::Discriminator d(c);
    d->to(device);
    auto og = vocoder::make_optimizer(g->parameters(), 2e-4);
    auto od = vocoder::make_optimizer(d->parameters(), 2e-4);
    vocoder::MelLoss mel(device);
    const int64_t window = 50;
    auto x = torch::randint(0, 100, {batch, window}, torch::kInt64).to(device);
    auto y = (torch::randn({batch, 1, window * 320}) * 0.1).to(device);
    vocoder::train_step(g, d, *og, *od, mel, x, y);
    const int steps = name == "v1" ? 2 : 5;
    const auto t0 = Clock::now();
    for (int s = 0; s < steps; ++s) vocoder::train_step(g, d, *og, *od, mel, x, y);
    const double step = std::chrono::duration<double>(Clock::now() - t0).count() / steps;
    std::printf(
        "{\"what\": \"train_step\", \"config\": \"%s\", \"device\": \"%s\", \"threads\": %d, \"batch\": %d, "
        "\"window_s\": 1.0, \"seconds_per_step\": %.4f, \"windows_per_s\": %.3f}\n",
        name.c_str(), device.str().c_str(), threads, batch, step, batch / step);
    std::fflush(stdout);
  }
}
