#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Refresh the OPTIONS of the hand-written man pages from the program's --help.

  man/update_options.py BUILD/lib/tools/acoustok [PAGE.1...]

Each page holds its options between the lines `.\\" BEGIN OPTIONS SUBCOMMAND...`
and `.\\" END OPTIONS`; this script rewrites what lies between them from
`acoustok SUBCOMMAND --help` (one .SS per subcommand when a page has several),
so the pages say what --help says. Everything else in a page is written by
hand. test_cli_conventions checks that every option of --help is in its page.
"""
import os
import re
import subprocess
import sys

BEGIN = re.compile(r'^\.\\" BEGIN OPTIONS ?(.*)$')
END = '.\\" END OPTIONS'


def roff(text):
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text[:1] in (".", "'") else text


def parse_help(text):
    """[(heading, [(names, value, description)])] from CLI11's --help."""
    groups, entries = [], None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if re.match(r"^(Positionals|Options):$", line):
            entries = []
            groups.append((line[:-1], entries))
            continue
        if not line.strip() or not line.startswith("  ") or line.startswith("   ") or entries is None:
            if line and not line.startswith(" "):
                entries = None
            continue
        # CLI11 pads the names to column 30; longer ones put the text on the next line.
        if len(line) > 30 and line[29] == " ":
            head, desc = line[2:30], line[30:].strip()
        else:
            head, desc = line[2:], ""
        if not desc and i < len(lines) and lines[i].startswith(" " * 30):
            desc = lines[i].strip()
            i += 1
        names, _, value = head.strip().partition(" ")
        entries.append((names, value.strip(), desc))
    return groups


def option_block(acoustok, subcommands):
    out = []
    for sub in subcommands:
        args = sub.split() if sub else []
        text = subprocess.run([acoustok] + args + ["--help"], check=True, capture_output=True, text=True).stdout
        if len(subcommands) > 1:
            out.append('.SS "acoustok %s"' % sub)
        for heading, entries in parse_help(text):
            for names, value, desc in entries:
                out.append(".TP")
                if heading == "Positionals":
                    out.append("\\fI%s\\fR%s" % (roff(names.upper()), roff(" " + value) if value else ""))
                else:
                    required = value.endswith("(required)")
                    value = value[:-len("(required)")].strip() if required else value
                    bold = ", ".join("\\fB%s\\fR" % roff(n) for n in names.split(","))
                    out.append(bold + (" \\fI%s\\fR" % roff(value) if value else "") + (" (required)" if required else ""))
                out.append(roff(desc))
    return out


def update(acoustok, page):
    lines = open(page, encoding="utf-8").read().splitlines()
    out, i = [], 0
    while i < len(lines):
        m = BEGIN.match(lines[i])
        out.append(lines[i])
        i += 1
        if not m:
            continue
        subs = [s.replace("_", " ") for s in m.group(1).split()] or [""]
        while i < len(lines) and lines[i] != END:
            i += 1
        out.extend(option_block(acoustok, subs))
    with open(page, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


def main():
    acoustok = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    pages = sys.argv[2:] or sorted(os.path.join(here, p) for p in os.listdir(here) if p.endswith(".1"))
    for page in pages:
        update(acoustok, page)


if __name__ == "__main__":
    main()
