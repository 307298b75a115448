#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Runs every gst-launch-1.0 line of the given documents against small real models.

  check_launch_lines.py BUILD_DIR DOC.md...

Each launch line runs in a fresh folder holding the files the README names
(talk.wav, talk.mp3, units.txt, models/xlsr53, units/kmeans.safetensors,
bpe/bpe.model, vocoder/vocoder_final.pt, ...), made from the test fixtures:
the demo stand-in feature model (layer 3 instead of 14), k-means and BPE
fitted on its units, and a one-epoch `tiny` vocoder. A microphone and a
speaker become a file and a fakesink. Prints "N passed, M failed".
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "tests", "fixtures")


def launch_lines(readme):
    text = open(readme).read()
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split(" #")[0].strip() if not line.strip().startswith("gst") else line.strip()
            if line.startswith("gst-launch-1.0"):
                lines.append(re.sub(r"\s+#.*$", "", line))
    return lines


def run(cmd, cwd, env):
    r = subprocess.run(cmd, cwd=cwd, env=env, shell=True, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd}\n{r.stdout}\n{r.stderr}")
    return r.stdout


def make_template(tmp, build, env):
    tool = os.path.join(build, "lib", "tools", "acoustok")
    t = os.path.join(tmp, "template")
    os.makedirs(os.path.join(t, "models"))
    run(f"/usr/bin/python3 {ROOT}/models/make_demo_model.py {t}/models/xlsr53", tmp, env)
    shutil.copy(os.path.join(FIX, "silence", "speech_pauses.wav"), os.path.join(t, "talk.wav"))
    shutil.copy(os.path.join(FIX, "silence", "speech_8k_stereo.mp3"), os.path.join(t, "talk.mp3"))
    run(f"{tool} segment -q talk.wav -o {tmp}/segments", t, env)
    run(f"{tool} units --model models/xlsr53 --layer 3 --k 16 {tmp}/segments -o units", t, env)
    shutil.copy(os.path.join(t, "units", "kmeans.safetensors"), os.path.join(t, "kmeans.safetensors"))
    run(f"{tool} bpe units/all_units_for_bpe.txt -o bpe --vocab-size 40 -q", t, env)
    run(f"{tool} vocoder train --config tiny --units units --audio {tmp}/segments -o vocoder --epochs 1 "
        "--samples-per-epoch 4 --batch-size 2", t, env)
    shutil.copy(os.path.join(t, "units", "all_units_for_bpe.txt"), os.path.join(t, "units.txt"))
    with open(os.path.join(t, "units.txt")) as f:
        first = f.readline()
    with open(os.path.join(t, "utterance_units.txt"), "w") as f:
        f.write(first)
    return t


def adapt(line):
    line = line.replace("autoaudiosrc", "filesrc location=talk.wav ! wavparse")
    line = line.replace("autoaudiosink", "fakesink")
    # The stand-in model has 4 blocks: layer 3 for XLSR-53's 14 (also when the
    # line relies on xlsrfeat's default).
    line = line.replace("layer=14", "layer=3")
    line = re.sub(r"(xlsrfeat model=\S+)(?![^!]*layer=)", r"\1 layer=3", line)
    return line


def main():
    build, docs = os.path.abspath(sys.argv[1]), sys.argv[2:]
    env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(build, "plugins"),
               M="models/xlsr53", L="3", K="units/kmeans.safetensors", B="bpe/bpe.model",
               V="vocoder/vocoder_final.pt")
    lines = [line for doc in docs for line in launch_lines(doc)]
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        template = make_template(tmp, build, env)
        for i, line in enumerate(lines):
            work = os.path.join(tmp, f"run{i}")
            shutil.copytree(template, work, symlinks=True)
            try:
                run(adapt(line), work, env)
                passed += 1
                print(f"ok   {line[:150]}")
            except Exception as e:  # noqa: BLE001  (report and go on)
                failed += 1
                print(f"FAIL {line}\n{e}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or not lines else 0)


if __name__ == "__main__":
    main()
