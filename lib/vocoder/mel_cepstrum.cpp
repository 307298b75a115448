// SPDX-License-Identifier: MIT
#include "vocoder/mel_cepstrum.hpp"

#include <unsupported/Eigen/FFT>

#include <cmath>
#include <complex>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include <Eigen/Cholesky>

namespace acoustok::vocoder {

Eigen::MatrixXd allpass_power_series(int n_max, int m_max, double a) {
  // Column m = column m-1 times (z^-1 - a) / (1 - a z^-1): multiply by
  // (-a + z^-1), then run the recursion y(n) = t(n) + a y(n-1). The series
  // are cut at z^-n_max, which leaves every coefficient up to it exact.
  Eigen::MatrixXd p = Eigen::MatrixXd::Zero(n_max + 1, m_max + 1);
  p(0, 0) = 1.0;
  for (int m = 1; m <= m_max; ++m) {
    double prev = 0.0;
    for (int n = 0; n <= n_max; ++n) {
      const double t = -a * p(n, m - 1) + (n > 0 ? p(n - 1, m - 1) : 0.0);
      prev = t + a * prev;
      p(n, m) = prev;
    }
  }
  return p;
}

MelCepstralAnalysis::MelCepstralAnalysis(int frame_length, int order, double alpha)
    : length_(frame_length), half_(frame_length / 2), order_(order), alpha_(alpha) {
  if (frame_length < 4 || frame_length % 2 != 0 || order < 1 || !(std::fabs(alpha) < 1.0))
    throw std::invalid_argument(
        "MelCepstralAnalysis: need an even frame length >= 4, order >= 1, |alpha| < 1");
  const int h = half_, m = order_;
  // cos(2 pi k n / L) for k, n = 0..L/2, from a table of one period.
  std::vector<double> period(static_cast<size_t>(length_));
  for (int i = 0; i < length_; ++i) period[static_cast<size_t>(i)] = std::cos(2.0 * M_PI * i / length_);
  Eigen::MatrixXd cosines(h + 1, h + 1);
  for (int n = 0; n <= h; ++n)
    for (int k = 0; k <= h; ++k)
      cosines(n, k) = period[static_cast<size_t>(static_cast<long>(k) * n % length_)];
  // The inverse DFT of a real even spectrum given on bins 0..L/2: lags 0..L/2.
  Eigen::MatrixXd inverse = cosines / length_;
  inverse.middleCols(1, h - 1) *= 2.0;

  // Start: the causal half of the real cepstrum (c(0), c(L/2) halved), warped to order M.
  Eigen::MatrixXd causal = inverse;
  causal.row(0) *= 0.5;
  causal.row(h) *= 0.5;
  start_ = allpass_power_series(m, h, -alpha) * causal;
  start_c0_ = causal.row(0).transpose();
  // log |H(k)|^2 = 2 sum_{n=0}^{L/2} c_linear(n) cos(2 pi k n / L), c_linear = the unwarped c.
  log_gain_ = 2.0 * cosines * allpass_power_series(h, m, alpha);
  // r~(j) = sum_n r(n) [z^-n] (w^-1)^j over the lags r(0..L/2) of the residual.
  warped_ = allpass_power_series(h, 2 * m, alpha).transpose() * inverse;
  powers_.resize(m + 1);
  powers_[0] = 1.0;
  for (int k = 1; k <= m; ++k) powers_[k] = -alpha * powers_[k - 1];
}

MelCepstralAnalysis::Result MelCepstralAnalysis::analyze(const double* frame, double* mc,
                                                         const Options& options) const {
  const int h = half_, m = order_;
  thread_local Eigen::FFT<double> fft;
  thread_local std::vector<double> samples;
  thread_local std::vector<std::complex<double>> spectrum;
  fft.SetFlag(Eigen::FFT<double>::HalfSpectrum);
  samples.assign(frame, frame + length_);
  fft.fwd(spectrum, samples);

  Eigen::VectorXd periodogram(h + 1), log_periodogram(h + 1);
  for (int k = 0; k <= h; ++k) {
    periodogram[k] = std::norm(spectrum[static_cast<size_t>(k)]) + options.periodogram_add;
    log_periodogram[k] = std::log(periodogram[k]);
  }
  Eigen::Map<Eigen::VectorXd> c(mc, m + 1);
  c.noalias() = start_ * log_periodogram;
  double previous = start_c0_.dot(log_periodogram);

  Eigen::VectorXd log_gain(h + 1), residual(h + 1), r(2 * m + 1), gradient(m + 1);
  Eigen::MatrixXd system(m + 1, m + 1);
  Eigen::LDLT<Eigen::MatrixXd> solver(m + 1);
  Result result;
  for (int j = 1; j <= options.max_iterations + 1; ++j) {
    log_gain.noalias() = log_gain_ * c;
    residual = periodogram.array() * (-log_gain.array()).exp();
    r.noalias() = warped_ * residual;
    const double criterion = r[0];
    if (j >= options.min_iterations) {
      if (std::fabs((criterion - previous) / criterion) < options.end_condition) {
        result.converged = true;
        break;
      }
      previous = criterion;
    }
    if (j > options.max_iterations) break;
    for (int k = 0; k <= m; ++k)
      for (int l = 0; l <= m; ++l) system(k, l) = r[std::abs(k - l)] + r[k + l];
    gradient = r.head(m + 1) - powers_;
    solver.compute(system);
    if (solver.info() != Eigen::Success || !(solver.vectorD().minCoeff() >= options.determinant_floor)) {
      result.singular = true;
      break;
    }
    const Eigen::VectorXd step = solver.solve(gradient);
    if (!step.allFinite()) {
      result.singular = true;
      break;
    }
    c += step;
    ++result.iterations;
  }
  return result;
}

}  // namespace acoustok::vocoder
