// SPDX-License-Identifier: MIT
// What every Vocoder has without LibTorch: loading (the model itself is in
// libacoustok-torch, loaded on first use: common/torch_backend.hpp),
// refusals for the inputs a vocoder lacks, and the expansion of reduced
// units by their durations.
#include "acoustok/vocoder.hpp"

#include "acoustok/error.hpp"
#include "acoustok/vocoder_train.hpp"
#include "common/torch_backend.hpp"

namespace acoustok {

std::unique_ptr<Vocoder> Vocoder::load(const std::string& checkpoint, const std::string& device,
                                       const std::string& released_config) {
  return common::torch_backend_for(checkpoint).load_vocoder(checkpoint, device, released_config);
}

void train_vocoder(const VocoderTrainOptions& options) { common::torch_backend().train_vocoder(options); }

void Vocoder::set_speaker(int) { throw Error("this vocoder has no speaker table (it takes no --speaker)"); }

void Vocoder::set_speaker_embedding(const std::vector<float>&) {
  throw Error("this vocoder has no speaker embedder (it takes no --speaker-embedding)");
}

std::vector<int32_t> Vocoder::predict_durations(const int32_t*, size_t) {
  throw Error("this vocoder has no duration predictor (no dur_predictor_params in its config)");
}

std::vector<int32_t> expand_durations(const int32_t* units, size_t count,
                                      const std::vector<int32_t>& durations) {
  if (durations.size() != count) throw Error("expand_durations: one duration per unit is needed");
  std::vector<int32_t> out;
  for (size_t i = 0; i < count; ++i) {
    if (durations[i] < 1) throw Error("expand_durations: durations must be at least 1");
    out.insert(out.end(), static_cast<size_t>(durations[i]), units[i]);
  }
  return out;
}

}  // namespace acoustok
