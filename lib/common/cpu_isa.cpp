// SPDX-License-Identifier: MIT
#include "common/cpu_isa.hpp"

#include <strings.h>

#include <algorithm>
#include <cstdlib>

#include "acoustok/error.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace acoustok::common {
namespace {

constexpr CpuIsa kLevels[] = {CpuIsa::generic, CpuIsa::avx2, CpuIsa::avx512};

bool has_f16c() {
#if defined(__x86_64__) || defined(__i386__)
  // cpuid leaf 1, ECX bit 29 (clang's __builtin_cpu_supports has no "f16c").
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29)) != 0;
#else
  return false;
#endif
}

CpuIsa detect() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") || !has_f16c())
    return CpuIsa::generic;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
    return CpuIsa::avx512;
  return CpuIsa::avx2;
#else
  return CpuIsa::generic;
#endif
}

// The variable, parsed once: its level, or the line that refuses it.
struct Cap {
  bool set = false;
  CpuIsa level = CpuIsa::avx512;
  std::string value, error;
};

const Cap& cap() {
  static const Cap parsed = [] {
    Cap c;
    const char* v = std::getenv(kMaxCpuIsaVariable);
    if (!v) return c;
    c.set = true;
    c.value = v;
    for (CpuIsa level : kLevels) {
      if (strcasecmp(v, cpu_isa_name(level)) == 0) {
        c.level = level;
        return c;
      }
    }
    c.error =
        std::string(kMaxCpuIsaVariable) + "=" + v + ": not an instruction-set level (generic, avx2, avx512)";
    return c;
  }();
  if (!parsed.error.empty()) throw Error(parsed.error);
  return parsed;
}

}  // namespace

CpuIsa detected_cpu_isa() {
  static const CpuIsa level = detect();
  return level;
}

CpuIsa cpu_isa() { return std::min(detected_cpu_isa(), cap().level); }

bool cpu_isa_capped() { return cap().level < detected_cpu_isa(); }

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::generic:
      return "generic";
    case CpuIsa::avx2:
      return "avx2";
    case CpuIsa::avx512:
      return "avx512";
  }
  return "?";
}

std::string cpu_isa_report() {
  std::string line = cpu_isa_name(cpu_isa());
  line += std::string(" (CPU: ") + cpu_isa_name(detected_cpu_isa());
  if (cap().set) line += std::string(", ") + kMaxCpuIsaVariable + "=" + cap().value;
  return line + ")";
}

}  // namespace acoustok::common
