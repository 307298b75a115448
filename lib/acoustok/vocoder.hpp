// SPDX-License-Identifier: MIT
// Units to 16 kHz speech with a trained unit HiFi-GAN checkpoint (phase 3).
// No LibTorch type appears here: the model is in libacoustok-torch, which
// Vocoder::load (lib/vocoder/vocoder.cpp, in libacoustok) loads on first
// use; StreamingVocoder only needs the interface.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "acoustok/frame_grid.hpp"
#include "acoustok/vocoder_config.hpp"

namespace acoustok {

// Thread-safety: one synthesize() at a time per object.
class Vocoder {
 public:
  // device: "cpu", "cuda" or "auto" (CUDA when LibTorch has it). The
  // checkpoint is acoustok's (`vocoder train`) or a released speech-
  // resynthesis / fairseq unit HiFi-GAN or CodeHiFiGAN (a torch.save dict
  // with a "generator" state dict; a duration predictor, a speaker table or
  // a speaker embedder as fairseq's codehifigan.py names them), whose
  // config.json is `released_config` or, when empty, config.json beside the
  // checkpoint. Throws acoustok::Error naming
  // the file when it is missing, corrupt, or not a vocoder. CPU threads:
  // configure_process (acoustok/process.hpp).
  static std::unique_ptr<Vocoder> load(const std::string& checkpoint, const std::string& device = "cpu",
                                       const std::string& released_config = "");
  virtual ~Vocoder() = default;

  virtual const VocoderConfig& config() const = 0;
  int num_units() const { return config().num_units; }
  // Exactly 320 samples per unit, float in [-1, 1]. Throws when a unit is
  // outside [0, k), or when the vocoder needs a speaker and none was set.
  virtual std::vector<float> synthesize(const int32_t* units, size_t count) = 0;

  // The speaker of the following synthesize() calls, for a vocoder with a
  // speaker table (config().num_speakers > 0); it stays until set again.
  // Throws acoustok::Error (naming the checkpoint) when it has none or `id`
  // is outside [0, num_speakers).
  virtual void set_speaker(int id);
  // The same for a vocoder with a speaker embedder: exactly
  // config().speaker_embedding_dim finite floats.
  virtual void set_speaker_embedding(const std::vector<float>& embedding);
  // Frames (>= 1) of each unit of a reduced sequence (runs collapsed), as
  // the duration predictor gives them over the whole sequence:
  // max(1, round-half-even(exp(log_d) - 1)), in float32 as PyTorch computes
  // it. Throws when config() has no duration predictor or a unit is out of
  // range. synthesize(expand_durations(units, predict_durations(units)))
  // is fairseq's CodeHiFiGAN forward with dur_prediction=True.
  virtual std::vector<int32_t> predict_durations(const int32_t* units, size_t count);
};

// Each unit repeated by its duration (durations.size() == count, each >= 1).
std::vector<int32_t> expand_durations(const int32_t* units, size_t count,
                                      const std::vector<int32_t>& durations);

// Synthesis of a unit stream in chunks. Each chunk is computed with
// `context` frames of real units before it (the generator's receptive field
// by default: it costs compute, not latency) and `lookahead` frames after it
// (default: the context). With lookahead == context the concatenated output
// equals whole-utterance synthesis up to float rounding, with no seams.
// With less lookahead a chunk's last samples were computed without their
// whole right context, so the next chunk would start on a different
// waveform: each run stands in the last arrived unit, repeated, for the
// right context not yet here, also synthesises the first frame after its
// chunk, and the next chunk's first frame crossfades (raised cosine, equal
// gain) from that continuation into its own samples. No sample is held back
// for this, so a unit still waits at most chunk + lookahead - 1 frames. At
// the end of an utterance (finish) the frames already out were made as if
// speech went on; the rest are exact.
// Reduced units (runs collapsed: `units --dedup`, `kmeansunits dedup=true`)
// go in through push_reduced: with their run lengths they are expanded and
// pushed; without, the vocoder's duration predictor decides each unit's
// frames once duration_context_units() more units have arrived (or at
// finish), over a window with that context on both sides, which equals
// predicting the whole utterance at once.
// Thread-safety: one thread at a time; it holds the stream's state and
// uses its Vocoder, which no other thread may use meanwhile.
class StreamingVocoder {
 public:
  // Samples over which chunks join when the lookahead is short: one frame.
  static constexpr int kCrossfadeSamples = grid::kHop;

  // context < 0: config().receptive_field_frames(); lookahead < 0: the
  // context. Throws acoustok::Error when chunk < 1 or lookahead > context.
  StreamingVocoder(Vocoder& vocoder, int chunk_frames = 50, int context_frames = -1,
                   int lookahead_frames = -1);

  // Appends units; returns the samples of every unit that is now final
  // (320 per unit, in order).
  std::vector<float> push(const int32_t* units, size_t count);
  // Reduced units whose durations the vocoder predicts; returns the samples
  // now final, as push() does. Throws acoustok::Error when the vocoder has
  // no duration predictor.
  std::vector<float> push_reduced(const int32_t* units, size_t count);
  // Reduced units with their run lengths (frames, each >= 1): expanded and
  // pushed, the original timing.
  std::vector<float> push_reduced(const int32_t* units, const int32_t* durations, size_t count);
  // The durations predicted since the last call, in order (for the caller's
  // timeline and reports).
  std::vector<int32_t> take_predicted_durations();
  // End of the utterance: the samples of every remaining unit (reduced units
  // still waiting for their durations are predicted first).
  std::vector<float> finish();
  // Forget everything (a new utterance).
  void reset();

  int chunk_frames() const { return chunk_; }
  int context_frames() const { return context_; }
  int lookahead_frames() const { return lookahead_; }
  // Whether chunks join by crossfade (lookahead < context) or exactly.
  bool crossfades() const { return lookahead_ < context_; }
  // Frames a unit waits at most before its samples come out, counted in
  // frames pushed (expanded units). A reduced unit whose duration is
  // predicted first waits for duration_context_units() more reduced units,
  // whose frames are unknown until predicted: that wait has no bound in
  // frames (a long run holds it), only in units.
  int latency_frames() const { return chunk_ + lookahead_ - 1; }
  // Reduced units after a unit that its predicted duration waits for.
  int duration_context_units() const { return vocoder_.config().duration_context_units(); }
  // Reduced units pushed whose durations are not predicted yet.
  size_t reduced_pending() const { return reduced_.size() - reduced_decided_; }
  int64_t latency_samples() const { return static_cast<int64_t>(latency_frames()) * grid::kHop; }
  int64_t frames_pushed() const { return base_ + static_cast<int64_t>(units_.size()); }
  int64_t frames_emitted() const { return emitted_; }

 private:
  std::vector<float> push_frames(const int32_t* units, size_t count);
  std::vector<float> predict_ready(bool at_end);
  std::vector<float> synthesize_until(int64_t end, bool at_end);

  Vocoder& vocoder_;
  int chunk_;
  int context_;
  int lookahead_;
  int64_t base_ = 0;     // global index of units_[0]
  int64_t emitted_ = 0;  // units whose samples are out
  std::vector<int32_t> units_;
  // The previous run's samples of frame emitted_ (crossfade source; empty
  // when there is none).
  std::vector<float> continuation_;
  // Reduced units: up to duration_context_units() whose durations are out
  // (the left context of the next prediction), then those still waiting.
  std::vector<int32_t> reduced_;
  size_t reduced_decided_ = 0;
  std::vector<int32_t> predicted_;  // not yet taken
};

}  // namespace acoustok
