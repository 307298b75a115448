// SPDX-License-Identifier: MIT
#include "units/numpy_random.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "acoustok/error.hpp"

namespace acoustok::units {
namespace {

constexpr int kShift = 397;
constexpr uint32_t kMatrixA = 0x9908b0dfU, kUpper = 0x80000000U, kLower = 0x7fffffffU;

// Smallest all-ones mask covering max.
uint64_t mask_of(uint64_t max) {
  uint64_t m = max;
  m |= m >> 1;
  m |= m >> 2;
  m |= m >> 4;
  m |= m >> 8;
  m |= m >> 16;
  m |= m >> 32;
  return m;
}

}  // namespace

NumpyRandomState::NumpyRandomState(uint32_t seed) {
  for (int i = 0; i < kWords; ++i) {
    key_[i] = seed;
    seed = 1812433253U * (seed ^ (seed >> 30)) + static_cast<uint32_t>(i) + 1;
  }
  pos_ = kWords;
}

void NumpyRandomState::reload() {
  int i = 0;
  for (; i < kWords - kShift; ++i) {
    const uint32_t y = (key_[i] & kUpper) | (key_[i + 1] & kLower);
    key_[i] = key_[i + kShift] ^ (y >> 1) ^ ((0U - (y & 1)) & kMatrixA);
  }
  for (; i < kWords - 1; ++i) {
    const uint32_t y = (key_[i] & kUpper) | (key_[i + 1] & kLower);
    key_[i] = key_[i + kShift - kWords] ^ (y >> 1) ^ ((0U - (y & 1)) & kMatrixA);
  }
  const uint32_t y = (key_[kWords - 1] & kUpper) | (key_[0] & kLower);
  key_[kWords - 1] = key_[kShift - 1] ^ (y >> 1) ^ ((0U - (y & 1)) & kMatrixA);
  pos_ = 0;
}

uint32_t NumpyRandomState::next_u32() {
  if (pos_ == kWords) reload();
  uint32_t y = key_[pos_++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680U;
  y ^= (y << 15) & 0xefc60000U;
  return y ^ (y >> 18);
}

uint64_t NumpyRandomState::next_u64() {
  const uint64_t hi = next_u32();
  return hi << 32 | next_u32();
}

double NumpyRandomState::next_double() {
  const int32_t a = static_cast<int32_t>(next_u32() >> 5), b = static_cast<int32_t>(next_u32() >> 6);
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

int64_t NumpyRandomState::randint(int64_t high) {
  int64_t out;
  randint(high, &out, 1);
  return out;
}

void NumpyRandomState::randint(int64_t high, int64_t* out, int64_t count) {
  if (high < 1) throw Error("randint: high must be positive, not " + std::to_string(high));
  const uint64_t rng = static_cast<uint64_t>(high - 1);
  if (rng == 0) {
    for (int64_t i = 0; i < count; ++i) out[i] = 0;
  } else if (rng == 0xffffffffULL) {
    for (int64_t i = 0; i < count; ++i) out[i] = next_u32();
  } else if (rng < 0xffffffffULL) {
    const uint32_t mask = static_cast<uint32_t>(mask_of(rng));
    for (int64_t i = 0; i < count; ++i) {
      uint32_t v;
      while ((v = next_u32() & mask) > rng) {
      }
      out[i] = v;
    }
  } else {
    const uint64_t mask = mask_of(rng);
    for (int64_t i = 0; i < count; ++i) {
      uint64_t v;
      while ((v = next_u64() & mask) > rng) {
      }
      out[i] = static_cast<int64_t>(v);
    }
  }
}

uint64_t NumpyRandomState::interval(uint64_t max) {
  if (max == 0) return 0;
  const uint64_t mask = mask_of(max);
  uint64_t v;
  if (max <= 0xffffffffULL) {
    while ((v = next_u32() & mask) > max) {
    }
  } else {
    while ((v = next_u64() & mask) > max) {
    }
  }
  return v;
}

std::vector<int64_t> NumpyRandomState::choice_without_replacement(int64_t n, int64_t size) {
  if (size < 0 || size > n)
    throw Error("choice: cannot take " + std::to_string(size) + " of " + std::to_string(n));
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) perm[static_cast<size_t>(i)] = i;
  for (int64_t i = n - 1; i >= 1; --i) {
    const int64_t j = static_cast<int64_t>(interval(static_cast<uint64_t>(i)));
    std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(j)]);
  }
  perm.resize(static_cast<size_t>(size));
  return perm;
}

std::vector<uint32_t> NumpyRandomState::state() const {
  std::vector<uint32_t> out(key_, key_ + kWords);
  out.push_back(static_cast<uint32_t>(pos_));
  return out;
}

void NumpyRandomState::set_state(const std::vector<uint32_t>& words) {
  if (words.size() != kWords + 1 || words[kWords] > kWords)
    throw Error("NumPy random state: must be 624 key words and a position 0..624");
  std::copy(words.begin(), words.begin() + kWords, key_);
  pos_ = static_cast<int>(words[kWords]);
}

}  // namespace acoustok::units
