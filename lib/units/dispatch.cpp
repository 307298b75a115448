// SPDX-License-Identifier: MIT
#include "units/kernels.hpp"

#include <cstdlib>
#include <cstring>

namespace acoustok::units {

const Kernels& kernels() {
  static const Kernels* chosen = []() {
    // ACOUSTOK_KERNELS=generic|avx2 forces a narrower variant (tests, timing).
    const char* force = std::getenv("ACOUSTOK_KERNELS");
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    const bool want512 = !force || std::strcmp(force, "avx512") == 0;
    const bool want2 = want512 || std::strcmp(force, "avx2") == 0;
    const bool f16c = __builtin_cpu_supports("f16c");
    if (want512 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma") && f16c)
      return &avx512::table;
    if (want2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c) return &avx2::table;
#else
    (void)force;
#endif
    return &generic::table;
  }();
  return *chosen;
}

}  // namespace acoustok::units
