// SPDX-License-Identifier: MIT
#include "common/process.hpp"

#include <malloc.h>
#include <sched.h>

#include <atomic>

namespace acoustok {

int available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  return 1;
}

namespace common {

namespace {
std::atomic<bool> tuned{false};
constexpr int kSteadyMmapThreshold = 32 << 20;  // glibc's largest automatic value
constexpr int kSteadyTrimThreshold = 64 << 20;
constexpr int kLoadMmapThreshold = 256 << 10;
}  // namespace

void apply_allocator_settings() {
  mallopt(M_MMAP_THRESHOLD, kSteadyMmapThreshold);
  mallopt(M_TRIM_THRESHOLD, kSteadyTrimThreshold);
  tuned = true;
}

bool allocator_tuned() { return tuned; }

ModelLoadAllocation::ModelLoadAllocation() : active_(tuned) {
  if (active_) mallopt(M_MMAP_THRESHOLD, kLoadMmapThreshold);
}

ModelLoadAllocation::~ModelLoadAllocation() {
  if (active_) apply_allocator_settings();
}

}  // namespace common

}  // namespace acoustok
