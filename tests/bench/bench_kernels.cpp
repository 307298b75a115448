// SPDX-License-Identifier: MIT
// The hand-written kernels at each instruction-set level this CPU runs
// (ACOUSTOK_MAX_CPU_ISA: the program runs itself once per level) against
// LibTorch's own kernels, in the same run on the same machine.
// Usage: bench_kernels [THREADS=1]
// Prints one line per kernel and level: its best time over repeats, in ms.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "acoustok/process.hpp"
#include "common/cpu_isa.hpp"
#include "common/torch/row_kernels.hpp"
#include "vocoder/torch/grouped_conv1d.hpp"

using Clock = std::chrono::steady_clock;
namespace common = acoustok::common;

namespace {

double best_ms(const std::function<void()>& fn, int repeats) {
  fn();  // warm: first-touch pages, oneDNN's JIT
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = Clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return best;
}

void report(const char* kernel, const char* who, double ms) {
  std::printf("%-44s %-8s %9.3f ms\n", kernel, who, ms);
  std::fflush(stdout);
}

// The MSD's grouped layers on a batch of 4 one-second windows (16 kHz, v1):
// forward and the three gradients, through our kernels or ATen's conv1d.
double msd_convs(bool ours) {
  struct Layer {
    int64_t in, out, groups, stride, time;
  };
  const Layer layers[] = {{128, 128, 4, 2, 16000},
                          {128, 256, 16, 2, 8000},
                          {256, 512, 16, 4, 4000},
                          {512, 1024, 16, 4, 1000},
                          {1024, 1024, 16, 1, 250}};
  double total = 0;
  for (const Layer& l : layers) {
    const auto x = torch::randn({4, l.in, l.time}).requires_grad_(true);
    const auto w = (torch::randn({l.out, l.in / l.groups, 41}) * 0.05).requires_grad_(true);
    const auto b = torch::randn({l.out}).requires_grad_(true);
    total += best_ms(
        [&] {
          auto y = ours ? acoustok::vocoder::grouped_conv1d(x, w, b, l.stride, 20, l.groups)
                        : torch::conv1d(x, w, b, l.stride, 20, 1, l.groups);
          y.sum().backward();
        },
        3);
  }
  return total;
}

void run_level() {
  const std::string level = common::cpu_isa_name(common::cpu_isa());
  const char* ours = level.c_str();
  torch::manual_seed(0);
  // One attention block of a minute of audio: 512 queries x 3000 keys.
  const auto scores = torch::randn({512, 3000}) * 4;
  auto work = scores.clone();
  auto inv = torch::empty({512});
  auto bf = torch::empty({512, 3000}, torch::kBFloat16);
  report("softmax numerators 512x3000", ours,
         best_ms(
             [&] {
               work.copy_(scores);
               acoustok::onednn::softmax_numerators(work, inv);
             },
             20));
  report("softmax numerators + bf16 copy 512x3000", ours,
         best_ms(
             [&] {
               work.copy_(scores);
               acoustok::onednn::softmax_numerators(work, inv, bf);
             },
             20));
  // A minute's frames through a 1024-wide layer norm, and the conv stack's 512-wide one with GELU.
  const auto x = torch::randn({3000, 1024}), g = torch::randn({1024}), b = torch::randn({1024});
  auto y = torch::empty_like(x);
  report("layer norm 3000x1024", ours,
         best_ms([&] { acoustok::onednn::layer_norm_rows(x, g, b, 1e-5, false, y); }, 20));
  const auto xc = torch::randn({12000, 512}), gc = torch::randn({512}), bc = torch::randn({512});
  auto yc = torch::empty_like(xc);
  report("layer norm + GELU 12000x512", ours,
         best_ms([&] { acoustok::onednn::layer_norm_rows(xc, gc, bc, 1e-5, true, yc); }, 20));
  if (level != "generic") report("MSD grouped convs fwd+bwd (5 layers, 4x1 s)", ours, msd_convs(true));
  if (common::cpu_isa() != common::detected_cpu_isa()) return;
  // LibTorch's kernels, once (in the run at the CPU's own level).
  report("softmax numerators 512x3000", "ATen",
         best_ms(
             [&] {
               work.copy_(scores);
               work = torch::softmax(work, 1);
             },
             20));
  report("layer norm 3000x1024", "ATen", best_ms([&] { y = torch::layer_norm(x, {1024}, g, b, 1e-5); }, 20));
  report("layer norm + GELU 12000x512", "ATen",
         best_ms([&] { yc = torch::gelu(torch::layer_norm(xc, {512}, gc, bc, 1e-5)); }, 20));
  report("MSD grouped convs fwd+bwd (5 layers, 4x1 s)", "ATen", msd_convs(false));
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  if (std::getenv(common::kMaxCpuIsaVariable)) {
    acoustok::ProcessOptions process;
    process.threads = threads;
    acoustok::configure_process(process);
    run_level();
    return 0;
  }
  std::printf("bench_kernels: %d thread(s); kernels %s\n", threads, common::cpu_isa_report().c_str());
  std::fflush(stdout);
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 1;
  self[n] = '\0';
  const common::CpuIsa levels[] = {common::CpuIsa::generic, common::CpuIsa::avx2, common::CpuIsa::avx512};
  for (common::CpuIsa level : levels) {
    if (level > common::detected_cpu_isa()) break;
    const std::string command = std::string(common::kMaxCpuIsaVariable) + "=" + common::cpu_isa_name(level) +
                                " '" + self + "' " + std::to_string(threads);
    if (std::system(command.c_str()) != 0) return 1;
  }
  return 0;
}
