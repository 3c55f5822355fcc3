#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "common/cpu_features.hpp"
#include "common/vector_kernels.hpp"
#include "test_support.hpp"

using namespace si::simd;

using si::testing::randn;
using si::testing::ref_dot;

namespace {

double ref_dot(const std::vector<float>& a, const std::vector<float>& b, std::size_t n) {
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// A float32 sum of n products of unit normals is off by about 1e-7 * sqrt(n) * n
// in the worst order; 1e-4 * sqrt(n) leaves room for every summation order.
double tol_for(std::size_t n) { return 1e-4 * std::sqrt(static_cast<double>(n)) + 1e-5; }

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

// Shapes every level's register tiles and masked tails meet: dims below, at and
// above one vector and four vectors; query counts below, at and above a tile.
TEST(VectorKernels, TilesOfEveryShapeMatchFloat64Reference) {
  for (Level level : available_levels()) {
    const auto& k = vector_kernels(level);
    for (std::size_t dim : {1u, 5u, 8u, 15u, 16u, 33u, 100u, 384u}) {
      const std::size_t nr = 23;
      const auto q = randn(13 * dim, 10 + dim), r = randn(kKeyBlock * dim, 20 + dim);
      const double tol = tol_for(dim);
      for (std::size_t nq : {1u, 2u, 3u, 4u, 5u, 13u}) {  // dot_tile: 1-query path, whole and partial tiles
        std::vector<float> out(nq * nr);
        k.dot_tile(q.data(), nq, r.data(), nr, dim, out.data(), nr);
        for (std::size_t a = 0; a < nq; ++a)
          for (std::size_t b = 0; b < nr; ++b)
            ASSERT_NEAR(out[a * nr + b], ref_dot(&q[a * dim], &r[b * dim], dim), tol)
                << level_name(level) << " dot_tile nq=" << nq << " dim=" << dim;
      }
      // panel_tile with every group height (each picks its own register tile).
      const std::size_t PR = k.panel_rows, PQ = k.panel_queries;
      std::vector<float> group(PQ * dim), panel(PR * dim), tile(PQ * PR), thr(PQ, -1e30f);
      pack_columns(r.data(), PR, dim, PR, panel.data());
      for (std::size_t nq = 1; nq <= PQ; ++nq) {
        pack_columns(q.data(), nq, dim, PQ, group.data());
        const std::uint32_t mask = k.panel_tile(group.data(), nq, panel.data(), dim, thr.data(), tile.data());
        EXPECT_EQ(mask, (1u << nq) - 1u) << level_name(level) << " nq=" << nq;
        for (std::size_t a = 0; a < nq; ++a)
          for (std::size_t b = 0; b < PR; ++b)
            ASSERT_NEAR(tile[a * PR + b], ref_dot(&q[a * dim], &r[b * dim], dim), tol)
                << level_name(level) << " panel_tile nq=" << nq << " dim=" << dim;
      }
      // qk_block: row-major queries against a packed key block, partial column tiles.
      std::vector<float> kt(dim * kKeyBlock), out(13 * kKeyBlock);
      for (std::size_t valid : {1u, 7u, 8u, 17u, 40u, 64u, 100u, 128u}) {
        pack_columns(r.data(), valid, dim, kKeyBlock, kt.data());
        for (std::size_t m : {1u, 3u, 4u, 5u, 13u}) {
          std::fill(out.begin(), out.end(), -7.0f);
          k.qk_block(q.data(), m, dim, kt.data(), valid, out.data(), kKeyBlock);
          for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < kKeyBlock; ++j) {
              if (j >= valid) {  // nothing written past the valid columns
                ASSERT_EQ(out[i * kKeyBlock + j], -7.0f) << level_name(level);
                continue;
              }
              ASSERT_NEAR(out[i * kKeyBlock + j], ref_dot(&q[i * dim], &r[j * dim], dim), tol)
                  << level_name(level) << " qk_block m=" << m << " valid=" << valid << " dim=" << dim;
            }
        }
      }
      // Rows stored as int8 and half: dot products and widening, every tail.
      std::vector<std::int8_t> c(nr * dim);
      std::vector<std::uint16_t> h(nr * dim);
      std::vector<float> cf(nr * dim), hf(nr * dim), scale(nr), o(nr), wide(nr * dim + 1, -7.0f);
      for (std::size_t i = 0; i < c.size(); ++i) {
        c[i] = static_cast<std::int8_t>(static_cast<int>(i * 37 % 255) - 127);
        cf[i] = c[i];
        hf[i] = f16_to_f32(h[i] = f32_to_f16(r[i]));
      }
      for (std::size_t b = 0; b < nr; ++b) scale[b] = 0.01f * static_cast<float>(b + 1);
      k.dot_i8_rows(q.data(), c.data(), scale.data(), nr, dim, o.data());
      for (std::size_t b = 0; b < nr; ++b)
        ASSERT_NEAR(o[b], scale[b] * ref_dot(q.data(), &cf[b * dim], dim), 127 * scale[b] * tol)
            << level_name(level) << " dot_i8_rows dim=" << dim;
      k.dot_f16_rows(q.data(), h.data(), nr, dim, o.data());
      for (std::size_t b = 0; b < nr; ++b)
        ASSERT_NEAR(o[b], ref_dot(q.data(), &hf[b * dim], dim), tol) << level_name(level) << " dot_f16_rows";
      k.widen_f16(h.data(), nr * dim, wide.data());
      for (std::size_t i = 0; i < nr * dim; ++i) ASSERT_EQ(wide[i], hf[i]) << level_name(level);
      ASSERT_EQ(wide[nr * dim], -7.0f) << level_name(level) << " widen_f16 wrote past the end";
      k.widen_i8(c.data(), nr * dim, 0.5f, wide.data());
      for (std::size_t i = 0; i < nr * dim; ++i) ASSERT_EQ(wide[i], 0.5f * cf[i]) << level_name(level);
      ASSERT_EQ(wide[nr * dim], -7.0f) << level_name(level) << " widen_i8 wrote past the end";
    }
  }
}

TEST(F64Kernels, EveryLevelMatchesFloat64Reference) {
  std::mt19937_64 g(3);
  std::normal_distribution<double> d;
  for (Level level : available_levels()) {
    const auto& k = f64_kernel_set().at(level);
    EXPECT_EQ(k.level, level);
    for (std::size_t n : {1u, 3u, 4u, 5u, 7u, 8u, 9u, 16u, 31u, 33u, 64u, 65u}) {
      std::vector<double> a(n), M(n * n), y(n + 1, -7.0);
      for (auto& x : a) x = d(g);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j <= i; ++j) M[i * n + j] = M[j * n + i] = d(g);
      double ref = 0.0;
      for (std::size_t i = 0; i < n; ++i) ref += a[i] * M[i];
      // Sums of n unit-normal products: rounding order changes ~1e-16 * n.
      EXPECT_NEAR(k.dot(a.data(), M.data(), n), ref, 1e-14 * static_cast<double>(n)) << level_name(level);
      k.symv(M.data(), a.data(), n, y.data());
      for (std::size_t i = 0; i < n; ++i) {
        double s = 0.0;
        for (std::size_t j = 0; j < n; ++j) s += M[i * n + j] * a[j];
        ASSERT_NEAR(y[i], s, 1e-14 * static_cast<double>(n)) << level_name(level) << " n=" << n;
      }
      ASSERT_EQ(y[n], -7.0) << "symv wrote past the end";
      auto R = M;
      k.rank1(R.data(), a.data(), 0.5, n);
      for (std::size_t i = 0; i < n * n; ++i) ASSERT_NEAR(R[i], M[i] + 0.5 * a[i / n] * a[i % n], 1e-14);
    }
  }
}
