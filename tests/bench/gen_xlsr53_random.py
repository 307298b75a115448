#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""An XLSR-53-sized wav2vec2 with random weights, as a Hugging Face folder
(config.json of facebook/wav2vec2-large-xlsr-53, pytorch_model.bin written by
torch.save with the checkpoint's key names, pre-training keys included).

Usage: gen_xlsr53_random.py OUT_DIR    (about 1.27 GB; a few minutes)
Used by bench_xlsr.sh; the real model comes from models/fetch-xlsr53.sh.
"""
import collections
import json
import os
import sys

import torch
from torchaudio.models import wav2vec2_model

CONFIG = {
    "architectures": ["Wav2Vec2ForPreTraining"], "model_type": "wav2vec2", "feat_extract_norm": "layer",
    "conv_dim": [512] * 7, "conv_kernel": [10, 3, 3, 3, 3, 2, 2], "conv_stride": [5, 2, 2, 2, 2, 2, 2],
    "conv_bias": True, "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
    "intermediate_size": 4096, "num_conv_pos_embeddings": 128, "num_conv_pos_embedding_groups": 16,
    "do_stable_layer_norm": True, "hidden_act": "gelu", "feat_extract_activation": "gelu", "layer_norm_eps": 1e-5,
    "feat_proj_dropout": 0.1, "hidden_dropout": 0.1, "attention_dropout": 0.1, "activation_dropout": 0.0,
    "layerdrop": 0.1, "num_codevectors_per_group": 320, "num_codevector_groups": 2, "codevector_dim": 768,
    "proj_codevector_dim": 768,
}


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(53)
    c = CONFIG
    m = wav2vec2_model(
        extractor_mode="layer_norm", extractor_conv_layer_config=list(zip(c["conv_dim"], c["conv_kernel"], c["conv_stride"])),
        extractor_conv_bias=True, encoder_embed_dim=1024, encoder_projection_dropout=0.0, encoder_pos_conv_kernel=128,
        encoder_pos_conv_groups=16, encoder_num_layers=24, encoder_num_heads=16, encoder_attention_dropout=0.0,
        encoder_ff_interm_features=4096, encoder_ff_interm_dropout=0.0, encoder_dropout=0.0,
        encoder_layer_norm_first=True, encoder_layer_drop=0.0, aux_num_out=None)
    sd = collections.OrderedDict()
    with torch.no_grad():
        for k, v in m.state_dict().items():
            if "norm" in k and k.endswith("weight"):
                v = 1 + 0.1 * torch.randn_like(v)
            elif k.endswith("bias"):
                v = 0.05 * torch.randn_like(v)
            if k.startswith("feature_extractor."):
                sd["wav2vec2." + k] = v
            elif k.startswith("encoder.feature_projection."):
                sd["wav2vec2." + k[len("encoder."):]] = v
            elif k.startswith("encoder.transformer."):
                sd["wav2vec2.encoder." + k[len("encoder.transformer."):]] = v
    sd["wav2vec2.masked_spec_embed"] = torch.rand(1024)
    sd["quantizer.codevectors"] = torch.randn(1, 640, 384)
    sd["quantizer.weight_proj.weight"] = torch.randn(640, 512)
    sd["quantizer.weight_proj.bias"] = torch.randn(640)
    sd["project_q.weight"] = torch.randn(768, 768)
    sd["project_q.bias"] = torch.randn(768)
    sd["project_hid.weight"] = torch.randn(768, 1024)
    sd["project_hid.bias"] = torch.randn(768)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
    with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
        json.dump({"do_normalize": True, "feature_size": 1, "padding_side": "right", "padding_value": 0,
                   "return_attention_mask": True, "sampling_rate": 16000}, f, indent=2)
    torch.save(sd, os.path.join(out, "pytorch_model.bin.tmp"))
    os.replace(os.path.join(out, "pytorch_model.bin.tmp"), os.path.join(out, "pytorch_model.bin"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
