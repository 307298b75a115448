// SPDX-License-Identifier: MIT
// Mini-batch k-means with scikit-learn MiniBatchKMeans semantics, and the
// k-means model file (phase 1).
//
// Same algorithm as sklearn.cluster.MiniBatchKMeans:
//  - k-means++ initialisation, sklearn's greedy variant (2 + floor(ln k)
//    local trials per centre), on `init_size` random rows; `n_init` such
//    initialisations, the best by inertia on a separate random validation
//    subset is kept;
//  - each step assigns a batch (rows drawn uniformly with replacement) to
//    the nearest centres and moves each centre to the running mean of every
//    row it has been given: c <- (c * w + sum(batch rows)) / (w + n_batch),
//    so the per-centre count w is the learning rate;
//  - centres whose count is below reassignment_ratio x the largest (and
//    never-used ones) are moved onto random batch rows (every 10 k rows);
//  - early stop when the exponentially smoothed batch inertia has not
//    improved for max_no_improvement steps; at most max_iter passes.
// Differences: assignment is exact (see lib/units/kernels.hpp); every random
// draw of step s comes from a generator seeded by (seed, s), so a fit
// resumed from a saved state continues exactly as an uninterrupted one, and
// sums are taken over fixed blocks of rows in a fixed order, so results do
// not depend on the thread count either.
// With KMeansRng::numpy a fit instead draws from NumPy's RandomState(seed)
// what scikit-learn 1.2's MiniBatchKMeans(random_state=seed).fit draws, in
// its order, and does its arithmetic as scikit-learn does on float32 data
// (float32 k-means++ distances from a float64 product, float32 counts,
// centres and inertia), so its centroids are scikit-learn's up to the rare
// label sklearn's float32 GEMM gets wrong; the generator's state is part of
// KMeansState.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace acoustok {

// Where a fit's random draws come from.
enum class KMeansRng {
  streams,  // one counter-based stream per step: resumable, any thread count
  numpy,    // NumPy's legacy RandomState(seed): scikit-learn's draws, in its order
};

struct KMeansOptions {
  int k = 100;
  int64_t batch_size = 10000;
  int max_iter = 100;           // passes over the data (sklearn's max_iter)
  int max_no_improvement = 30;  // steps without a better smoothed inertia; 0 = never stop early
                                // (30: within 0.1-0.15 % of fairseq's settings, tests/bench/bench_kmeans.py)
  int n_init = 3;               // k-means++ runs, the best on the validation subset is kept
  int64_t init_size = 0;        // rows per k-means++ run; 0 = 3 x batch_size; 3 x k when below k
                                // (as sklearn), at most n (then every row, none drawn)
  double reassignment_ratio = 0.01;
  uint64_t seed = 0;  // below 2^32 with KMeansRng::numpy (NumPy's limit)
  KMeansRng rng = KMeansRng::streams;
  int threads = 2;

  // Throws acoustok::Error naming the bad value.
  void validate() const;
};

// Everything a fit needs to continue: centres, counts, step and the early
// stopping state.
struct KMeansState {
  int64_t k = 0, dim = 0;
  std::vector<float> centroids;  // [k, dim]
  std::vector<double> counts;    // [k] rows each centre has absorbed
  int64_t steps = 0;             // mini-batch steps done
  int64_t since_reassign = 0;    // rows since the last reassignment check
  bool have_ewa = false;
  double ewa_inertia = 0, ewa_min = 0;
  int no_improvement = 0;
  bool converged = false;
  std::vector<uint32_t> rng_state;  // KMeansRng::numpy: MT19937's 624 words and position; else empty
};

// Fills out[i * dim ...] with row rows[i] of the data (float32).
using RowReader = std::function<void(const int64_t* rows, int64_t count, float* out)>;

// Thread-safety: one thread at a time; a fit spreads its own work over
// KMeansOptions::threads.
class MiniBatchKMeans {
 public:
  MiniBatchKMeans(int64_t dim, const KMeansOptions& options);

  const KMeansOptions& options() const { return opt_; }
  const KMeansState& state() const { return st_; }
  void set_state(KMeansState state);  // resume; throws when k or dim differ
  bool initialized() const { return !st_.centroids.empty(); }

  // k-means++ initialisation from n rows (n >= k): n_init runs on init_size
  // random rows each (every row when init_size >= n), the best by inertia on
  // another init_size random rows.
  void init(int64_t n, const RowReader& read);
  void init(const float* x, int64_t n);

  // One mini-batch step on these rows (sklearn's partial_fit, which
  // initialises from the first batch it sees). Returns the batch inertia.
  double partial_fit(const float* x, int64_t n);

  // The steps of fit() over n rows from `read`: step s draws its batch with a
  // generator seeded by (seed, s). Calls after_step (when given) after each
  // step; it returns false to pause (e.g. to checkpoint and exit). Returns
  // true when the fit is complete (converged or max_iter passes done).
  bool run_steps(int64_t n, const RowReader& read, const std::function<bool()>& after_step = {});
  int64_t total_steps(int64_t n) const;

  // Whole fit of an in-memory matrix [n, dim]: init, then run_steps.
  void fit(const float* x, int64_t n);

 private:
  // count distinct rows of [0, n) for the centres a reassignment moves.
  using RowPicker = std::function<std::vector<int64_t>(int64_t n, int64_t count)>;
  double step_on_batch(const float* batch, int64_t n, const RowPicker& pick);
  int64_t init_rows(int64_t n) const;
  bool record_inertia(double batch_inertia, int64_t batch, int64_t n_samples);

  int64_t dim_;
  KMeansOptions opt_;
  KMeansState st_;
};

// Nearest-centroid assignment, exact (see lib/units/kernels.hpp), multithreaded.
// Thread-safety: const after load: predict() from any number of threads.
class KMeansModel {
 public:
  KMeansModel() = default;
  KMeansModel(std::vector<float> centroids, int64_t k, int64_t dim,
              std::map<std::string, std::string> metadata = {});

  // safetensors with `centroids` [k, dim] (+ metadata), a NumPy .npy of
  // centroids [k, dim] (what np.save(km.cluster_centers_) writes), or
  // fairseq's km.bin (scikit-learn's KMeans / MiniBatchKMeans saved with
  // joblib.dump, read without executing anything; its cluster_centers_).
  static KMeansModel load(const std::string& path);
  // safetensors: centroids F32 [k, dim]; metadata gets k and dim added.
  void save(const std::string& path) const;

  int64_t k() const { return k_; }
  int64_t dim() const { return dim_; }
  const std::vector<float>& centroids() const { return c_; }
  const std::map<std::string, std::string>& metadata() const { return meta_; }
  std::map<std::string, std::string>& metadata() { return meta_; }

  // labels [n] for rows x [n, dim]; returns the inertia (sum of squared
  // distances, double). Rows with NaN/Inf throw acoustok::Error.
  double predict(const float* x, int64_t n, int32_t* labels, int threads = 1) const;
  std::vector<int32_t> predict(const float* x, int64_t n, int threads = 1) const;

 private:
  std::vector<float> c_;
  int64_t k_ = 0, dim_ = 0;
  std::map<std::string, std::string> meta_;
};

// Assign rows to centroids with `threads` threads over fixed blocks;
// dist (optional) gets each row's squared distance in double.
void kmeans_assign(const float* x, int64_t n, const float* centroids, int64_t k, int64_t dim, int32_t* labels,
                   double* dist, int threads);

// Throws "<what>: row R, column C is NaN/Inf" for the first non-finite value.
void check_finite(const float* x, int64_t n, int64_t dim, const std::string& what);

}  // namespace acoustok
