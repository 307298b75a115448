// SPDX-License-Identifier: MIT
#include "units/kernels.hpp"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace acoustok::units {

bool cpu_has_f16c() {
#if defined(__x86_64__) || defined(__i386__)
  // cpuid leaf 1, ECX bit 29 (clang's __builtin_cpu_supports has no "f16c").
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29)) != 0;
#else
  return false;
#endif
}

const Kernels& kernels() {
  static const Kernels* chosen = []() {
    // ACOUSTOK_KERNELS=generic|avx2 forces a narrower variant (tests, timing).
    const char* force = std::getenv("ACOUSTOK_KERNELS");
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    const bool want512 = !force || std::strcmp(force, "avx512") == 0;
    const bool want2 = want512 || std::strcmp(force, "avx2") == 0;
    const bool f16c = cpu_has_f16c();
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
