// SPDX-License-Identifier: MIT
// The library side of acoustok/process.hpp.
#pragma once

#include "acoustok/process.hpp"

namespace acoustok::common {

// The allocator part of configure_process (glibc's mallopt).
void apply_allocator_settings();
// True once configure_process asked for tune_allocator.
bool allocator_tuned();
// "CPUs: N usable (affinity A, cgroup quota Q|none)".
std::string cpu_report();

// While alive, and only when the program opted into tune_allocator: every
// allocation of 256 kB or more gets its own mapping (what a model load frees
// goes back to the system instead of leaving holes between weights).
class ModelLoadAllocation {
 public:
  ModelLoadAllocation();
  ~ModelLoadAllocation();
  ModelLoadAllocation(const ModelLoadAllocation&) = delete;
  ModelLoadAllocation& operator=(const ModelLoadAllocation&) = delete;

 private:
  bool active_ = false;
};

}  // namespace acoustok::common
