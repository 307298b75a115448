// SPDX-License-Identifier: MIT
// glibc malloc tuning for the feature model: the allocator part of
// configure_process (acoustok/process.hpp), made only when the program asks
// for it (ProcessOptions::tune_allocator).
#pragma once

namespace acoustok::common {

// mallopt's steady thresholds: large buffers of the forward pass stay in the heap.
void apply_allocator_settings();
// True once configure_process asked for tune_allocator.
bool allocator_tuned();

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
