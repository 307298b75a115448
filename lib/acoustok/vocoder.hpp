// SPDX-License-Identifier: MIT
// Units to 16 kHz speech with a trained unit HiFi-GAN checkpoint (phase 3).
// No LibTorch type appears here: Vocoder::load lives in the torch-only
// library (libacoustok_torch); StreamingVocoder only needs the interface.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "acoustok/vocoder_config.hpp"

namespace acoustok {

// Thread-safety: one synthesize() at a time per object.
class Vocoder {
 public:
  // device: "cpu", "cuda" or "auto" (CUDA when LibTorch has it). The
  // checkpoint is acoustok's (`vocoder train`) or a released speech-
  // resynthesis / fairseq unit HiFi-GAN (a torch.save dict with a
  // "generator" state dict), whose config.json is `released_config` or, when
  // empty, config.json beside the checkpoint. Throws acoustok::Error naming
  // the file when it is missing, corrupt, or not a vocoder. CPU threads:
  // configure_process (acoustok/process.hpp).
  static std::unique_ptr<Vocoder> load(const std::string& checkpoint, const std::string& device = "cpu",
                                       const std::string& released_config = "");
  virtual ~Vocoder() = default;

  virtual const VocoderConfig& config() const = 0;
  int num_units() const { return config().num_units; }
  // Exactly 320 samples per unit, float in [-1, 1]. Throws when a unit is
  // outside [0, k).
  virtual std::vector<float> synthesize(const int32_t* units, size_t count) = 0;
};

// Synthesis of a unit stream in chunks: each chunk is computed with
// `context` frames of real units on both sides (the generator's receptive
// field by default), so the concatenated output equals whole-utterance
// synthesis up to float rounding, with no seams.
// Thread-safety: one thread at a time; it holds the stream's state and
// uses its Vocoder, which no other thread may use meanwhile.
class StreamingVocoder {
 public:
  // context < 0: config().receptive_field_frames().
  StreamingVocoder(Vocoder& vocoder, int chunk_frames = 50, int context_frames = -1);

  // Appends units; returns the samples of every unit that is now final
  // (320 per unit, in order).
  std::vector<float> push(const int32_t* units, size_t count);
  // End of the utterance: the samples of every remaining unit.
  std::vector<float> finish();
  // Forget everything (a new utterance).
  void reset();

  int chunk_frames() const { return chunk_; }
  int context_frames() const { return context_; }
  // Frames a unit waits at most before its samples come out.
  int latency_frames() const { return chunk_ + context_ - 1; }
  int64_t frames_pushed() const { return base_ + static_cast<int64_t>(units_.size()); }
  int64_t frames_emitted() const { return emitted_; }

 private:
  std::vector<float> synthesize_until(int64_t end, bool at_end);

  Vocoder& vocoder_;
  int chunk_;
  int context_;
  int64_t base_ = 0;     // global index of units_[0]
  int64_t emitted_ = 0;  // units whose samples are out
  std::vector<int32_t> units_;
};

}  // namespace acoustok
