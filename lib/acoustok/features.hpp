// SPDX-License-Identifier: MIT
// wav2vec2 / XLSR-53 / HuBERT features of one span of audio (phase 1).
// No LibTorch type appears here: FeatureExtractor is an interface whose
// implementation (lib/features/torch/) is in libacoustok-torch, which
// FeatureExtractor::load (lib/features/features.cpp, in libacoustok) loads on
// first use, so most translation units never include torch headers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace acoustok {

// Row-major [frames, dim] float32.
struct Features {
  int64_t frames = 0;
  int64_t dim = 0;
  std::vector<float> data;
};

// floor((n - 400) / 320) + 1 frames for n samples at 16 kHz, 0 when n < 400.
int64_t feature_frames(int64_t samples);

// Arithmetic of the CPU path. bf16: matrix products and convolutions take
// bfloat16 inputs and weights (float32 accumulation and outputs), layer norm
// and softmax stay float32; needs AVX512_BF16 or AMX (Intel Cooper Lake /
// Sapphire Rapids, AMD Zen 4 and later), refused elsewhere and on CUDA.
enum class Precision { fp32, bf16 };

struct FeatureOptions {
  int layer = 14;              // 1-based transformer block whose output is returned
  std::string device = "cpu";  // "cpu", "cuda", "cuda:N" or "auto" (CUDA when visible)
  Precision precision = Precision::fp32;
};

// Whether this CPU runs Precision::bf16 (AVX512_BF16 or AMX-BF16); false, not
// an error, when the LibTorch part cannot be loaded.
bool bf16_supported();

// Thread-safety: one extract() at a time per object (it holds the model's
// buffers); use one extractor per thread to run in parallel.
class FeatureExtractor {
 public:
  // Loads a Hugging Face model folder (config.json, preprocessor_config.json,
  // model.safetensors or pytorch_model.bin) or a fairseq wav2vec2 / HuBERT
  // checkpoint file (hubert_base_ls960.pt: {"cfg" or "args", "model"}).
  // Throws acoustok::Error naming the file and the key on any problem.
  static std::unique_ptr<FeatureExtractor> load(const std::string& model_dir, const FeatureOptions& options);
  virtual ~FeatureExtractor() = default;

  virtual int64_t dim() const = 0;
  virtual int layer() const = 0;
  virtual int num_layers() const = 0;  // transformer blocks in the model
  virtual const std::string& model_name() const = 0;
  // Features of 16 kHz mono samples, normalised first when the model asks for
  // it. Fewer than 400 samples give zero frames; NaN/Inf samples throw.
  virtual Features extract(const float* samples, size_t count) = 0;

  // The two halves of extract(), for StreamingFeatures (streaming_features.hpp),
  // which caches the first. Extractors that cannot stream keep the defaults,
  // which throw.
  //
  // Whether extract() normalises its input (the model's do_normalize):
  // front_end() never does, the caller normalises.
  virtual bool normalizes_input() const { return false; }
  // Whether each front-end frame depends only on its own 400 samples: true
  // unless the conv stack group-normalises over the whole signal (the
  // wav2vec2-base / HuBERT-base "group" front end).
  virtual bool frame_local_front_end() const { return false; }
  // Conv stack and feature projection of samples (already normalised when the
  // model asks for it): [feature_frames(count), dim()].
  virtual Features front_end(const float* samples, size_t count);
  // The transformer up to layer() over front-end frames [frames, dim()] as
  // one span: [frames, dim()].
  virtual Features encode(const Features& front);

  // Streaming with reused context: per stream, the keys and values of every
  // transformer block for the frames given so far.
  class EncoderState {
   public:
    virtual ~EncoderState() = default;
  };
  virtual std::unique_ptr<EncoderState> new_encoder_state();
  // The transformer output of front-end rows [new_from, front.frames) (the
  // rows before feed only the positional conv), attending also to the state's
  // earlier frames, of which the last `forget` are first dropped (they are
  // among the new rows, computed again); then the first `keep` new rows join
  // the state, which keeps its last `max_past` frames.
  virtual Features encode_next(EncoderState& state, const Features& front, int64_t new_from, int64_t keep,
                               int64_t max_past, int64_t forget = 0);
};

}  // namespace acoustok
