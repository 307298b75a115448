#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A small stand-in feature model for the demo, built offline.

  make_demo_model.py OUT_DIR [--seed N]

Writes a Hugging Face wav2vec2 model folder (config.json,
preprocessor_config.json, model.safetensors) in the XLSR-53 layout
(layer-norm conv encoder, pre-LN transformer) but small and with random
weights: hidden 128, 4 blocks, 128 conv channels. Its features are not
XLSR-53's — units from it only demonstrate the pipeline. The real model:
models/fetch-xlsr53.sh.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fixtures"))
import gen_xlsr_fixtures as fx  # noqa: E402  (the HF folder writer of the parity fixtures)

DEMO = dict(model_type="wav2vec2", feat_extract_norm="layer", conv_bias=True, do_stable_layer_norm=True,
            conv_dim=[128] * 7, hidden_size=128, num_hidden_layers=4, num_attention_heads=4,
            intermediate_size=256, num_conv_pos_embeddings=32, num_conv_pos_embedding_groups=4)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--seed", type=int, default=14)
    args = ap.parse_args()
    out = os.path.abspath(args.out_dir)
    fx.OUT = os.path.dirname(out)
    model = fx.build(DEMO, args.seed)
    fx.write_folder(os.path.basename(out), DEMO, fx.hf_state_dict(model, DEMO), "safetensors")
    # The mark acoustok carries into its outputs (feature_model_stand_in) and
    # `acoustok report` shows: units from random weights only demonstrate.
    config = os.path.join(out, "config.json")
    with open(config) as f:
        cfg = json.load(f)
    cfg["acoustok_stand_in"] = "random weights, a stand-in for XLSR-53 built by models/make_demo_model.py"
    with open(config, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    print(f"demo feature model (random weights, stand-in for XLSR-53) -> {out}")


if __name__ == "__main__":
    main()
