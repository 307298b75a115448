#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The build outputs the sanitizer stage's tests need: every library and
plugin, and the programs the selected tests run (meson's own record of each
test's dependencies), so that tests/asan/run.sh does not compile the programs
of the tests it leaves out.

    tests/asan/needed_targets.py BUILD_DIR < TEST_LIST

TEST_LIST: `meson test --list` lines ("project:suite / name"). Prints the
outputs to give ninja, one per line, relative to BUILD_DIR.
"""
import json
import os
import subprocess
import sys


def introspect(build, what):
    out = subprocess.run(["meson", "introspect", what, build], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    build = os.path.abspath(sys.argv[1])
    names = {line.rsplit(" / ", 1)[-1].strip() for line in sys.stdin if " / " in line}
    targets = {t["id"]: t for t in introspect(build, "--targets")}
    wanted = set()
    for t in targets.values():
        if t["type"] in ("shared library", "shared module") and t.get("build_by_default", True):
            wanted.add(t["id"])
    found = set()
    for test in introspect(build, "--tests"):
        if test["name"] in names:
            found.add(test["name"])
            wanted.update(d for d in test["depends"] if d in targets)
    missing = names - found
    if missing:
        sys.exit("needed_targets.py: no such tests in %s: %s" % (build, " ".join(sorted(missing))))
    for tid in sorted(wanted):
        for f in targets[tid]["filename"]:
            print(os.path.relpath(f, build))


if __name__ == "__main__":
    main()
