#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "common/cpu_features.hpp"
#include "common/vector_kernels.hpp"

using namespace si::simd;

namespace {

double ref_dot(const std::vector<float>& a, const std::vector<float>& b, std::size_t n) {
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

double ref_l2(const std::vector<float>& a, const std::vector<float>& b, std::size_t n) {
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
  return s;
}

}  // namespace

TEST(CpuFeatures, LevelsAreConsistent) {
  const auto& f = cpu_features();
  if (level_available(Level::avx2)) {
    EXPECT_TRUE(f.avx2 && f.fma);
  }
  if (level_available(Level::avx512)) {
    EXPECT_TRUE(f.avx512f && f.avx512bw && f.avx512vl);
  }
  EXPECT_EQ(available_levels().front(), Level::scalar);
  EXPECT_TRUE(level_available(active_level()));
  EXPECT_EQ(parse_level("avx2"), Level::avx2);
  EXPECT_FALSE(parse_level("sse9").has_value());
}

TEST(VectorKernels, EveryAvailableLevelMatchesFloat64Reference) {
  std::mt19937 rng(1);
  std::normal_distribution<float> d;
  for (Level level : available_levels()) {
    const auto& k = vector_kernels(level);
    EXPECT_EQ(k.level, level);
    for (std::size_t n : {0u, 1u, 3u, 7u, 8u, 15u, 16u, 17u, 31u, 33u, 63u, 64u, 65u, 100u, 384u, 1000u}) {
      std::vector<float> a(n), b(n);
      for (auto& x : a) x = d(rng);
      for (auto& x : b) x = d(rng);
      const double tol = 1e-5 * (1 + std::sqrt(static_cast<double>(n)) * 4);
      EXPECT_NEAR(k.dot(a.data(), b.data(), n), ref_dot(a, b, n), tol) << level_name(level) << " n=" << n;
      EXPECT_NEAR(k.l2sq(a.data(), b.data(), n), ref_l2(a, b, n), tol * 4) << level_name(level) << " n=" << n;
    }
  }
}

TEST(VectorKernels, RowsMatchSinglePairs) {
  std::mt19937 rng(2);
  std::normal_distribution<float> d;
  const std::size_t rows = 37, dim = 45, stride = 48;
  std::vector<float> base(rows * stride), q(dim), out(rows);
  for (auto& x : base) x = d(rng);
  for (auto& x : q) x = d(rng);
  for (Level level : available_levels()) {
    const auto& k = vector_kernels(level);
    k.dot_rows(q.data(), base.data(), rows, dim, stride, out.data());
    for (std::size_t r = 0; r < rows; ++r) EXPECT_FLOAT_EQ(out[r], k.dot(q.data(), base.data() + r * stride, dim));
    k.l2sq_rows(q.data(), base.data(), rows, dim, stride, out.data());
    for (std::size_t r = 0; r < rows; ++r) EXPECT_FLOAT_EQ(out[r], k.l2sq(q.data(), base.data() + r * stride, dim));
  }
}
