#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Adds up the GoogleTest cases of meson test runs: 'N passed, M failed'.

  summarize.py BUILD [BUILD ...] [--stage NAME=EXIT_STATUS ...]

Every meson-logs/*.json of each build counts, oldest first, so that a test
run again (the sanitizer stage reruns a test whose LeakSanitizer tracer
crashed) counts by its last result. meson's gtest protocol leaves one JUnit
XML per test; a test that crashed before writing it counts as one failure.
A stage (fuzzing; a sanitizer stage that failed before any test ran) counts
as one test, passed when its exit status is 0 and it left no failed test."""
import argparse
import glob
import json
import os
import sys
import xml.etree.ElementTree as ET


def count_cases(build, name, result):
    # "acoustok:suite / test_x": the XML is named after the test alone.
    xmls = glob.glob(os.path.join(build, "**", name.split(" / ")[-1] + ".xml"), recursive=True)
    p = f = s = 0
    for path in xmls:
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError:
            continue
        for case in root.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                f += 1
            elif case.get("result") == "skipped" or case.find("skipped") is not None:
                s += 1
            else:
                p += 1
    if result not in ("OK", "EXPECTEDFAIL", "SKIP") and f == 0:
        f = 1  # crashed, timed out, or failed outside any case
    if not xmls and result == "OK":
        p = 1  # a plain (non-GoogleTest) test counts once
    return p, f, s


parser = argparse.ArgumentParser()
parser.add_argument("builds", nargs="+")
parser.add_argument("--stage", action="append", default=[])
args = parser.parse_args()

passed = failed = skipped = 0
runs = 0
for i, build in enumerate(args.builds):
    label = "" if i == 0 else os.path.basename(build.rstrip("/")) + ": "
    logs = sorted(glob.glob(os.path.join(build, "meson-logs", "*.json")), key=os.path.getmtime)
    results = {}
    for log in logs:
        for line in open(log):
            rec = json.loads(line)
            results[rec["name"]] = rec["result"]
    runs += len(results)
    for name, result in sorted(results.items()):
        p, f, s = count_cases(build, name, result)
        passed, failed, skipped = passed + p, failed + f, skipped + s
        print(f"  {label}{name}: {p} passed, {f} failed" + (f", {s} skipped" if s else ""))
for stage in args.stage:
    name, _, status = stage.partition("=")
    ok = status == "0"
    passed, failed = passed + ok, failed + (not ok)
    runs += 1
    print(f"  {name} stage: exit status {status}")
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed or not runs else 0)
