// SPDX-License-Identifier: MIT
// The architecture of a wav2vec2 / XLSR-53 / HuBERT model: a Hugging Face
// folder's config.json and preprocessor_config.json (read here) or a fairseq
// checkpoint's cfg / args (fairseq_checkpoint.hpp). No LibTorch here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace acoustok::features {

struct Wav2Vec2Config {
  std::string model_type = "wav2vec2";   // "wav2vec2" or "hubert"
  bool feat_extract_layer_norm = false;  // feat_extract_norm "layer" (every conv) or "group" (first conv)
  std::vector<int64_t> conv_dim, conv_kernel, conv_stride;
  bool conv_bias = false;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  int64_t num_conv_pos_embeddings = 128;
  int64_t num_conv_pos_embedding_groups = 16;
  bool do_stable_layer_norm = false;  // pre-LN transformer blocks (XLSR-53, large models)
  bool feat_proj_layer_norm = true;   // HuBERT may drop the projection's layer norm
  bool conv_pos_batch_norm = false;   // HuBERT variants: a batch norm before the positional conv
  double layer_norm_eps = 1e-5;
  bool do_normalize = true;  // preprocessor_config.json; true when the file is absent

  // Samples one frame sees and the hop between frames (400 and 320 for every
  // released model), from the conv stack.
  int64_t receptive_field() const;
  int64_t hop() const;
  // Frames the conv stack makes from n samples (0 when n < receptive_field()).
  int64_t frames_for(int64_t samples) const;
};

// Reads MODEL_DIR/config.json and MODEL_DIR/preprocessor_config.json. Throws
// acoustok::Error naming the file and the field on a missing or bad value and
// on an unknown model_type.
Wav2Vec2Config read_wav2vec2_config(const std::string& model_dir);

}  // namespace acoustok::features
