// SPDX-License-Identifier: MIT
// Process-wide settings, made only when a program asks for them. Loading a
// model or running it never changes the process on its own: the `acoustok`
// command line calls configure_process(), an embedder calls it or not, and
// the `xlsrfeat` element sets the threads alone, only when its `threads`
// property asks.
//
// Thread-safety: call it from one thread, before models run (LibTorch's
// thread count is one for the whole process).
#pragma once

#include <string>

namespace acoustok {

struct ProcessOptions {
  // Intra-op threads of LibTorch (and so of OpenMP and oneDNN inside it):
  // > 0 sets that many, at most available_cpus() (usable_threads); 0 sets
  // available_cpus().
  int threads = 0;
  // glibc malloc settings for the feature model (Linux): keep large buffers of
  // the forward pass in the heap between calls (mmap threshold 32 MB, trim
  // threshold 64 MB) instead of faulting them in afresh each time, and give
  // every weight its own mapping while a model loads so the heap keeps no
  // holes: lower peak memory and less time per minute of audio (README.md,
  // "Speed").
  bool tune_allocator = false;
};

// Throws acoustok::Error on a bad ACOUSTOK_MAX_CPU_ISA in the environment.
void configure_process(const ProcessOptions& options);

// The CPUs this process may use: its affinity mask, lowered to the cgroup's
// CPU quota when there is one (containers, Slurm); at least 1.
int available_cpus();

// The threads a count asked for (an option, an element property) runs with:
// 0 or less is available_cpus(); more than available_cpus() is lowered to it,
// with one warning per process (more threads than CPUs only add switching, and
// thousands of them stall the machine). Every thread count of the command
// line, the elements and configure_process passes through here.
int usable_threads(int requested);

// One line on what the process runs with: the CPUs it may use (affinity,
// cgroup quota), the threads LibTorch, OpenMP and oneDNN will use and the
// instruction set of the hand-written kernels (what `acoustok --verbose` prints).
std::string process_report();

}  // namespace acoustok
