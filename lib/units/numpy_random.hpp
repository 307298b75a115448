// SPDX-License-Identifier: MIT
// NumPy's legacy numpy.random.RandomState(seed), draw for draw: the stream
// scikit-learn's MiniBatchKMeans(random_state=seed) draws from, for
// `kmeans fit --rng numpy`. Only the draws k-means needs, each consuming the
// 32-bit outputs of MT19937 exactly as NumPy's C code does
// (numpy/random/src/distributions/distributions.c, mt19937.c).
#pragma once

#include <cstdint>
#include <vector>

namespace acoustok::units {

class NumpyRandomState {
 public:
  static constexpr int kWords = 624;

  // RandomState(seed): MT19937 seeded by init_genrand(seed) (seed < 2^32).
  explicit NumpyRandomState(uint32_t seed);

  uint32_t next_u32();
  uint64_t next_u64();  // two 32-bit draws, the first one high
  // random_sample() / uniform(): 53 bits from two 32-bit draws, in [0, 1).
  double next_double();
  // randint(0, high) for high >= 1: masked rejection on 32-bit draws when
  // high - 1 fits 32 bits (64-bit draws otherwise); high == 1 draws nothing.
  int64_t randint(int64_t high);
  void randint(int64_t high, int64_t* out, int64_t count);
  // choice(n, size, replace=False) == permutation(n)[:size]: a Fisher-Yates
  // shuffle of 0..n-1 from the top down, j = random_interval(i).
  std::vector<int64_t> choice_without_replacement(int64_t n, int64_t size);

  // The whole state: the 624 key words, then the position (0..624).
  std::vector<uint32_t> state() const;
  // Throws acoustok::Error when `words` is no state state() could return.
  void set_state(const std::vector<uint32_t>& words);

 private:
  void reload();
  uint64_t interval(uint64_t max);  // uniform in [0, max] by masked rejection

  uint32_t key_[kWords];
  int pos_;
};

}  // namespace acoustok::units
