// SPDX-License-Identifier: MIT
// Phase 3: training of the unit HiFi-GAN (`acoustok vocoder train`).
// The trainer is in libacoustok-torch (lib/vocoder/torch/), which
// train_vocoder (in libacoustok) loads on first use; this header has no
// LibTorch type.
#pragma once

#include <functional>
#include <string>

namespace acoustok {

struct VocoderTrainOptions {
  std::string units_dir;  // holds corpus_timestamped.json
  std::string audio_dir;  // the segment WAVs the corpus names
  std::string out_dir;
  std::string config = "v1";  // tiny | small | v1 | FILE.json (a resumed run keeps its checkpoint's)
  int epochs = 500;
  int batch_size = 16;
  double lr = 2e-4;
  int samples_per_epoch = 10000;  // random 1 s windows per epoch
  int patience = 50;              // epochs without a held-out improvement before stopping
  double min_delta = 0.5;         // improvement that counts, in held-out mel loss units (L1 x 45)
  int save_every = 20;
  std::string device = "auto";
  uint64_t seed = 1234;
  bool quiet = false;
  // Train from scratch: an earlier run's checkpoints, samples and log in
  // out_dir are removed first (otherwise the run resumes).
  bool restart = false;
  // Data-parallel runs (torchrun's RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT or
  // srun's SLURM_* variables): seconds a rank waits for the others before
  // the job ends with an error.
  int dist_timeout = 300;
  // Mel-cepstral distortion in dB of (original, synthesis), for the held-out
  // MCD of every evaluation (training_log.json, --early-stop-metric mcd).
  // The command line sets vocoder::mcd_db (vocoder/mel_cepstral_distortion.hpp);
  // unset: no held-out MCD.
  std::function<double(const float*, size_t, const float*, size_t)> mcd;
  // What early stopping and vocoder_best.pt follow: "mel" (held-out 45 x L1
  // log-mel) or "mcd" (held-out MCD, needs `mcd`).
  std::string early_stop_metric = "mel";
};

// Trains, resuming from out_dir/vocoder_latest.pt when it exists. Throws
// acoustok::Error naming the file on bad input and on running out of memory.
void train_vocoder(const VocoderTrainOptions& options);

}  // namespace acoustok
