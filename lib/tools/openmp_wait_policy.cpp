// SPDX-License-Identifier: MIT
// Why passive: at the end of each parallel region of LibTorch and oneDNN,
// libgomp's threads spin for up to ~300,000 pauses (milliseconds) before they
// sleep. On a machine whose cores are shared with another busy process, a
// spinning thread holds a core the other thread of the same region needs, and
// every barrier waits for a thread the scheduler has put behind the
// neighbour: a run slows far more than the CPU it lost (docs/command-line.md,
// "Threads"; tests/bench/bench_loaded.sh).
//
// Why a restart: libgomp reads its environment once, in its constructor, and
// this program loads it at start (libsoxr links it), before main; glibc then
// rebuilds the environment from the one the process was started with, so no
// earlier hook can change what libgomp reads. Starting again costs a few
// milliseconds. Libraries and elements never do this: it is the program's
// choice (docs/gstreamer.md says what an application can set).
#include "openmp_wait_policy.hpp"

#include <unistd.h>

#include <cstdlib>

namespace acoustok::tools {

void use_passive_openmp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
  if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
  execv("/proc/self/exe", argv);
  // Not restarted (no /proc): this run keeps the default; the variable stays
  // set for the programs it starts.
}

}  // namespace acoustok::tools
