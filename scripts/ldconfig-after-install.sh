#!/bin/sh
# SPDX-License-Identifier: MIT
# Run by `meson install` (meson.add_install_script, as meson itself does not
# on Debian): refreshes the dynamic linker's cache, so that the installed
# acoustok, the GStreamer plugins and programs built against acoustok.pc find
# libacoustok in LIBDIR (/usr/local/lib/<triplet> by default) with no
# LD_LIBRARY_PATH. Nothing is done into a DESTDIR (a package's own trigger
# runs ldconfig on the target system); a user who cannot write the cache, or
# a LIBDIR the linker does not search, is told what to do.
#   ldconfig-after-install.sh LIBDIR
set -eu
libdir=$1
[ -z "${DESTDIR:-}" ] || exit 0
[ "$(uname -s)" = Linux ] || exit 0
PATH=$PATH:/usr/sbin:/sbin
if [ "$(id -u)" -ne 0 ] || ! command -v ldconfig >/dev/null; then
  echo "acoustok: run 'sudo ldconfig' now (or set LD_LIBRARY_PATH=$libdir): the installed programs load libacoustok from $libdir"
  exit 0
fi
ldconfig
if ! ldconfig -p | grep -q "=> $libdir/libacoustok\.so\."; then
  echo "acoustok: the dynamic linker does not search $libdir: add it to a file in /etc/ld.so.conf.d/ and run ldconfig" \
       "(or set LD_LIBRARY_PATH=$libdir)"
fi
