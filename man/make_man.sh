#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Man pages from the command line's own --help (help2man): acoustok(1) and
# one page per subcommand, acoustok-SUB(1) ("acoustok vocoder train" ->
# acoustok-vocoder-train.1).
#   make_man.sh ACOUSTOK OUT_DIR SUBCOMMAND...   (a subcommand: "vocoder train")
set -euo pipefail
acoustok=$1 out=$2
shift 2
mkdir -p "$out"
h2m() {  # PAGE NAME HELP_OPTION
  help2man --no-info --no-discard-stderr --section 1 --source "acoustok" --manual "acoustok manual" \
    --name "$2" --help-option "$3" --version-option "--version" --output "$out/$1.1.tmp" "$acoustok"
  mv "$out/$1.1.tmp" "$out/$1.1"
}
h2m acoustok "speech to discrete units, motifs and back" --help
for sub in "$@"; do
  page="acoustok-${sub// /-}"
  # The subcommand's one-line description, from its --help.
  name=$("$acoustok" $sub --help | head -1)
  h2m "$page" "$name" "$sub --help"
done
