// SPDX-License-Identifier: MIT
// The NumPy RandomState stream of `--rng numpy` and NumPy's float32 sum
// against NumPy itself (/usr/bin/python3 writes the expected values).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "acoustok/error.hpp"
#include "test_util.hpp"
#include "units/numpy_random.hpp"
#include "units/sklearn_kmeans.hpp"

using acoustok::units::NumpyRandomState;
using nlohmann::json;

namespace {

// Runs a Python snippet (numpy as np imported) that prints one JSON value.
json numpy_says(const std::string& code) {
  const std::string dir = acoustok::test::make_temp_dir("numpy_random");
  const std::string script = dir + "/expected.py";
  FILE* f = std::fopen(script.c_str(), "w");
  std::fputs(("import json, numpy as np\n" + code).c_str(), f);
  std::fclose(f);
  std::string out;
  EXPECT_EQ(acoustok::test::run_command("/usr/bin/python3 " + script + " 2>&1", &out), 0) << out;
  return json::parse(out);
}

}  // namespace

TEST(NumpyRandomState, DrawsWhatRandomStateDraws) {
  // Each case: a seed and a sequence of draws from one generator, which
  // covers both rejection paths of randint (32- and 64-bit), the range that
  // needs no rejection (2^32), a range of one (no draw at all), uniform's two
  // draws per double, and choice without replacement (a shuffle).
  const json want = numpy_says(R"(
out = []
for seed in (0, 1, 12345, 2**32 - 1):
    r = np.random.RandomState(seed)
    out.append({
        "seed": seed,
        "randint_1000": r.randint(0, 1000, 700).tolist(),
        "randint_scalar": [int(r.randint(n)) for n in (1, 2, 3, 30000, 2**31 + 3)],
        "uniform": r.uniform(size=9).tolist(),
        "randint_2_32": r.randint(0, 2**32, 5, dtype=np.int64).tolist(),
        "randint_2_40": r.randint(0, 2**40 + 7, 5).tolist(),
        "choice": r.choice(1000, replace=False, size=37).tolist(),
        "choice_all": r.choice(5, replace=False, size=5).tolist(),
        "after": r.randint(0, 200000, 3).tolist(),
        "state": r.get_state()[1].tolist() + [int(r.get_state()[2])],
    })
print(json.dumps(out))
)");
  ASSERT_EQ(want.size(), 4u);
  for (const json& w : want) {
    NumpyRandomState r(w["seed"].get<uint32_t>());
    SCOPED_TRACE("seed " + w["seed"].dump());
    std::vector<int64_t> v(700);
    r.randint(1000, v.data(), 700);
    EXPECT_EQ(v, w["randint_1000"].get<std::vector<int64_t>>());
    std::vector<int64_t> scalars;
    for (int64_t n : {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{30000}, (int64_t{1} << 31) + 3})
      scalars.push_back(r.randint(n));
    EXPECT_EQ(scalars, w["randint_scalar"].get<std::vector<int64_t>>());
    for (double u : w["uniform"].get<std::vector<double>>()) EXPECT_EQ(r.next_double(), u);
    v.resize(5);
    r.randint(int64_t{1} << 32, v.data(), 5);
    EXPECT_EQ(v, w["randint_2_32"].get<std::vector<int64_t>>());
    r.randint((int64_t{1} << 40) + 7, v.data(), 5);
    EXPECT_EQ(v, w["randint_2_40"].get<std::vector<int64_t>>());
    EXPECT_EQ(r.choice_without_replacement(1000, 37), w["choice"].get<std::vector<int64_t>>());
    EXPECT_EQ(r.choice_without_replacement(5, 5), w["choice_all"].get<std::vector<int64_t>>());
    // A generator restored from the state continues the same stream.
    NumpyRandomState copy(7);
    copy.set_state(r.state());
    v.resize(3);
    copy.randint(200000, v.data(), 3);
    EXPECT_EQ(v, w["after"].get<std::vector<int64_t>>());
    EXPECT_EQ(copy.state(), w["state"].get<std::vector<uint32_t>>());
  }
  NumpyRandomState r(0);
  std::vector<uint32_t> bad = r.state();
  bad.back() = 625;
  EXPECT_THROW(r.set_state(bad), acoustok::Error);
  bad.pop_back();
  EXPECT_THROW(r.set_state(bad), acoustok::Error);
}

TEST(NumpyRandomState, Float32SumIsNumpys) {
  // Lengths around NumPy's unrolling (8), its pairwise block (128) and its
  // 8192-element buffer, where a plain or double sum differs from np.sum.
  const json want = numpy_says(R"(
rng = np.random.default_rng(5)
out = []
for n in (0, 1, 7, 8, 9, 127, 128, 129, 1000, 8191, 8192, 8193, 30000, 50001):
    a = (rng.random(n) ** 3 * 1000).astype(np.float32)
    out.append({"a": a.view(np.uint32).tolist(), "sum": int(a.sum().view(np.uint32))})
print(json.dumps({"bufsize": np.getbufsize(), "cases": out}))
)");
  // NumPy's reductions sum pairwise within one buffer of its iterator.
  if (want["bufsize"].get<int>() != 8192) GTEST_SKIP() << "this NumPy's buffer is not 8192 elements";
  int plain_differs = 0;
  for (const json& w : want["cases"]) {
    const auto bits = w["a"].get<std::vector<uint32_t>>();
    std::vector<float> a(bits.size());
    if (!a.empty()) std::memcpy(a.data(), bits.data(), bits.size() * sizeof(float));  // (no null pointers)
    const float got = acoustok::units::numpy_sum(a.data(), static_cast<int64_t>(a.size()));
    uint32_t got_bits;
    std::memcpy(&got_bits, &got, sizeof got);
    EXPECT_EQ(got_bits, w["sum"].get<uint32_t>()) << a.size() << " values";
    float plain = 0;
    for (float x : a) plain += x;
    plain_differs += plain != got;
  }
  EXPECT_GT(plain_differs, 0) << "the lengths no longer tell NumPy's sum from a plain one";
}
