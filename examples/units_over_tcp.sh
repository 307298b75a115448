#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Units over a network: speech is turned into unit text on one side, sent over
# TCP, and synthesised back to speech on the other.
#
#   examples/units_over_tcp.sh SPEECH_FILE FEATURE_MODEL LAYER KMEANS VOCODER OUT.wav [HOST] [PORT]
#
# The receiver listens (tcpserversrc) before the sender connects
# (tcpclientsink), so no unit line is lost; run the two halves on two
# machines by giving the receiver's address as HOST.
set -euo pipefail
[ $# -ge 6 ] || { sed -n '2,9p' "$0"; exit 2; }
speech=$1 model=$2 layer=$3 kmeans=$4 vocoder=$5 out=$6 host=${7:-127.0.0.1} port=${8:-5678}

# Far side: unit text lines in, speech out.
gst-launch-1.0 -q tcpserversrc host="$host" port="$port" ! text/x-raw,format=utf8 ! \
  unitvocoder model="$vocoder" ! audioconvert ! wavenc ! filesink location="$out" &
receiver=$!
trap 'kill $receiver 2>/dev/null || true' EXIT
# Connect only once it listens: loading the models takes a moment, longer on
# a busy machine. (Linux lists listening sockets, state 0A, in /proc/net;
# elsewhere, give it 3 s.)
listening() {
  grep -qE ":$(printf '%04X' "$port") [0-9A-F]+:0000 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
if [ -r /proc/net/tcp ]; then
  for _ in $(seq 600); do
    listening && break
    kill -0 "$receiver" 2>/dev/null || { echo "units_over_tcp: the receiver stopped before listening" >&2; exit 1; }
    sleep 0.1
  done
else
  sleep 3
fi

# Near side: speech in, one line of units per segment out to the network.
gst-launch-1.0 -q filesrc location="$speech" ! decodebin ! audioconvert ! \
  silencesplit ! xlsrfeat model="$model" layer="$layer" ! kmeansunits model="$kmeans" ! \
  text/x-raw,format=utf8 ! tcpclientsink host="$host" port="$port"

wait $receiver
trap - EXIT
echo "units sent over $host:$port; speech synthesised on the far side -> $out"
