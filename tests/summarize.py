#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Adds up the GoogleTest cases of a meson test run: 'N passed, M failed'.

meson's gtest protocol leaves one JUnit XML per suite; a suite that crashed
before writing it counts as one failure."""
import glob
import json
import os
import sys
import xml.etree.ElementTree as ET

build = sys.argv[1]
passed = failed = skipped = 0
results = {}
log = os.path.join(build, "meson-logs", "testlog.json")
if os.path.exists(log):
    for line in open(log):
        rec = json.loads(line)
        results[rec["name"]] = rec["result"]
for name, result in sorted(results.items()):
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
    passed, failed, skipped = passed + p, failed + f, skipped + s
    print(f"  {name}: {p} passed, {f} failed" + (f", {s} skipped" if s else ""))
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed or not results else 0)
