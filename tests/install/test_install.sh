#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `meson install` into a DESTDIR as a package build would install acoustok
# (found there through LD_LIBRARY_PATH), then:
#  - the plugins land in GStreamer's own plugin folder (pkg-config's
#    pluginsdir), where gst-inspect-1.0 finds xlsrfeat with no GST_PLUGIN_PATH;
#  - examples/embed/embed_core.cpp builds against the installed acoustok.pc
#    alone (no source tree on the include path) and runs: its segments and
#    unit counts equal `acoustok segment` and `acoustok features` on the same
#    recording.
# Then, as root, `meson install` as a user runs it, into the live system with
# no DESTDIR, inside a private mount namespace whose /usr and /etc are
# throwaway overlays (system_install.sh): `acoustok --version`, gst-inspect-1.0
# xlsrfeat and bpemotif, the models and an embedder all run from a clean
# environment (env -i: no LD_LIBRARY_PATH, no GST_PLUGIN_PATH, no ldconfig by
# hand). Elsewhere (not root, no namespaces) that part is skipped, and said.
# A build with meson's b_sanitize (tests/asan/run.sh) installs instrumented
# libraries: the embedder is then built with the same -fsanitize, as an
# embedder of such a build must be.
# Usage: test_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest=$work/root

meson install -C "$build" --destdir "$dest" --no-rebuild >"$work/install.log" 2>&1 ||
  { cat "$work/install.log"; echo "FAIL: meson install"; exit 1; }

option() {  # option NAME: the build's value of a meson option
  meson introspect "$build" --buildoptions | /usr/bin/python3 -c \
    'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]==sys.argv[1]))' "$1"
}
prefix=$(option prefix)
libdir=$(option libdir)
sanitize=$(option b_sanitize)
case $libdir in /*) ;; *) libdir=$prefix/$libdir ;; esac
export LD_LIBRARY_PATH=$dest$libdir

# 0. Man pages: acoustok(1) and one per command, readable by man (unless
# the build left them out on purpose: -Dman=disabled, as tests/asan does).
mandir=$(option mandir)
case $mandir in /*) ;; *) mandir=$prefix/$mandir ;; esac
[ "$(option man)" = disabled ] && echo "man pages: disabled in this build, not checked" ||
for page in acoustok acoustok-segment acoustok-features acoustok-kmeans acoustok-units acoustok-bpe acoustok-vocoder acoustok-synth \
  acoustok-report acoustok-live; do
  f=$dest$mandir/man1/$page.1
  [ -s "$f" ] || { echo "FAIL: man page $page.1 is not installed in $mandir/man1"; exit 1; }
  text=$(MANWIDTH=100 man -l "$f" 2>/dev/null) || { echo "FAIL: man cannot read $f"; exit 1; }
  grep -q "OPTIONS" <<<"$text" || { echo "FAIL: $page.1 has no OPTIONS section"; exit 1; }
done
[ "$(option man)" = disabled ] ||
grep -q -- "--early-stop-metric" <(man -l "$dest$mandir/man1/acoustok-vocoder.1" 2>/dev/null) ||
  { echo "FAIL: acoustok-vocoder.1 does not list --early-stop-metric"; exit 1; }

# 1. The plugins in GStreamer's own folder.
plugins=$(pkg-config --variable=pluginsdir gstreamer-1.0)
for p in libgstacoustok.so libgstacoustokbpe.so; do
  [ -f "$dest$plugins/$p" ] || { echo "FAIL: $p is not in GStreamer's plugin folder $plugins"; exit 1; }
done
out=$(env -u GST_PLUGIN_PATH GST_REGISTRY="$work/registry.bin" GST_PLUGIN_SYSTEM_PATH="$dest$plugins" \
      gst-inspect-1.0 xlsrfeat 2>&1) || { echo "$out"; echo "FAIL: gst-inspect-1.0 xlsrfeat"; exit 1; }
grep -q "Long-name" <<<"$out" || { echo "$out"; echo "FAIL: gst-inspect-1.0 xlsrfeat printed no element"; exit 1; }
grep -q "MIT/X11" <<<"$out" || { echo "FAIL: the plugin's license is not MIT/X11"; exit 1; }

# 2. An embedder: headers and libraries from the install only.
export PKG_CONFIG_SYSROOT_DIR=$dest
export PKG_CONFIG_LIBDIR=$dest$libdir/pkgconfig
flags=$(pkg-config --cflags --libs acoustok) || { echo "FAIL: no acoustok.pc installed"; exit 1; }
[ "$sanitize" = none ] || flags="-fsanitize=$sanitize $flags"
g++ -std=c++17 -Wall -Werror "$src/examples/embed/embed_core.cpp" $flags -o "$work/embed_core" ||
  { echo "FAIL: embed_core does not build against the installed acoustok ($flags)"; exit 1; }
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR

model=$src/tests/fixtures/xlsr/xlsr_st
audio=$src/tests/fixtures/xlsr/speech_pt.wav
acoustok=$dest$prefix/bin/acoustok
"$acoustok" features --model "$model" --layer 2 "$audio" -o "$work/f.npy" -q
"$acoustok" kmeans fit "$work/f.npy" --k 8 -o "$work/km.safetensors" -q 2>/dev/null ||
  "$acoustok" kmeans fit "$work/f.npy" --k 8 -o "$work/km.safetensors"
"$work/embed_core" "$audio" "$model" 2 "$work/km.safetensors" >"$work/embed.txt" ||
  { echo "FAIL: embed_core did not run"; exit 1; }
"$acoustok" segment "$audio" -o "$work/segments" >/dev/null 2>&1

/usr/bin/python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
ours = [l.split() for l in open(f"{work}/embed.txt")]
ref = [json.loads(l) for l in open(f"{work}/segments/segments.jsonl")]
assert len(ours) == len(ref) and ref, f"embed_core found {len(ours)} segments, acoustok segment {len(ref)}"
for o, r in zip(ours, ref):
    start, end = (float(x) for x in o[2].split("-"))
    assert abs(start - r["start"]) < 1e-3 and abs(end - r["end"]) < 1e-3, (o[:4], r)
    n = int(o[4])
    samples = round((end - start) * 16000)
    assert n == (0 if samples < 400 else (samples - 400) // 320 + 1), (o[:5], samples)
    assert len(o) == 6 + n and all(0 <= int(u) < 8 for u in o[6:]), o[:8]
print(f"embed_core: {len(ours)} segments, as acoustok segment cuts them")
PY

# 3. The Python package (when built): where its interpreter looks for this
# prefix's packages, and `import acoustok` from there gives the units the
# command line gives.
init=$(find "$dest" -path '*/acoustok/__init__.py' | head -n 1)
if [ -n "$init" ]; then
  pkgdir=$(dirname "$(dirname "${init#"$dest"}")")
  pyexe=$(option python-exe)
  pyexe=${pyexe:-/usr/bin/python3}
  "$pyexe" -c 'import sys; sys.exit(sys.argv[1] not in sys.path)' "$pkgdir" ||
    { echo "FAIL: the Python package is installed in $pkgdir, which is not on $pyexe's path"; exit 1; }
  "$acoustok" kmeans predict "$work/km.safetensors" "$work/f.npy" -o "$work/units.txt"
  PYTHONPATH=$dest$pkgdir "$pyexe" - "$audio" "$model" "$work" <<'PY' || { echo "FAIL: the installed Python package"; exit 1; }
import sys
import numpy as np
import acoustok
audio, model, work = sys.argv[1:]
acoustok.configure_process(threads=0)  # as the command line's default
units = acoustok.encode(audio, model=model, layer=2, kmeans=f"{work}/km.safetensors", device="cpu")
assert np.array_equal(units, np.loadtxt(f"{work}/units.txt", dtype=np.int64, ndmin=1)), "units differ"
print(f"python: import acoustok from {acoustok.__file__}: {len(units)} units, as the command line's")
PY
else
  echo "python: the package was not built, not checked"
fi

# 4. The live-system install, in a private mount namespace.
system=
if [ "$(id -u)" -eq 0 ] && unshare --mount --propagation private true 2>/dev/null; then
  status=0
  env -u LD_LIBRARY_PATH unshare --mount --propagation private "$src/tests/install/system_install.sh" \
    "$build" "$src" "$work" "$work/embed.txt" || status=$?
  case $status in
    0) system="; installed into $prefix, all of it ran from a clean environment" ;;
    77) echo "SKIP: the install into $prefix with a clean environment: no overlay mounts here" ;;
    *) exit 1 ;;
  esac
else
  echo "SKIP: the install into $prefix with a clean environment needs root and unshare --mount (CI has both)"
fi
echo "PASS: installed into a DESTDIR; man pages; gst-inspect-1.0 finds xlsrfeat; embed_core built against acoustok.pc and ran; the Python package$system"
