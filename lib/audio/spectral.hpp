// SPDX-License-Identifier: MIT
// Small spectral building blocks shared by the vocoder's mel loss and the
// quality metrics (no LibTorch): windows, HTK mel filterbanks, DCT-II.
#pragma once

#include <vector>

namespace acoustok::audio {

// Periodic Hann window: w[n] = 0.5 - 0.5 cos(2 pi n / size).
std::vector<float> hann_periodic(int size);

// HTK-mel triangles, peak 1 at each centre, unnormalised (as
// torchaudio.functional.melscale_fbanks(norm=None, mel_scale="htk") and
// librosa.filters.mel(htk=True, norm=None)): n_mels rows of n_fft/2+1
// weights, row-major [n_mels, n_fft/2 + 1].
std::vector<float> htk_mel_filterbank(int n_fft, int n_mels, double sample_rate, double fmin, double fmax);
// librosa.filters.mel's default (Slaney mel scale, each triangle of unit
// area), which HiFi-GAN's mel loss uses; torchaudio's melscale_fbanks with
// norm="slaney", mel_scale="slaney" is the same. [n_mels, n_fft / 2 + 1].
std::vector<double> slaney_mel_filterbank(int n_fft, int n_mels, double sample_rate, double fmin,
                                          double fmax);

// Orthonormal DCT-II matrix [n_out, n_in]: c_k = s_k sum_n x_n cos(pi k (2n+1) / (2 n_in)),
// s_0 = sqrt(1/n_in), s_k = sqrt(2/n_in) (scipy.fft.dct(type=2, norm="ortho")).
std::vector<double> dct2_ortho_matrix(int n_in, int n_out);

}  // namespace acoustok::audio
