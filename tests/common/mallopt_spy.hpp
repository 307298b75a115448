// SPDX-License-Identifier: MIT
// Counts the process's calls to glibc's mallopt (which has no getter for what
// it sets): a definition in the test program comes before libc's for every
// library it loads, and passes each call on. Include it in one file per test
// program.
#pragma once

#include <dlfcn.h>
#include <malloc.h>

#include <atomic>

namespace acoustok::test {
inline std::atomic<int> mallopt_calls{0};
}  // namespace acoustok::test

extern "C" int mallopt(int param, int value) {
  using Mallopt = int (*)(int, int);
  static const auto next = reinterpret_cast<Mallopt>(dlsym(RTLD_NEXT, "mallopt"));
  ++acoustok::test::mallopt_calls;
  return next ? next(param, value) : 0;
}
