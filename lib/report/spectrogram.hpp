// SPDX-License-Identifier: MIT
// The log-mel spectrograms of the vocoder test's recordings and syntheses.
#pragma once

#include <string>
#include <vector>

namespace acoustok::report {

struct Spectrogram {
  int rows = 80, cols = 0;
  double seconds = 0;
  std::vector<double> db;  // [col * rows + row], row 0 = lowest band
};

// Log-mel power (dB, 10·log10(power + 1e-10)) of 16 kHz audio: 1024-point FFT
// of periodic-Hann frames every 256 samples (one zero-padded frame when x is
// shorter than 1024), 80 HTK bands 0-8 kHz, the power averaged over groups of
// ceil(frames / max_cols) frames.
Spectrogram mel_spectrogram(const std::vector<float>& x, int max_cols);

// The spectrogram as an SVG chart: a viridis PNG spanning the 80 dB below
// top_db, a mel-scaled frequency axis, a time axis.
std::string spectrogram_svg(const std::string& id, const std::string& title, const Spectrogram& sp,
                            double top_db);

}  // namespace acoustok::report
