// SPDX-License-Identifier: MIT
// Counts the process's calls to glibc's mallopt (which has no getter for what
// it sets): a definition in the test program comes before libc's for every
// library it loads, and passes each call on. Include it in one file per test
// program.
#pragma once

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <malloc.h>

#include <atomic>

#include "acoustok/process.hpp"

namespace acoustok::test {
inline std::atomic<int> mallopt_calls{0};

// The spy's own check, for a test of its own in each program: a test that
// expects no mallopt call would pass vacuously if the spy saw nothing, so it
// must see the one place that tunes the allocator, configure_process.
inline void expect_spy_sees_configure_process() {
  mallopt_calls = 0;
  ProcessOptions options;
  options.threads = 1;
  options.tune_allocator = true;
  configure_process(options);
  EXPECT_GT(mallopt_calls, 0);
  EXPECT_EQ(at::get_num_threads(), 1);
}
}  // namespace acoustok::test

extern "C" int mallopt(int param, int value) {
  using Mallopt = int (*)(int, int);
  static const auto next = reinterpret_cast<Mallopt>(dlsym(RTLD_NEXT, "mallopt"));
  ++acoustok::test::mallopt_calls;
  return next ? next(param, value) : 0;
}
