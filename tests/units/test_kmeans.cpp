// SPDX-License-Identifier: MIT
// k-means core against scikit-learn (fixtures from gen_kmeans_fixtures.py):
// predict, update rule, inertia; plus exactness, determinism and resume.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "acoustok/error.hpp"
#include "acoustok/kmeans.hpp"
#include "acoustok/tensor_file.hpp"
#include "cpu_isa_rerun.hpp"
#include "test_util.hpp"
#include "units/kernels.hpp"
#include "units/units_checkpoint.hpp"

using acoustok::KMeansModel;
using acoustok::KMeansOptions;
using acoustok::MiniBatchKMeans;
using acoustok::NpyArray;
using acoustok::read_npy;
using acoustok::test::fixture;
using nlohmann::json;

namespace {

json expected() { return json::parse(acoustok::test::read_file(fixture("kmeans/expected.json"))); }

std::vector<int32_t> read_labels(const std::string& path) {
  std::istringstream in(acoustok::test::read_file(path));
  std::vector<int32_t> out;
  for (int v; in >> v;) out.push_back(v);
  return out;
}

// Exact nearest centroid and inertia in double, the slow obvious way.
std::vector<int32_t> brute_force(const std::vector<float>& x, const std::vector<float>& c, int64_t dim,
                                 double* inertia = nullptr) {
  const int64_t n = static_cast<int64_t>(x.size()) / dim, k = static_cast<int64_t>(c.size()) / dim;
  std::vector<int32_t> out(static_cast<size_t>(n));
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    double best = INFINITY;
    for (int64_t j = 0; j < k; ++j) {
      double d = 0;
      for (int64_t t = 0; t < dim; ++t) {
        const double diff = double(x[size_t(i * dim + t)]) - double(c[size_t(j * dim + t)]);
        d += diff * diff;
      }
      if (d < best) {
        best = d;
        out[size_t(i)] = int32_t(j);
      }
    }
    total += best;
  }
  if (inertia) *inertia = total;
  return out;
}

KMeansOptions options(int k, int64_t batch, uint64_t seed = 0) {
  KMeansOptions o;
  o.k = k;
  o.batch_size = batch;
  o.seed = seed;
  return o;
}

// A RowReader over the rows of an array held in memory.
acoustok::RowReader rows_of(const NpyArray& x) {
  const int64_t dim = x.shape[1];
  return [&x, dim](const int64_t* rows, int64_t count, float* out) {
    for (int64_t i = 0; i < count; ++i) std::copy_n(x.values.data() + rows[i] * dim, dim, out + i * dim);
  };
}

}  // namespace

class SklearnCase : public ::testing::TestWithParam<std::string> {};

TEST_P(SklearnCase, PredictGivesSklearnLabelsForItsCentroids) {
  const NpyArray x = read_npy(fixture("kmeans/" + GetParam() + ".npy"));
  const KMeansModel model = KMeansModel::load(fixture("kmeans/" + GetParam() + "_centroids.npy"));
  const auto want = read_labels(fixture("kmeans/" + GetParam() + "_labels.txt"));
  ASSERT_EQ(model.dim(), x.shape[1]);
  for (int threads : {1, 2}) {
    EXPECT_EQ(model.predict(x.values.data(), x.shape[0], threads), want) << threads << " threads";
  }
}

TEST_P(SklearnCase, FitInertiaWithinTwoPercentOfSklearn) {
  // Small data has local minima whose depth varies by seed for both
  // implementations: compare means over five seeds each.
  const json e = expected()[GetParam()];
  const NpyArray x = read_npy(fixture("kmeans/" + GetParam() + ".npy"));
  const double sk = e["sklearn_mean_inertia_5_seeds"].get<double>();
  double mean = 0;
  for (uint64_t seed = 0; seed < 5; ++seed) {
    MiniBatchKMeans km(x.shape[1], options(e["k"].get<int>(), e["batch_size"].get<int64_t>(), seed));
    km.fit(x.values.data(), x.shape[0]);
    double ours = 0;
    brute_force(x.values, km.state().centroids, x.shape[1], &ours);
    EXPECT_LE(ours, 1.05 * sk) << "seed " << seed;
    mean += ours / 5;
  }
  EXPECT_LE(mean, 1.02 * sk) << "ours " << mean << ", sklearn " << sk;
  EXPECT_GE(mean, 0.95 * sk) << "ours " << mean << " suspiciously better than sklearn " << sk;
}

INSTANTIATE_TEST_SUITE_P(KMeans, SklearnCase, ::testing::Values("mix16", "mix64"));

TEST(KMeans, PartialFitUpdateEqualsSklearn) {
  const NpyArray x = read_npy(fixture("kmeans/partial.npy"));
  const NpyArray init = read_npy(fixture("kmeans/partial_init.npy"));
  const int64_t dim = x.shape[1];
  KMeansOptions o = options(5, 300);
  o.reassignment_ratio = 0;
  MiniBatchKMeans km(dim, o);
  acoustok::KMeansState st;
  st.k = 5;
  st.dim = dim;
  st.centroids = init.values;
  st.counts.assign(5, 0.0);
  km.set_state(st);
  km.partial_fit(x.values.data(), 300);
  const auto after1 = read_npy(fixture("kmeans/partial_after1.npy")).values;
  for (size_t i = 0; i < after1.size(); ++i) EXPECT_NEAR(km.state().centroids[i], after1[i], 1e-5) << i;
  km.partial_fit(x.values.data() + 300 * dim, 300);
  const auto after2 = read_npy(fixture("kmeans/partial_after2.npy")).values;
  for (size_t i = 0; i < after2.size(); ++i) EXPECT_NEAR(km.state().centroids[i], after2[i], 1e-5) << i;
  const auto counts = expected()["partial"]["counts_after2"].get<std::vector<double>>();
  EXPECT_EQ(km.state().counts, counts);
}

TEST(KMeans, AssignmentIsExactEvenForNearTies) {
  // A large common offset makes ||x||^2 - 2x.c + ||c||^2 cancel badly in
  // float: the plain GEMM trick gets many of these wrong.
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  const int64_t n = 3000, k = 40, dim = 96;
  std::vector<float> x(n * dim), c(k * dim);
  for (auto& v : x) v = 300.0f + 0.05f * noise(rng);
  for (auto& v : c) v = 300.0f + 0.05f * noise(rng);
  const auto want = brute_force(x, c, dim);
  std::vector<int32_t> got(n);
  std::vector<double> dist(n);
  acoustok::kmeans_assign(x.data(), n, c.data(), k, dim, got.data(), dist.data(), 2);
  EXPECT_EQ(got, want);
}

TEST(KMeans, SameSeedSameResultForAnyThreadCount) {
  const NpyArray x = read_npy(fixture("kmeans/mix16.npy"));
  auto fit = [&](uint64_t seed, int threads) {
    KMeansOptions o = options(12, 500, seed);
    o.threads = threads;
    MiniBatchKMeans km(x.shape[1], o);
    km.fit(x.values.data(), x.shape[0]);
    return km.state().centroids;
  };
  const auto a = fit(5, 1);
  EXPECT_EQ(a, fit(5, 1));
  EXPECT_EQ(a, fit(5, 2));
  EXPECT_EQ(a, fit(5, 3));
  EXPECT_NE(a, fit(6, 2));
}

// The half-precision copy k-means++ streams: every variant this CPU runs
// against every other, the scalar code (generic: tensor_file's conversions)
// against the F16C/AVX-512 instructions: all 65536 halves widen alike and round-trip, and floats round
// to nearest even, ties included.
TEST(KMeans, HalfConversionsAgreeAcrossKernelsAndRoundToNearestEven) {
  namespace u = acoustok::units;
  namespace common = acoustok::common;
  std::vector<const u::Kernels*> variants = {&u::generic::table};
  const common::CpuIsa cpu = common::detected_cpu_isa();  // (avx2 and avx512 include F16C)
  if (cpu >= common::CpuIsa::avx2) variants.push_back(&u::avx2::table);
  if (cpu >= common::CpuIsa::avx512) variants.push_back(&u::avx512::table);
  if (variants.size() < 2) GTEST_SKIP() << "no F16C on this CPU to check the scalar conversions against";

  std::vector<uint16_t> all(65536);
  for (int i = 0; i < 65536; ++i) all[size_t(i)] = uint16_t(i);
  std::vector<float> wide0(all.size());
  variants[0]->from_half(all.data(), int64_t(all.size()), wide0.data());
  EXPECT_EQ(wide0[0x3c00], 1.0f);
  EXPECT_EQ(wide0[0x7bff], 65504.0f);
  EXPECT_EQ(wide0[0x0001], std::ldexp(1.0f, -24));
  EXPECT_EQ(wide0[0xc000], -2.0f);
  for (const u::Kernels* k : variants) {
    std::vector<float> wide(all.size());
    k->from_half(all.data(), int64_t(all.size()), wide.data());
    std::vector<uint16_t> back(all.size());
    k->to_half(wide.data(), int64_t(wide.size()), back.data());
    for (int i = 0; i < 65536; ++i) {
      const bool nan = (i & 0x7c00) == 0x7c00 && (i & 0x3ff);
      if (nan) continue;
      ASSERT_EQ(std::memcmp(&wide[size_t(i)], &wide0[size_t(i)], 4), 0) << k->name << " widens " << i;
      ASSERT_EQ(back[size_t(i)], uint16_t(i)) << k->name << " round-trips " << i;
    }
    // Between neighbours: just below, at and just above the midpoint.
    std::vector<float> probes;
    std::vector<uint16_t> want;
    for (int i = 0; i < 0x7bff; ++i) {
      const float lo = wide0[size_t(i)], hi = wide0[size_t(i + 1)], mid = (lo + hi) / 2;  // exact in float
      probes.insert(probes.end(), {std::nextafter(mid, lo), mid, std::nextafter(mid, hi), -mid});
      const uint16_t even = (i & 1) ? uint16_t(i + 1) : uint16_t(i);
      want.insert(want.end(), {uint16_t(i), even, uint16_t(i + 1), uint16_t(even | 0x8000)});
    }
    std::vector<uint16_t> got(probes.size());
    k->to_half(probes.data(), int64_t(probes.size()), got.data());
    for (size_t i = 0; i < probes.size(); ++i)
      ASSERT_EQ(got[i], want[i]) << k->name << " rounds " << probes[i];
  }
}

// Every variant this CPU runs against double-precision references: exact
// assignments (and their distances), and the k-means++ trials' distances to
// half rows within float rounding; dims around the 8- and 16-lane widths.
TEST(KMeans, EveryKernelVariantMatchesTheReference) {
  namespace u = acoustok::units;
  const u::Kernels* by_level[] = {&u::generic::table, &u::avx2::table, &u::avx512::table};
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  for (const std::string& level : acoustok::test::cpu_isa_levels()) {
    const u::Kernels& k = *by_level[level == "generic" ? 0 : level == "avx2" ? 1 : 2];
    for (int64_t dim : {1, 7, 16, 33, 768}) {
      const int64_t n = 37, kc = 11;
      std::vector<float> x(static_cast<size_t>(n * dim)), c(static_cast<size_t>(kc * dim)),
          cn(static_cast<size_t>(kc));
      for (float& v : x) v = normal(rng);
      for (float& v : c) v = normal(rng);
      auto sq = [&](const float* a, const float* b) {
        double s = 0;
        for (int64_t d = 0; d < dim; ++d) s += (double(a[d]) - b[d]) * (double(a[d]) - b[d]);
        return s;
      };
      const std::vector<float> zero(size_t(dim), 0.0f);
      for (int64_t j = 0; j < kc; ++j) cn[size_t(j)] = float(sq(&c[size_t(j * dim)], zero.data()));
      std::vector<int32_t> labels(static_cast<size_t>(n));
      std::vector<double> dist(static_cast<size_t>(n));
      k.assign(x.data(), n, c.data(), cn.data(), kc, dim, labels.data(), dist.data());
      std::vector<uint16_t> xh(x.size());
      std::vector<float> xw(x.size()), xn(static_cast<size_t>(n)), out(static_cast<size_t>(kc * n));
      k.to_half(x.data(), int64_t(x.size()), xh.data());
      k.from_half(xh.data(), int64_t(xh.size()), xw.data());
      for (int64_t i = 0; i < n; ++i) xn[size_t(i)] = float(sq(&xw[size_t(i * dim)], zero.data()));
      k.sq_distances_half(c.data(), kc, cn.data(), xh.data(), n, xn.data(), dim, out.data());
      for (int64_t i = 0; i < n; ++i) {
        int64_t best = 0;
        for (int64_t j = 1; j < kc; ++j)
          if (sq(&x[size_t(i * dim)], &c[size_t(j * dim)]) < sq(&x[size_t(i * dim)], &c[size_t(best * dim)]))
            best = j;
        ASSERT_EQ(labels[size_t(i)], best) << level << " dim " << dim << " row " << i;
        EXPECT_DOUBLE_EQ(dist[size_t(i)], sq(&x[size_t(i * dim)], &c[size_t(best * dim)])) << level;
        for (int64_t j = 0; j < kc; ++j) {
          const double want = sq(&c[size_t(j * dim)], &xw[size_t(i * dim)]);
          EXPECT_NEAR(out[size_t(j * n + i)], want, 1e-5 * (cn[size_t(j)] + xn[size_t(i)]) + 1e-6)
              << level << " dim " << dim;
        }
      }
    }
  }
}

// ACOUSTOK_MAX_CPU_ISA picks the variant: each level this CPU runs, in a
// process of its own, runs the exact-assignment test through kernels().
TEST(KMeans, KernelsFollowTheInstructionSetCap) {
  if (acoustok::test::cpu_isa_capped_run()) {
    EXPECT_STREQ(acoustok::units::kernels().name,
                 acoustok::common::cpu_isa_name(acoustok::common::cpu_isa()));
    return;
  }
  for (const std::string& level : acoustok::test::cpu_isa_levels()) {
    std::string output;
    EXPECT_EQ(acoustok::test::rerun_at_cpu_isa(
                  level, "KMeans.KernelsFollowTheInstructionSetCap:KMeans.AssignmentIsExactEvenForNearTies",
                  &output),
              0)
        << "ACOUSTOK_MAX_CPU_ISA=" << level << ":\n"
        << output;
  }
}

// k-means++ streams a half copy scaled by a power of two into half's range:
// data far below half's smallest value (or above its largest) fits exactly as
// the same data at unit scale does.
TEST(KMeans, FitScalesByPowersOfTwoExactly) {
  const NpyArray x = read_npy(fixture("kmeans/mix16.npy"));
  auto fit = [&](int exponent) {
    std::vector<float> v(x.values);
    for (float& f : v) f = std::ldexp(f, exponent);
    KMeansOptions o = options(12, 500, 3);
    MiniBatchKMeans km(x.shape[1], o);
    km.fit(v.data(), x.shape[0]);
    std::vector<float> c = km.state().centroids;
    for (float& f : c) f = std::ldexp(f, -exponent);
    return c;
  };
  const auto unit = fit(0);
  EXPECT_EQ(unit, fit(-80));  // every value far below half's smallest subnormal
  EXPECT_EQ(unit, fit(40));   // every value far above half's largest
}

TEST(KMeans, PausedAndResumedFitEqualsUninterrupted) {
  const NpyArray x = read_npy(fixture("kmeans/mix64.npy"));
  const int64_t dim = x.shape[1];
  const acoustok::RowReader read = rows_of(x);
  KMeansOptions o = options(30, 400, 9);
  MiniBatchKMeans whole(dim, o);
  EXPECT_TRUE(whole.run_steps(x.shape[0], read));

  MiniBatchKMeans first(dim, o);
  int left = 7;
  EXPECT_FALSE(first.run_steps(x.shape[0], read, [&]() { return --left > 0; }));
  EXPECT_EQ(first.state().steps, 7);
  MiniBatchKMeans second(dim, o);
  second.set_state(first.state());  // as if read back from a checkpoint
  EXPECT_TRUE(second.run_steps(x.shape[0], read));
  EXPECT_EQ(second.state().steps, whole.state().steps);
  EXPECT_EQ(second.state().centroids, whole.state().centroids);
  EXPECT_EQ(second.state().counts, whole.state().counts);
}

// --rng numpy: one generator for the whole fit, so its state travels in the
// checkpoint; a fit resumed from checkpoint JSON ends where an uninterrupted
// one does, with any thread count.
TEST(KMeans, NumpyRngResumesExactlyThroughTheCheckpoint) {
  const NpyArray x = read_npy(fixture("kmeans/mix64.npy"));
  const int64_t dim = x.shape[1];
  const acoustok::RowReader read = rows_of(x);
  KMeansOptions o = options(30, 400, 9);
  o.rng = acoustok::KMeansRng::numpy;
  o.reassignment_ratio = 0.2;  // reassignments draw from the generator too
  o.threads = 1;
  MiniBatchKMeans whole(dim, o);
  EXPECT_TRUE(whole.run_steps(x.shape[0], read));
  EXPECT_EQ(whole.state().rng_state.size(), 625u);

  o.threads = 2;
  MiniBatchKMeans first(dim, o);
  int left = 7;
  EXPECT_FALSE(first.run_steps(x.shape[0], read, [&]() { return --left > 0; }));
  const json saved = json::parse(acoustok::units::state_json(first.state()).dump());
  MiniBatchKMeans second(dim, o);
  second.set_state(acoustok::units::state_from_json(saved));
  EXPECT_TRUE(second.run_steps(x.shape[0], read));
  EXPECT_EQ(second.state().steps, whole.state().steps);
  EXPECT_EQ(second.state().centroids, whole.state().centroids);
  EXPECT_EQ(second.state().counts, whole.state().counts);
  EXPECT_EQ(second.state().rng_state, whole.state().rng_state);

  json broken = saved;
  broken["rng_state"][624] = 625;
  EXPECT_THROW(acoustok::units::state_from_json(broken), acoustok::units::BadState);
  broken["rng_state"] = json::array({1, 2, 3});
  EXPECT_THROW(acoustok::units::state_from_json(broken), acoustok::units::BadState);
}

TEST(KMeans, ReassignmentRevivesDeadCentres) {
  // Two far blobs, 8 centres started inside one of them and 2 far away from
  // everything: without reassignment those 2 never receive a row.
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  const int64_t n = 2000, dim = 4;
  std::vector<float> x(n * dim);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d = 0; d < dim; ++d) x[size_t(i * dim + d)] = (i % 2 ? 20.0f : -20.0f) + noise(rng);
  acoustok::KMeansState st;
  st.k = 10;
  st.dim = dim;
  st.counts.assign(10, 0.0);
  for (int j = 0; j < 10; ++j)
    for (int d = 0; d < dim; ++d) st.centroids.push_back(j < 8 ? 20.0f + 0.1f * float(j) : 1000.0f);
  for (double ratio : {0.0, 0.01}) {
    KMeansOptions o = options(10, 200);
    o.reassignment_ratio = ratio;
    MiniBatchKMeans km(dim, o);
    km.set_state(st);
    for (int s = 0; s < 20; ++s) km.partial_fit(x.data() + (s % 10) * 200 * dim, 200);
    const auto& c = km.state().centroids;
    const bool far_left = c[8 * dim] > 500 && c[9 * dim] > 500;
    EXPECT_EQ(far_left, ratio == 0.0) << "ratio " << ratio;
  }
}

TEST(KMeans, BadInputIsAClearError) {
  std::vector<float> x(10 * 4, 1.0f);
  MiniBatchKMeans km(4, options(20, 100));
  try {
    km.fit(x.data(), 10);
    FAIL() << "k > rows accepted";
  } catch (const acoustok::Error& e) {
    EXPECT_NE(std::string(e.what()).find("larger than the number of feature frames (10)"), std::string::npos)
        << e.what();
  }
  x[13] = NAN;
  const KMeansModel model(std::vector<float>(2 * 4, 0.0f), 2, 4);
  try {
    model.predict(x.data(), 10, 1);
    FAIL() << "NaN accepted";
  } catch (const acoustok::Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 3, column 1 is NaN"), std::string::npos) << e.what();
  }
  KMeansOptions bad = options(0, 100);
  EXPECT_THROW(MiniBatchKMeans(4, bad), acoustok::Error);
}

TEST(KMeansModel, SafetensorsRoundTripAndBadFiles) {
  const std::string dir = acoustok::test::make_temp_dir("km");
  KMeansModel m({1, 2, 3, 4, 5, 6}, 2, 3, {{"feature_model", "x"}, {"layer", "14"}});
  m.save(dir + "/km.safetensors");
  const KMeansModel back = KMeansModel::load(dir + "/km.safetensors");
  EXPECT_EQ(back.centroids(), m.centroids());
  EXPECT_EQ(back.metadata().at("layer"), "14");
  EXPECT_EQ(back.metadata().at("k"), "2");

  const float v[] = {1, 2, 3};
  acoustok::write_npy(dir + "/flat.npy", v, {3});
  EXPECT_THROW(KMeansModel::load(dir + "/flat.npy"), acoustok::Error);
  acoustok::write_safetensors(dir + "/other.safetensors", {{"weights", {1, 3}, {1, 2, 3}}});
  try {
    KMeansModel::load(dir + "/other.safetensors");
    FAIL();
  } catch (const acoustok::Error& e) {
    EXPECT_NE(std::string(e.what()).find("centroids"), std::string::npos) << e.what();
  }
  EXPECT_THROW(KMeansModel::load(dir + "/missing.safetensors"), acoustok::Error);
}
