#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""One line on the CPU a benchmark ran on: its model name, the
microarchitecture its cpuid family/model say (a VM's model name is often just
"AMD EPYC" or "Intel Xeon Processor"), the CPUs this process may use and the
instruction sets our kernels choose between. Every benchmark prints it.

    tests/bench/machine.py            (or: from machine import describe)
"""
import os

# (vendor, family, first model, last model) -> name; the families and models
# Linux's and the vendors' documentation give for server parts.
MICROARCHITECTURES = [
    ("AuthenticAMD", 23, 0x00, 0x2F, "Zen / Zen+"),
    ("AuthenticAMD", 23, 0x30, 0x7F, "Zen 2"),
    ("AuthenticAMD", 25, 0x00, 0x0F, "Zen 3"),
    ("AuthenticAMD", 25, 0x10, 0x1F, "Zen 4"),
    ("AuthenticAMD", 25, 0x20, 0x5F, "Zen 3"),
    ("AuthenticAMD", 25, 0x60, 0xAF, "Zen 4"),
    ("AuthenticAMD", 26, 0x00, 0xFF, "Zen 5"),
    ("GenuineIntel", 6, 0x55, 0x55, "Skylake-SP / Cascade Lake / Cooper Lake"),
    ("GenuineIntel", 6, 0x6A, 0x6C, "Ice Lake-SP"),
    ("GenuineIntel", 6, 0x8F, 0x8F, "Sapphire Rapids"),
    ("GenuineIntel", 6, 0xCF, 0xCF, "Emerald Rapids"),
    ("GenuineIntel", 6, 0xAD, 0xAE, "Granite Rapids"),
]

# The instruction sets that decide which kernels run (k-means variants,
# oneDNN's fp32/bf16 paths).
ISA = ["avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile"]


def cpuinfo():
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first CPU is enough
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def describe():
    info = cpuinfo()
    vendor = info.get("vendor_id", "?")
    family = int(info.get("cpu family", "-1"))
    model = int(info.get("model", "-1"))
    arch = next((name for v, f, lo, hi, name in MICROARCHITECTURES if v == vendor and f == family and lo <= model <= hi),
                None)
    flags = set(info.get("flags", "").split())
    have = [f for f in ISA if f in flags]
    missing = [f for f in ("avx512f", "avx512_bf16", "amx_bf16") if f not in flags]
    cpus = len(os.sched_getaffinity(0))
    return "%s (%sfamily %d model %d), %d CPUs; ISA: %s%s" % (
        info.get("model name", "unknown CPU"), arch + ", " if arch else "", family, model, cpus, " ".join(have),
        " (no %s)" % ", ".join(missing) if missing else "")


if __name__ == "__main__":
    print(describe())
