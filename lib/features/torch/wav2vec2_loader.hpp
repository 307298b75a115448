// SPDX-License-Identifier: MIT
// Fills a Wav2Vec2 module from a checkpoint: Hugging Face key names, with or
// without the "wav2vec2." / "hubert." prefix; the positional conv from its
// weight-norm pair (weight_g/weight_v or parametrizations.weight.original0/1).
// Only the module's own parameters are read, so blocks it lacks (above the
// asked layer) and pre-training keys (quantizer.*, project_q.*,
// project_hid.*, masked_spec_embed) are never touched.
#pragma once

#include "features/wav2vec2_config.hpp"
#include "features/weight_source.hpp"
#include "features/torch/wav2vec2_model.hpp"

namespace acoustok::features {

// Throws acoustok::Error naming the weights file and the key for a missing
// tensor or a shape that disagrees with config.json.
void load_wav2vec2_weights(Wav2Vec2Impl& model, const features::Wav2Vec2Config& config,
                           features::WeightSource& weights);

}  // namespace acoustok::features
