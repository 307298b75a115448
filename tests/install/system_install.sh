#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The install as a user makes it: `meson install` with the build's prefix
# (/usr/local by default) into the live system, no DESTDIR, then the installed
# programs, plugins and library used from a clean environment (env -i: no
# LD_LIBRARY_PATH, no GST_PLUGIN_PATH). Run by test_install.sh as root in a
# private mount namespace (unshare --mount): /usr and /etc are overlays whose
# writes (the files, ld.so.cache) land in a tmpfs that disappears with the
# namespace, so the machine and tests running beside it see nothing.
# Exit 77 when the overlays cannot be mounted here (nothing was installed).
#   system_install.sh BUILD_DIR SOURCE_DIR WORK EMBED_OUTPUT
set -euo pipefail
build=$1 src=$2 work=$3 embed_ref=$4
fail() { echo "FAIL: $*"; exit 1; }

mkdir -p "$work/overlay"
mount -t tmpfs acoustok-install "$work/overlay" || exit 77
for d in usr etc; do
  mkdir -p "$work/overlay/$d-upper" "$work/overlay/$d-work"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$work/overlay/$d-upper,workdir=$work/overlay/$d-work" "/$d" ||
    exit 77
done

option() {
  meson introspect "$build" --buildoptions | /usr/bin/python3 -c \
    'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]==sys.argv[1]))' "$1"
}
prefix=$(option prefix)
sanitize=$(option b_sanitize)
version=$(meson introspect "$build" --projectinfo | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
meson install -C "$build" --no-rebuild >"$work/system-install.log" 2>&1 ||
  { cat "$work/system-install.log"; fail "meson install (prefix $prefix, no DESTDIR)"; }
grep -q "acoustok: " "$work/system-install.log" &&
  { grep "acoustok: " "$work/system-install.log"; fail "the install script asked for a manual step"; }

home=$work/home
mkdir -p "$home"
clean=(env -i HOME="$home" PATH="$prefix/bin:/usr/bin:/bin" LANG=C.UTF-8)
if [ "$sanitize" != none ]; then
  # A sanitizer build (tests/asan/run.sh): its hosts' wrappers and options.
  clean+=(PATH="$PATH" ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}"
          LSAN_OPTIONS="${LSAN_OPTIONS:-}" GST_REGISTRY_FORK="${GST_REGISTRY_FORK:-}")
fi

out=$("${clean[@]}" acoustok --version 2>&1) || { echo "$out"; fail "the installed acoustok --version"; }
[ "$out" = "acoustok $version" ] || fail "acoustok --version printed '$out', not 'acoustok $version'"
echo "clean environment: $out"
for element in xlsrfeat bpemotif silencesplit; do
  out=$("${clean[@]}" gst-inspect-1.0 $element 2>&1) || { echo "$out" | tail -5; fail "gst-inspect-1.0 $element"; }
  grep -q "Long-name" <<<"$out" || fail "gst-inspect-1.0 $element printed no element"
done
echo "clean environment: gst-inspect-1.0 finds xlsrfeat, bpemotif and silencesplit"

# The libraries the programs load on first use, from the installed libdir.
model=$src/tests/fixtures/xlsr/xlsr_st audio=$src/tests/fixtures/xlsr/speech_pt.wav
"${clean[@]}" acoustok features --model "$model" --layer 2 "$audio" -o "$work/system.npy" -q ||
  fail "the installed acoustok features (libacoustok-torch)"
"${clean[@]}" acoustok bpe encode "$src/tests/fixtures/bpe/ref.model" "$src/tests/fixtures/bpe/tiny.txt" \
  >"$work/system_motifs.txt" 2>/dev/null || fail "the installed acoustok bpe encode (libacoustok-sentencepiece)"
[ -s "$work/system_motifs.txt" ] || fail "the installed acoustok bpe encode wrote nothing"

# An embedder built with pkg-config's default search path, run as it is.
"${clean[@]}" sh -c 'g++ -std=c++17 "$1" $(pkg-config --cflags --libs acoustok) $2 -o "$3"' sh \
  "$src/examples/embed/embed_core.cpp" "$([ "$sanitize" = none ] || echo "-fsanitize=$sanitize")" "$work/embed_system" ||
  fail "embed_core does not build against the installed acoustok.pc"
"${clean[@]}" "$work/embed_system" "$audio" "$model" 2 "$work/km.safetensors" >"$work/embed_system.txt" ||
  fail "embed_core, built against the installed library, does not run"
cmp -s "$embed_ref" "$work/embed_system.txt" || fail "embed_core from the system install differs from the DESTDIR one"
echo "clean environment: features, bpe encode and an embedder run from the install"
