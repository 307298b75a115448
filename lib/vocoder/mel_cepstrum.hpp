// SPDX-License-Identifier: MIT
// Mel-cepstral analysis: the frequency-warped cepstrum of a windowed frame
// that minimises the unbiased estimator of the log spectrum (Fukada,
// Tokuda, Kobayashi & Imai 1992, "An adaptive algorithm for mel-cepstral
// analysis of speech"; Tokuda et al. 1994), by the Newton-Raphson
// iteration the literature's tool, SPTK's `mcep`, runs. Our own code: it
// gives the results of SPTK 3.9's library `mcep` to about 1e-13 (on the
// 9201 frames of the test WAVs), and tests/vocoder/test_vocoder_metrics.cpp holds it to a
// fixture of SPTK's command-line numbers (fixtures/gen_mcep_fixtures.py).
#pragma once

#include <Eigen/Core>

namespace acoustok::vocoder {

// The model: log H(z) = sum_{m=0}^{M} c(m) w^-m, w^-1 = (z^-1 - a) / (1 - a z^-1)
// (a first-order all-pass; a = 0.42 approximates the mel scale at 16 kHz).
// c minimises E = (1/2pi) int [ exp R(w) - R(w) - 1 ] dw,
// R = log I - log |H|^2, I the periodogram of the frame. With beta(w) the
// warped frequency (w^-1 = exp(-j beta) on the unit circle) and
//   r~(m) = (1/2pi) int I(w) / |H(w)|^2 cos(m beta(w)) dw,
// the gradient of E in c(k) is -2 (r~(k) - (-a)^k) and its Hessian
// 2 (r~(|k - l|) + r~(k + l)): each Newton step solves the
// Toeplitz-plus-Hankel system  sum_l (r~(|k-l|) + r~(k+l)) d(l) = r~(k) - (-a)^k
// and adds d to c.
//
// Discretisation and iteration, as SPTK's `mcep -l L -m M -a a -e e`:
//  * I(k) = |DFT_L(x)(k)|^2 + e over the L-point DFT of the frame (no padding);
//  * the start: the real cepstrum of log I (its c(0) and c(L/2) halved: the
//    causal half of log |H|^2 / 2), warped (SPTK `freqt`) to order M;
//  * every iteration: c warped back to a linear cepstrum of order L/2
//    (`freqt` with -a), log |H(k)|^2 = 2 Re DFT_L of it, r the inverse DFT of
//    I / |H|^2 (the residual's autocorrelation, lags 0..L/2), r~ its
//    all-pass transform (SPTK `frqtr`) to lag 2M. Each of these is a fixed
//    linear map, precomputed here as a matrix once per (L, M, a);
//  * the criterion r~(0) (the residual's power) is compared with its value
//    at the previous check: from iteration min_iterations on, the iteration
//    stops when |(r~(0) - s) / r~(0)| < end_condition, s taking r~(0) at each
//    such check. Before the first check s is c(0) of the halved real cepstrum
//    (what SPTK 3.9 compares with at its first check: starting from the
//    first iteration's r~(0) instead moves some frames' results by ~1e-9);
//    at most max_iterations updates.
//  * determinant floor: SPTK's solver (`theq`) refuses a system whose
//    determinant (a quantity of its block recursion) falls below
//    determinant_floor, and `mcep` then exits the program. Here a system
//    whose smallest LDL^T pivot is below the floor (or any non-finite value)
//    stops the iteration and keeps the current c. Neither happens on audio
//    (none of the test WAVs' 9201 frames, noise, pure tones from 50 Hz to
//    8 kHz at 1e-4 to 1e7, clicks, DC or silence).
class MelCepstralAnalysis {
 public:
  struct Options {
    int min_iterations = 2;        // mcep -i
    int max_iterations = 30;       // mcep -j
    double end_condition = 0.001;  // mcep -d
    double periodogram_add = 0.0;  // mcep -e: added to every periodogram bin (needed > 0 when a bin can be 0)
    double determinant_floor = 1e-6;  // mcep -f
  };
  struct Result {
    int iterations = 0;      // Newton updates made
    bool converged = false;  // the end condition was met
    bool singular = false;   // stopped at the determinant floor (see above)
  };

  // frame_length: even, >= 4; order >= 1; |alpha| < 1.
  MelCepstralAnalysis(int frame_length, int order, double alpha);

  int frame_length() const { return length_; }
  int order() const { return order_; }
  double alpha() const { return alpha_; }

  // frame: frame_length windowed samples; mc: order + 1 coefficients c(0)..c(M).
  // Thread-safe (the FFT state is per thread).
  Result analyze(const double* frame, double* mc, const Options& options) const;

 private:
  int length_, half_, order_;
  double alpha_;
  Eigen::MatrixXd start_;     // [M+1, L/2+1]: log I -> the starting c
  Eigen::MatrixXd log_gain_;  // [L/2+1, M+1]: c -> log |H(k)|^2, k = 0..L/2
  Eigen::MatrixXd warped_;    // [2M+1, L/2+1]: I / |H|^2 -> r~(0..2M)
  Eigen::VectorXd start_c0_;  // [L/2+1]: log I -> c(0) of the halved real cepstrum
  Eigen::VectorXd powers_;    // (-a)^k, k = 0..M
};

// The coefficients of z^-n in (w^-1)^m: the matrix [n_max+1, m_max+1] with
// column m = the power series of ((z^-1 - a) / (1 - a z^-1))^m to z^-n_max.
// With -a it maps a linear cepstrum to the warped one (SPTK `freqt` with a):
// warped = allpass_power_series(n_warped, n_linear, -a) * linear.
Eigen::MatrixXd allpass_power_series(int n_max, int m_max, double a);

}  // namespace acoustok::vocoder
