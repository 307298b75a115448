// SPDX-License-Identifier: MIT
#include "acoustok/process.hpp"

#include <malloc.h>
#include <sched.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>

#include "common/cpu_isa.hpp"
#include "common/log_printf.hpp"
#include "common/malloc_tuning.hpp"
#include "common/torch_backend.hpp"

namespace acoustok {

namespace {

// cgroup CPU quota (v2 cpu.max "QUOTA PERIOD", v1 cfs_quota_us / cfs_period_us)
// rounded up, or 0 when there is none.
int cgroup_cpu_limit() {
  auto read_two = [](const char* path, double* a, double* b, bool v2) {
    std::ifstream f(path);
    std::string first;
    if (!(f >> first)) return false;
    if (v2 && first == "max") return false;
    try {
      *a = std::stod(first);
    } catch (const std::exception&) {
      return false;
    }
    if (v2) return static_cast<bool>(f >> *b);
    std::ifstream g("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
    return static_cast<bool>(g >> *b);
  };
  double quota = 0, period = 0;
  if (!read_two("/sys/fs/cgroup/cpu.max", &quota, &period, true) &&
      !read_two("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", &quota, &period, false)) {
    return 0;
  }
  if (quota <= 0 || period <= 0) return 0;
  return static_cast<int>(std::ceil(quota / period));
}

int affinity_cpus() {
  int n = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
  return n <= 0 ? 1 : n;
}

}  // namespace

int available_cpus() {
  int n = affinity_cpus();
  const int quota = cgroup_cpu_limit();
  if (quota > 0 && quota < n) n = quota;
  return n;
}

int usable_threads(int requested) {
  const int cpus = available_cpus();
  if (requested <= 0) return cpus;
  if (requested <= cpus) return requested;
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true)) {
    common::log(LogLevel::warning,
                "acoustok: warning: %d threads asked for, %d used: the CPUs this process may use", requested,
                cpus);
  }
  return cpus;
}

namespace {
// What libgomp was started with (it reads the environment once, at start).
std::string openmp_wait_setting() {
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  const char* spin = std::getenv("GOMP_SPINCOUNT");
  if (policy) return std::string("OMP_WAIT_POLICY=") + policy;
  if (spin) return std::string("GOMP_SPINCOUNT=") + spin;
  return "the runtime's default (spins)";
}
}  // namespace

std::string process_report() {
  const int quota = cgroup_cpu_limit();
  return "CPUs: " + std::to_string(available_cpus()) + " usable (affinity " +
         std::to_string(affinity_cpus()) + ", cgroup quota " +
         (quota > 0 ? std::to_string(quota) : std::string("none")) + "); " + common::torch_report() +
         "; allocator tuned: " + (common::allocator_tuned() ? "yes" : "no") +
         "; OpenMP wait: " + openmp_wait_setting() + "; kernels: " + common::cpu_isa_report();
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
