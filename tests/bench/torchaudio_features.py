#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""torchaudio's side of bench_xlsr.sh: load a Hugging Face wav2vec2 folder
(pytorch_model.bin) into torchaudio's wav2vec2_model, normalise the audio as
Wav2Vec2FeatureExtractor does, and save extract_features(x, num_layers=L)[0][-1].

Usage: torchaudio_features.py MODEL_DIR AUDIO.wav LAYER THREADS OUT.npy
Prints "torchaudio: load X s, compute Y s, total Z s, peak RSS N MB".
"""
import json
import resource
import sys
import time

import numpy as np
import torch
import torchaudio
from torchaudio.models import wav2vec2_model


def main(model_dir, audio, layer, threads, out):
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    c = json.load(open(f"{model_dir}/config.json"))
    m = wav2vec2_model(
        extractor_mode=c["feat_extract_norm"] + "_norm",
        extractor_conv_layer_config=list(zip(c["conv_dim"], c["conv_kernel"], c["conv_stride"])),
        extractor_conv_bias=c["conv_bias"], encoder_embed_dim=c["hidden_size"], encoder_projection_dropout=0.0,
        encoder_pos_conv_kernel=c["num_conv_pos_embeddings"], encoder_pos_conv_groups=c["num_conv_pos_embedding_groups"],
        encoder_num_layers=c["num_hidden_layers"], encoder_num_heads=c["num_attention_heads"],
        encoder_attention_dropout=0.0, encoder_ff_interm_features=c["intermediate_size"], encoder_ff_interm_dropout=0.0,
        encoder_dropout=0.0, encoder_layer_norm_first=c["do_stable_layer_norm"], encoder_layer_drop=0.0, aux_num_out=None)
    sd = torch.load(f"{model_dir}/pytorch_model.bin", map_location="cpu")
    ours = {}
    for k, v in sd.items():
        if not k.startswith("wav2vec2."):
            continue
        k = k[len("wav2vec2."):]
        if k.startswith("feature_projection."):
            k = "encoder." + k
        elif k.startswith("encoder."):
            k = "encoder.transformer." + k[len("encoder."):]
        elif not k.startswith("feature_extractor."):
            continue
        ours[k] = v
    m.load_state_dict(ours)
    m.eval()
    del sd, ours
    t1 = time.perf_counter()
    x, sr = torchaudio.load(audio)
    assert sr == 16000
    x = x.mean(0, keepdim=True).double()
    x = ((x - x.mean()) / torch.sqrt(x.var(unbiased=False) + 1e-7)).float()
    with torch.inference_mode():
        feats, _ = m.extract_features(x, num_layers=layer)
    y = feats[-1][0].numpy()
    t2 = time.perf_counter()
    np.save(out, y)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"torchaudio: load {t1 - t0:.2f} s, compute {t2 - t1:.2f} s, total {t2 - t0:.2f} s, peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
