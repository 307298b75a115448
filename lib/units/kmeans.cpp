// SPDX-License-Identifier: MIT
#include "acoustok/kmeans.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>

#include "acoustok/error.hpp"
#include "acoustok/tensor_file.hpp"
#include "units/joblib_kmeans.hpp"
#include "units/kernels.hpp"
#include "units/numpy_random.hpp"
#include "units/parallel_for.hpp"
#include "units/sklearn_kmeans.hpp"

namespace acoustok {
namespace {

using units::kernels;
using units::parallel_for;

// Rows per block: sums and assignments are made block by block, so the
// arithmetic (and the result) is the same for any number of threads.
constexpr int64_t kBlock = 1024;
constexpr uint64_t kInitStream = 0x696e6974ULL << 32;  // "init"

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The generator of one random stream (the init, or one step) of a seed.
std::mt19937_64 stream_rng(uint64_t seed, uint64_t stream) {
  return std::mt19937_64(splitmix64(splitmix64(seed) ^ stream));
}

// Portable draws (std:: distributions differ between standard libraries).
double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
// Uniform in [0, n) by rejection, so no index is favoured.
int64_t uniform_index(std::mt19937_64& rng, int64_t n) {
  const uint64_t range = static_cast<uint64_t>(n);
  const uint64_t limit = UINT64_MAX - UINT64_MAX % range;
  uint64_t r;
  do r = rng();
  while (r >= limit);
  return static_cast<int64_t>(r % range);
}

// The partial Fisher-Yates shuffle of our own streams: distinct rows.
std::function<std::vector<int64_t>(int64_t, int64_t)> stream_picker(uint64_t seed, uint64_t stream) {
  return [seed, stream](int64_t n, int64_t count) {
    std::mt19937_64 rng = stream_rng(seed, stream ^ 0x5265617373ULL);
    std::vector<int64_t> pick(static_cast<size_t>(n));
    std::iota(pick.begin(), pick.end(), 0);
    for (int64_t used = 0; used < count; ++used)
      std::swap(pick[static_cast<size_t>(used)],
                pick[static_cast<size_t>(used + uniform_index(rng, n - used))]);
    pick.resize(static_cast<size_t>(count));
    return pick;
  };
}

// The NumPy generator where the fit left it (a fresh RandomState(seed) for a
// state set without one).
units::NumpyRandomState numpy_rng(const KMeansOptions& o, const KMeansState& st) {
  units::NumpyRandomState rng(static_cast<uint32_t>(o.seed));
  if (!st.rng_state.empty()) rng.set_state(st.rng_state);
  return rng;
}

// Sorts row indices in [0, n) ascending: LSD radix sort, 11 bits a pass
// (two passes up to 4 M rows, three up to 8 G). Each mini-batch step sorts
// its sample so rows are read in order; std::sort of 10000 indices was 6 %
// of a fit.
void sort_indices(std::vector<int64_t>& idx, int64_t n) {
  constexpr int kBits = 11;
  constexpr size_t kBuckets = size_t{1} << kBits;
  std::vector<int64_t> tmp(idx.size());
  for (int shift = 0; shift < 64 && (static_cast<uint64_t>(n - 1) >> shift) != 0; shift += kBits) {
    size_t start[kBuckets + 1] = {};
    for (int64_t v : idx) ++start[((static_cast<uint64_t>(v) >> shift) & (kBuckets - 1)) + 1];
    for (size_t d = 1; d <= kBuckets; ++d) start[d] += start[d - 1];
    for (int64_t v : idx) tmp[start[(static_cast<uint64_t>(v) >> shift) & (kBuckets - 1)]++] = v;
    idx.swap(tmp);
  }
}

std::vector<float> row_norms(const float* x, int64_t n, int64_t dim) {
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    float s = 0;
    for (int64_t d = 0; d < dim; ++d) s += x[i * dim + d] * x[i * dim + d];
    out[static_cast<size_t>(i)] = s;
  }
  return out;
}

// sklearn's greedy k-means++ on rows x [m, dim]. Each new centre's trials
// stream the whole sample, so the passes are bound by memory, not
// arithmetic: they read a half-precision copy of it (half the bytes; the
// distances then carry ~2^-11 relative rounding, which moves the D^2
// sampling probabilities by far less than one draw's randomness). The copy
// is scaled by a power of two into half's range first: exact, and D^2
// sampling does not depend on the scale. The centres returned are the
// sample's own float rows.
std::vector<float> kmeans_plusplus(const float* x, int64_t m, int64_t dim, int k, std::mt19937_64& rng,
                                   int threads) {
  const int trials = 2 + static_cast<int>(std::log(static_cast<double>(k)));
  const int64_t blocks = (m + kBlock - 1) / kBlock;
  (void)kernels();  // chosen (or refused) on the caller's thread, before the workers

  float amax = 0;
  for (int64_t i = 0; i < m * dim; ++i) amax = std::max(amax, std::fabs(x[i]));
  const double scale =
      amax > 0 ? std::ldexp(1.0, 14 - std::ilogb(amax)) : 1.0;  // amax * scale in [2^14, 2^15)
  std::vector<uint16_t> xh(static_cast<size_t>(m * dim));
  std::vector<float> x_norms(static_cast<size_t>(m));
  parallel_for(blocks, threads, [&](int64_t b) {
    const int64_t lo = b * kBlock, len = std::min(kBlock, m - lo);
    std::vector<float> row(static_cast<size_t>(dim));
    for (int64_t i = lo; i < lo + len; ++i) {
      for (int64_t d = 0; d < dim; ++d)
        row[static_cast<size_t>(d)] = static_cast<float>(x[i * dim + d] * scale);
      kernels().to_half(row.data(), dim, xh.data() + i * dim);
      kernels().from_half(xh.data() + i * dim, dim, row.data());  // the norms of what the passes will read
      float s = 0;
      for (float v : row) s += v * v;
      x_norms[static_cast<size_t>(i)] = s;
    }
  });

  std::vector<float> centers(static_cast<size_t>(k) * dim);
  std::vector<float> closest(static_cast<size_t>(m));
  std::vector<float> cand_dist(static_cast<size_t>(trials) * m);
  std::vector<double> cumsum(static_cast<size_t>(m));
  std::vector<double> block_pot(static_cast<size_t>(blocks * trials));
  std::vector<float> cand(static_cast<size_t>(trials) * dim);

  // Distances from `count` rows of `cand` to every row, block-parallel, and
  // per candidate the potential sum(min(closest, d)) in block order.
  auto candidate_distances = [&](int count, float* out, bool first) {
    const std::vector<float> cn = row_norms(cand.data(), count, dim);
    parallel_for(blocks, threads, [&](int64_t b) {
      const int64_t lo = b * kBlock, len = std::min(kBlock, m - lo);
      std::vector<float> tmp(static_cast<size_t>(count * len));
      kernels().sq_distances_half(cand.data(), count, cn.data(), xh.data() + lo * dim, len,
                                  x_norms.data() + lo, dim, tmp.data());
      for (int t = 0; t < count; ++t) {
        double pot = 0;
        for (int64_t j = 0; j < len; ++j) {
          float d = tmp[static_cast<size_t>(t * len + j)];
          if (!first) d = std::min(d, closest[static_cast<size_t>(lo + j)]);
          out[static_cast<size_t>(t * m + lo + j)] = d;
          pot += d;
        }
        block_pot[static_cast<size_t>(b * count + t)] = pot;
      }
    });
    std::vector<double> pots(static_cast<size_t>(count), 0.0);
    for (int64_t b = 0; b < blocks; ++b)
      for (int t = 0; t < count; ++t)
        pots[static_cast<size_t>(t)] += block_pot[static_cast<size_t>(b * count + t)];
    return pots;
  };
  auto take_candidate = [&](int t, int64_t row) {
    kernels().from_half(xh.data() + row * dim, dim, cand.data() + t * dim);
  };

  const int64_t first = uniform_index(rng, m);
  std::copy_n(x + first * dim, dim, centers.begin());
  take_candidate(0, first);
  double pot = candidate_distances(1, closest.data(), true)[0];
  for (int c = 1; c < k; ++c) {
    double run = 0;
    for (int64_t i = 0; i < m; ++i) cumsum[static_cast<size_t>(i)] = run += closest[static_cast<size_t>(i)];
    std::vector<int64_t> ids(static_cast<size_t>(trials));
    for (int t = 0; t < trials; ++t) {
      const double v = uniform01(rng) * pot;
      const int64_t id = std::lower_bound(cumsum.begin(), cumsum.end(), v) - cumsum.begin();
      ids[static_cast<size_t>(t)] = std::min(id, m - 1);
      take_candidate(t, ids[static_cast<size_t>(t)]);
    }
    const std::vector<double> pots = candidate_distances(trials, cand_dist.data(), false);
    const int best = static_cast<int>(std::min_element(pots.begin(), pots.end()) - pots.begin());
    pot = pots[static_cast<size_t>(best)];
    std::copy_n(cand_dist.begin() + best * m, m, closest.begin());
    std::copy_n(x + ids[static_cast<size_t>(best)] * dim, dim, centers.begin() + c * dim);
  }
  return centers;
}

}  // namespace

void KMeansOptions::validate() const {
  if (k < 1 || k > 65535) throw Error("k must be between 1 and 65535, not " + std::to_string(k));
  if (batch_size < 1) throw Error("batch size must be positive");
  if (max_iter < 1) throw Error("max-iter must be positive");
  if (max_no_improvement < 0) throw Error("max-no-improvement must be 0 (off) or positive");
  if (n_init < 1) throw Error("n-init must be positive");
  if (init_size < 0) throw Error("init-size must be 0 (3 x batch size) or positive");
  if (!(reassignment_ratio >= 0 && reassignment_ratio <= 1))
    throw Error("reassignment ratio must be in [0, 1]");
  if (threads < 1) throw Error("threads must be positive");
  if (rng == KMeansRng::numpy && seed > 0xffffffffULL)
    throw Error("seed must be below 2^32 with --rng numpy (NumPy's RandomState), not " +
                std::to_string(seed));
}

void check_finite(const float* x, int64_t n, int64_t dim, const std::string& what) {
  for (int64_t i = 0; i < n * dim; ++i) {
    if (!std::isfinite(x[i])) {
      throw Error(what + ": row " + std::to_string(i / dim) + ", column " + std::to_string(i % dim) + " is " +
                  (std::isnan(x[i]) ? "NaN" : "infinite"));
    }
  }
}

void kmeans_assign(const float* x, int64_t n, const float* centroids, int64_t k, int64_t dim, int32_t* labels,
                   double* dist, int threads) {
  // Chosen here, on the caller's thread: a refused ACOUSTOK_MAX_CPU_ISA
  // throws to the caller, not inside a worker thread.
  const units::Kernels& kern = kernels();
  const std::vector<float> norms = row_norms(centroids, k, dim);
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  parallel_for(blocks, threads, [&](int64_t b) {
    const int64_t lo = b * kBlock, len = std::min(kBlock, n - lo);
    kern.assign(x + lo * dim, len, centroids, norms.data(), k, dim, labels + lo, dist ? dist + lo : nullptr);
  });
}

// ---------------------------------------------------------------- fitting

MiniBatchKMeans::MiniBatchKMeans(int64_t dim, const KMeansOptions& options) : dim_(dim), opt_(options) {
  opt_.validate();
  if (dim < 1) throw Error("k-means: feature dimension must be positive");
  st_.k = opt_.k;
  st_.dim = dim;
}

void MiniBatchKMeans::set_state(KMeansState state) {
  if (state.k != opt_.k || state.dim != dim_ ||
      state.centroids.size() != static_cast<size_t>(state.k * state.dim) ||
      state.counts.size() != static_cast<size_t>(state.k))
    throw Error("k-means state does not match k=" + std::to_string(opt_.k) + ", dim=" + std::to_string(dim_));
  if (!state.rng_state.empty()) units::NumpyRandomState(0).set_state(state.rng_state);  // throws if malformed
  st_ = std::move(state);
}

int64_t MiniBatchKMeans::total_steps(int64_t n) const {
  const int64_t batch = std::min(opt_.batch_size, n);
  return batch > 0 ? (static_cast<int64_t>(opt_.max_iter) * n) / batch : 0;
}

// sklearn's init_size: 3 x batch rows unless given, 3 x k when below k, at
// most n.
int64_t MiniBatchKMeans::init_rows(int64_t n) const {
  int64_t rows = opt_.init_size > 0 ? opt_.init_size : 3 * std::min(opt_.batch_size, n);
  if (rows < opt_.k) rows = 3 * static_cast<int64_t>(opt_.k);
  return std::min(rows, n);
}

void MiniBatchKMeans::init(int64_t n, const RowReader& read) {
  if (n < opt_.k) {
    throw Error("k-means: k=" + std::to_string(opt_.k) + " is larger than the number of feature frames (" +
                std::to_string(n) + ")");
  }
  const int64_t init_size = init_rows(n);
  const bool numpy = opt_.rng == KMeansRng::numpy;
  units::NumpyRandomState np_rng(static_cast<uint32_t>(opt_.seed));
  std::mt19937_64 rng = stream_rng(opt_.seed, kInitStream);
  // Rows of a random subset (sklearn draws them in order and keeps that
  // order; our own stream sorts them, which reads faster), or every row.
  auto draw = [&](std::vector<float>& rows, bool all) {
    std::vector<int64_t> idx(static_cast<size_t>(init_size));
    if (all) {
      std::iota(idx.begin(), idx.end(), 0);
    } else if (numpy) {
      np_rng.randint(n, idx.data(), init_size);
    } else {
      for (auto& i : idx) i = uniform_index(rng, n);
      sort_indices(idx, n);
    }
    rows.resize(static_cast<size_t>(init_size * dim_));
    read(idx.data(), init_size, rows.data());
  };
  // sklearn draws the validation rows even for a single initialisation.
  std::vector<float> valid, sample;
  if (opt_.n_init > 1 || numpy) draw(valid, false);
  std::vector<int32_t> labels(static_cast<size_t>(init_size));
  std::vector<double> dist(static_cast<size_t>(init_size));
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < opt_.n_init; ++r) {
    if (r == 0 || init_size < n) draw(sample, init_size == n);
    std::vector<float> centers =
        numpy ? units::sklearn_kmeans_plusplus(sample.data(), init_size, dim_, opt_.k, np_rng, opt_.threads)
              : kmeans_plusplus(sample.data(), init_size, dim_, opt_.k, rng, opt_.threads);
    double inertia = 0;
    if (opt_.n_init > 1) {
      kmeans_assign(valid.data(), init_size, centers.data(), opt_.k, dim_, labels.data(), dist.data(),
                    opt_.threads);
      inertia = numpy ? units::sklearn_inertia(valid.data(), init_size, centers.data(), dim_, labels.data())
                      : std::accumulate(dist.begin(), dist.end(), 0.0);
    }
    if (r == 0 || inertia < best) {
      best = inertia;
      st_.centroids = std::move(centers);
    }
  }
  st_.counts.assign(static_cast<size_t>(opt_.k), 0.0);
  st_.rng_state = numpy ? np_rng.state() : std::vector<uint32_t>{};
}

void MiniBatchKMeans::init(const float* x, int64_t n) {
  init(n, [&](const int64_t* rows, int64_t count, float* out) {
    for (int64_t i = 0; i < count; ++i) std::memcpy(out + i * dim_, x + rows[i] * dim_, sizeof(float) * dim_);
  });
}

double MiniBatchKMeans::step_on_batch(const float* batch, int64_t n, const RowPicker& pick) {
  const int64_t k = opt_.k, dim = dim_;
  const bool numpy = opt_.rng == KMeansRng::numpy;
  std::vector<int32_t> labels(static_cast<size_t>(n));
  std::vector<double> dist(static_cast<size_t>(n));
  kmeans_assign(batch, n, st_.centroids.data(), k, dim, labels.data(), dist.data(), opt_.threads);
  const double inertia = numpy ? units::sklearn_inertia(batch, n, st_.centroids.data(), dim, labels.data())
                               : std::accumulate(dist.begin(), dist.end(), 0.0);

  // sklearn checks before the update whether this step may reassign.
  st_.since_reassign += n;
  bool reassign = false;
  if (std::any_of(st_.counts.begin(), st_.counts.end(), [](double c) { return c == 0; }) ||
      st_.since_reassign >= 10 * k) {
    st_.since_reassign = 0;
    reassign = true;
  }

  // Rows of each centre in row order (counting sort), then each centre
  // moves to the mean of everything it has absorbed.
  std::vector<int64_t> start(static_cast<size_t>(k + 1), 0);
  for (int32_t l : labels) ++start[static_cast<size_t>(l) + 1];
  for (int64_t c = 0; c < k; ++c) start[static_cast<size_t>(c + 1)] += start[static_cast<size_t>(c)];
  std::vector<int64_t> order(static_cast<size_t>(n));
  {
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    for (int64_t i = 0; i < n; ++i)
      order[static_cast<size_t>(fill[static_cast<size_t>(labels[static_cast<size_t>(i)])]++)] = i;
  }
  if (numpy) {
    units::sklearn_update(batch, order.data(), start.data(), st_.centroids.data(), st_.counts.data(), k, dim,
                          opt_.threads);
  } else {
    parallel_for(k, opt_.threads, [&](int64_t c) {
      const int64_t lo = start[static_cast<size_t>(c)], hi = start[static_cast<size_t>(c + 1)];
      if (hi == lo) return;
      std::vector<double> sum(static_cast<size_t>(dim), 0.0);
      for (int64_t r = lo; r < hi; ++r) {
        const float* row = batch + order[static_cast<size_t>(r)] * dim;
        for (int64_t d = 0; d < dim; ++d) sum[static_cast<size_t>(d)] += row[d];
      }
      double& w = st_.counts[static_cast<size_t>(c)];
      float* center = st_.centroids.data() + c * dim;
      const double total = w + static_cast<double>(hi - lo);
      for (int64_t d = 0; d < dim; ++d)
        center[d] =
            static_cast<float>((static_cast<double>(center[d]) * w + sum[static_cast<size_t>(d)]) / total);
      w = total;
    });
  }

  if (reassign && opt_.reassignment_ratio > 0) {
    const double max_count = *std::max_element(st_.counts.begin(), st_.counts.end());
    // sklearn compares its float32 counts with the threshold rounded to float.
    const double threshold =
        numpy ? static_cast<float>(opt_.reassignment_ratio * max_count) : opt_.reassignment_ratio * max_count;
    std::vector<char> move(static_cast<size_t>(k), 0);
    int64_t moves = 0;
    for (int64_t c = 0; c < k; ++c) {
      if (st_.counts[static_cast<size_t>(c)] < threshold) {
        move[static_cast<size_t>(c)] = 1;
        ++moves;
      }
    }
    if (moves > n / 2) {  // at most half the batch; keep the better-fed centres
      std::vector<int64_t> by_count(static_cast<size_t>(k));
      std::iota(by_count.begin(), by_count.end(), 0);
      std::stable_sort(by_count.begin(), by_count.end(), [&](int64_t a, int64_t b) {
        return st_.counts[static_cast<size_t>(a)] < st_.counts[static_cast<size_t>(b)];
      });
      for (int64_t i = n / 2; i < k; ++i) move[static_cast<size_t>(by_count[static_cast<size_t>(i)])] = 0;
      moves = n / 2;
    }
    if (moves > 0) {
      double min_kept = std::numeric_limits<double>::infinity();
      for (int64_t c = 0; c < k; ++c)
        if (!move[static_cast<size_t>(c)]) min_kept = std::min(min_kept, st_.counts[static_cast<size_t>(c)]);
      const std::vector<int64_t> rows = pick(n, moves);
      size_t used = 0;
      for (int64_t c = 0; c < k; ++c) {
        if (!move[static_cast<size_t>(c)]) continue;
        std::memcpy(st_.centroids.data() + c * dim, batch + rows[used++] * dim, sizeof(float) * dim);
        // Not back to zero, or the centre would be moved again at once.
        st_.counts[static_cast<size_t>(c)] = std::isfinite(min_kept) ? min_kept : 0.0;
      }
    }
  }
  return inertia;
}

bool MiniBatchKMeans::record_inertia(double batch_inertia, int64_t batch, int64_t n_samples) {
  batch_inertia /= static_cast<double>(batch);
  if (st_.steps == 1) return false;  // the first batch measures the initialisation
  bool first = !st_.have_ewa;
  if (first) {
    st_.ewa_inertia = batch_inertia;
    st_.have_ewa = true;
  } else {
    const double alpha = std::min(1.0, static_cast<double>(batch) * 2.0 / static_cast<double>(n_samples + 1));
    st_.ewa_inertia = st_.ewa_inertia * (1 - alpha) + batch_inertia * alpha;
  }
  if (first || st_.ewa_inertia < st_.ewa_min) {
    st_.no_improvement = 0;
    st_.ewa_min = st_.ewa_inertia;
  } else {
    ++st_.no_improvement;
  }
  return opt_.max_no_improvement > 0 && st_.no_improvement >= opt_.max_no_improvement;
}

double MiniBatchKMeans::partial_fit(const float* x, int64_t n) {
  if (n < 1) throw Error("k-means: empty batch");
  if (!initialized()) init(x, n);
  double inertia;
  if (opt_.rng == KMeansRng::numpy) {
    units::NumpyRandomState rng = numpy_rng(opt_, st_);
    inertia = step_on_batch(
        x, n, [&](int64_t rows, int64_t count) { return rng.choice_without_replacement(rows, count); });
    st_.rng_state = rng.state();
  } else {
    inertia = step_on_batch(x, n, stream_picker(opt_.seed, static_cast<uint64_t>(st_.steps)));
  }
  ++st_.steps;
  record_inertia(inertia, n, n);
  return inertia;
}

bool MiniBatchKMeans::run_steps(int64_t n, const RowReader& read, const std::function<bool()>& after_step) {
  if (!initialized()) init(n, read);
  const int64_t batch = std::min(opt_.batch_size, n);
  const int64_t total = total_steps(n);
  std::vector<int64_t> idx(static_cast<size_t>(batch));
  std::vector<float> rows(static_cast<size_t>(batch * dim_));
  const bool numpy = opt_.rng == KMeansRng::numpy;
  while (!st_.converged && st_.steps < total) {
    double inertia;
    if (numpy) {
      // sklearn's order: the batch, then the reassignment's choice; the batch
      // keeps its drawn order, which the choice indexes.
      units::NumpyRandomState rng = numpy_rng(opt_, st_);
      rng.randint(n, idx.data(), batch);
      read(idx.data(), batch, rows.data());
      inertia = step_on_batch(rows.data(), batch, [&](int64_t rows_n, int64_t count) {
        return rng.choice_without_replacement(rows_n, count);
      });
      st_.rng_state = rng.state();
    } else {
      std::mt19937_64 rng = stream_rng(opt_.seed, static_cast<uint64_t>(st_.steps));
      for (auto& i : idx) i = uniform_index(rng, n);
      sort_indices(idx, n);  // a batch is a multiset; sorted rows read faster
      read(idx.data(), batch, rows.data());
      inertia = step_on_batch(rows.data(), batch, stream_picker(opt_.seed, static_cast<uint64_t>(st_.steps)));
    }
    ++st_.steps;
    st_.converged = record_inertia(inertia, batch, n);
    if (after_step && !after_step()) return st_.converged || st_.steps >= total;
  }
  return true;
}

void MiniBatchKMeans::fit(const float* x, int64_t n) {
  const RowReader read = [&](const int64_t* rows, int64_t count, float* out) {
    for (int64_t i = 0; i < count; ++i) std::memcpy(out + i * dim_, x + rows[i] * dim_, sizeof(float) * dim_);
  };
  init(n, read);
  run_steps(n, read);
}

// ---------------------------------------------------------------- model file

KMeansModel::KMeansModel(std::vector<float> centroids, int64_t k, int64_t dim,
                         std::map<std::string, std::string> metadata)
    : c_(std::move(centroids)), k_(k), dim_(dim), meta_(std::move(metadata)) {
  if (k < 1 || dim < 1 || c_.size() != static_cast<size_t>(k * dim))
    throw Error("k-means model: bad centroid shape");
}

KMeansModel KMeansModel::load(const std::string& path) {
  char magic[9] = {};
  size_t got = 0;
  {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw file_error(path, std::string("cannot open: ") + std::strerror(errno));
    f.read(magic, sizeof magic);
    got = static_cast<size_t>(f.gcount());
  }
  if (got >= 2 && std::memcmp(magic, "\x93NUMPY", 6) != 0 &&
      units::looks_like_joblib(reinterpret_cast<const uint8_t*>(magic), got)) {
    return units::read_joblib_kmeans(path);
  }
  std::vector<float> values;
  std::vector<int64_t> shape;
  std::map<std::string, std::string> meta;
  if (std::memcmp(magic, "\x93NUMPY", 6) == 0) {
    NpyArray a = read_npy(path);
    shape = a.shape;
    values = std::move(a.values);
  } else {
    SafetensorsFile f(path);
    const TensorView& t = f.at("centroids");
    shape = t.shape;
    values = to_float32(t);
    meta = f.metadata();
  }
  if (shape.size() != 2 || shape[0] < 1 || shape[1] < 1) {
    std::string s;
    for (int64_t d : shape) s += (s.empty() ? "" : ", ") + std::to_string(d);
    throw file_error(path, "centroids must be a [k, dim] matrix, not [" + s + "]");
  }
  if (shape[0] > 65535) throw file_error(path, "more than 65535 centroids");
  check_finite(values.data(), shape[0], shape[1], path + ": centroids");
  meta["k"] = std::to_string(shape[0]);
  meta["dim"] = std::to_string(shape[1]);
  return KMeansModel(std::move(values), shape[0], shape[1], std::move(meta));
}

void KMeansModel::save(const std::string& path) const {
  auto meta = meta_;
  meta["k"] = std::to_string(k_);
  meta["dim"] = std::to_string(dim_);
  write_safetensors(path, {NamedTensor{"centroids", {k_, dim_}, c_}}, meta);
}

double KMeansModel::predict(const float* x, int64_t n, int32_t* labels, int threads) const {
  check_finite(x, n, dim_, "features");
  std::vector<double> dist(static_cast<size_t>(n));
  kmeans_assign(x, n, c_.data(), k_, dim_, labels, dist.data(), threads);
  double inertia = 0;
  for (double d : dist) inertia += d;
  return inertia;
}

std::vector<int32_t> KMeansModel::predict(const float* x, int64_t n, int threads) const {
  std::vector<int32_t> labels(static_cast<size_t>(n));
  predict(x, n, labels.data(), threads);
  return labels;
}

}  // namespace acoustok
