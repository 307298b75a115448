// SPDX-License-Identifier: MIT
// Sizes of the unit HiFi-GAN vocoder (phase 3). Torch-free: the command line,
// the element and the checkpoint reader share it. Every checkpoint stores its
// config as JSON, so a checkpoint alone is enough to synthesise.
#pragma once

#include <string>
#include <vector>

#include "acoustok/frame_grid.hpp"

namespace acoustok {

struct VocoderConfig {
  std::string name = "v1";
  // Unit vocabulary k; the embedding has k + 1 rows, row k is the padding id.
  int num_units = 100;
  int embedding_dim = 128;
  // acoustok's own models add the padding row k; speech-resynthesis /
  // fairseq released vocoders have exactly k rows.
  bool padding_row = true;
  // Generator (speech-resynthesis V1 by default): the product of the rates is 320.
  std::vector<int> upsample_rates{5, 4, 4, 2, 2};
  std::vector<int> upsample_kernel_sizes{11, 8, 8, 4, 4};
  int upsample_initial_channel = 512;
  std::vector<int> resblock_kernel_sizes{3, 7, 11};
  std::vector<std::vector<int>> resblock_dilation_sizes{{1, 3, 5}, {1, 3, 5}, {1, 3, 5}};
  // Multi-period discriminator: one sub-discriminator per period; channels of
  // its 5 convolutions.
  std::vector<int> mpd_periods{2, 3, 5, 7, 11};
  std::vector<int> mpd_channels{32, 128, 512, 1024, 1024};
  // Multi-scale discriminator: `msd_scales` sub-discriminators on the signal
  // average-pooled 1x, 2x, 4x; channels and groups of its 7 convolutions.
  int msd_scales = 3;
  std::vector<int> msd_channels{128, 128, 256, 512, 1024, 1024, 1024};
  std::vector<int> msd_groups{1, 4, 16, 16, 16, 16, 1};
  // Training window in unit frames (50 = 1 s).
  int segment_frames = 50;

  // Conditioning of released CodeHiFiGAN vocoders (fairseq codehifigan.py,
  // speech-resynthesis CodeGenerator); acoustok's own training uses none.
  // A speaker table "spkr.weight" [num_speakers, embedding_dim]; 0: none.
  int num_speakers = 0;
  // A speaker embedder "spkr" = Linear(speaker_embedding_dim ->
  // embedding_dim), fed a float vector per utterance; 0: none.
  int speaker_embedding_dim = 0;
  // Duration predictor "dur_predictor.*" (fairseq's VariancePredictor):
  // hidden channels (0: none) and kernel size.
  int dur_predictor_hidden = 0;
  int dur_predictor_kernel = 3;

  bool has_speaker_table() const { return num_speakers > 0; }
  bool has_speaker_embedder() const { return speaker_embedding_dim > 0; }
  bool has_duration_predictor() const { return dur_predictor_hidden > 0; }
  // Channels into conv_pre: the unit embedding, plus the speaker's when
  // there is one (concatenated over time).
  int model_in_dim() const {
    return embedding_dim * ((has_speaker_table() || has_speaker_embedder()) ? 2 : 1);
  }
  // Units on each side of a unit that can change its predicted duration:
  // predicting a window with this much context on both sides equals
  // predicting the whole sequence.
  int duration_context_units() const {
    return has_duration_predictor() ? (dur_predictor_kernel - 1) / 2 + dur_predictor_kernel - 1 : 0;
  }

  // "tiny", "small" or "v1"; throws acoustok::Error for another name.
  static VocoderConfig preset(const std::string& name);
  // A preset name or a JSON file: {"base": "tiny", ...fields to override}.
  static VocoderConfig from_argument(const std::string& name_or_file);
  // JSON text as stored in checkpoints; `where` names the source in errors.
  static VocoderConfig from_json(const std::string& text, const std::string& where);
  std::string to_json() const;
  // The config.json of a speech-resynthesis / fairseq unit HiFi-GAN or
  // CodeHiFiGAN (upsample_*, resblock_*, num_embeddings, embedding_dim,
  // multispkr + num_speakers or embedder_params + embedder_dim,
  // dur_predictor_params, model_in_dim checked against what they imply).
  // What acoustok cannot run (F0 or language inputs, resblock type 2,
  // another sampling rate or hop, a predictor kernel other than 3) throws
  // an Error that names the file and the key.
  static VocoderConfig from_released_json(const std::string& text, const std::string& where);

  // Throws acoustok::Error("<where>: ...") when sizes are inconsistent.
  void validate(const std::string& where) const;
  int hop_samples() const;  // product of upsample_rates
  // Unit frames on each side of a frame that can change its samples (an
  // upper bound from the kernel sizes and dilations): chunked synthesis with
  // this much context on both sides equals whole-utterance synthesis.
  int receptive_field_frames() const;
};

}  // namespace acoustok
