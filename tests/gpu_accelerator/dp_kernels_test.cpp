// C++ checks of the CPU dynamic-programming core, independent of Python:
// every SIMD level's alignment scores against the scalar reference, blocked
// Floyd-Warshall against the plain triple loop, rolling min/max against a scan.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "common/cpu_features.hpp"
#include "gpu_accelerator/dp/dp_align.hpp"
#include "gpu_accelerator/dp/dp_misc.hpp"

using si::simd::Level;

namespace {

std::vector<std::int8_t> random_matrix(std::mt19937& rng, int K, int lo, int hi) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<std::int8_t> m(static_cast<std::size_t>(K) * K);
  for (auto& v : m) v = static_cast<std::int8_t>(d(rng));
  return m;
}

}  // namespace

TEST(DpAlign, EveryLevelMatchesScalar) {
  std::mt19937 rng(42);
  const int K = 20;
  std::int16_t code_of[256];
  std::fill(code_of, code_of + 256, std::int16_t{-1});
  for (int i = 0; i < K; ++i) code_of['A' + i] = static_cast<std::int16_t>(i);
  for (bool global : {false, true}) {
    for (int trial = 0; trial < 6; ++trial) {
      const auto matrix = random_matrix(rng, K, trial == 5 ? 60 : -4, trial == 5 ? 127 : 11);
      si::dp::AlignParams p;
      p.alphabet_size = K;
      p.matrix = matrix.data();
      p.gap_open = 1 + trial * 3;
      p.gap_extend = 1 + trial % 3;
      p.global = global;
      std::uniform_int_distribution<int> letter(0, K - 1), len(0, 400);
      std::vector<std::uint8_t> q(static_cast<std::size_t>(trial == 5 ? 400 : len(rng)));  // trial 5 saturates int16
      for (auto& c : q) c = static_cast<std::uint8_t>('A' + letter(rng));
      std::vector<std::uint8_t> targets;
      std::vector<std::int64_t> offsets{0};
      for (int t = 0; t < 100; ++t) {
        const int n = len(rng);
        for (int j = 0; j < n; ++j) targets.push_back(static_cast<std::uint8_t>('A' + letter(rng)));
        offsets.push_back(static_cast<std::int64_t>(targets.size()));
      }
      const std::size_t nt = offsets.size() - 1;
      const auto ref = si::dp::align_scores(p, code_of, q.data(), q.size(), targets.data(), offsets.data(), nt, 1,
                                            Level::scalar);
      for (Level level : si::simd::available_levels()) {
        si::dp::AlignStats stats;
        const auto got = si::dp::align_scores(p, code_of, q.data(), q.size(), targets.data(), offsets.data(), nt, 2,
                                              level, &stats);
        EXPECT_EQ(got, ref) << si::simd::level_name(level) << " global=" << global << " trial=" << trial;
        if (trial == 5 && level != Level::scalar && !q.empty()) EXPECT_GT(stats.recomputed, 0u);
      }
    }
  }
}

TEST(DpAlign, RejectsBytesOutsideTheAlphabet) {
  std::int16_t code_of[256];
  std::fill(code_of, code_of + 256, std::int16_t{-1});
  code_of['A'] = 0;
  const std::int8_t m[1] = {1};
  si::dp::AlignParams p;
  p.alphabet_size = 1;
  p.matrix = m;
  const std::uint8_t q[] = {'A'}, t[] = {'A', 'B'};
  const std::int64_t off[] = {0, 2};
  EXPECT_THROW(si::dp::align_scores(p, code_of, q, 1, t, off, 1, 1, Level::scalar), std::invalid_argument);
  p.gap_open = -1;
  EXPECT_THROW(si::dp::align_scores(p, code_of, q, 1, t, off, 1, 1, Level::scalar), std::invalid_argument);
}

TEST(DpFloydWarshall, BlockedMatchesPlainLoopOnEveryLevel) {
  std::mt19937 rng(7);
  for (std::size_t n : {1u, 5u, 64u, 100u, 150u}) {
    std::vector<std::int32_t> w(n * n);
    std::uniform_int_distribution<int> weight(1, 500);
    std::uniform_real_distribution<double> u(0, 1);
    for (auto& v : w) v = u(rng) < 0.05 ? weight(rng) : si::dp::kNoEdge;
    std::vector<std::int64_t> ref(w.begin(), w.end());
    const std::int64_t inf = std::int64_t{1} << 40;
    for (auto& v : ref) v = v == si::dp::kNoEdge ? inf : v;
    for (std::size_t i = 0; i < n; ++i) ref[i * n + i] = std::min<std::int64_t>(ref[i * n + i], 0);
    for (std::size_t k = 0; k < n; ++k)
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) ref[i * n + j] = std::min(ref[i * n + j], ref[i * n + k] + ref[k * n + j]);
    for (auto& v : ref) v = v >= inf / 2 ? si::dp::kNoEdge : v;
    for (Level level : si::simd::available_levels()) {
      auto d = w;
      si::dp::floyd_warshall_i32(d.data(), n, 2, level);
      EXPECT_TRUE(std::equal(d.begin(), d.end(), ref.begin())) << "n=" << n << " " << si::simd::level_name(level);
    }
  }
}

TEST(DpRolling, DequeMatchesScan) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> v(-50, 50);
  std::vector<std::int32_t> x(500);
  for (auto& e : x) e = v(rng);
  for (std::size_t w : {1u, 2u, 17u, 500u}) {
    std::vector<std::int32_t> mn(x.size() - w + 1), mx(x.size() - w + 1);
    si::dp::rolling_minmax_i32(x.data(), 1, x.size(), w, false, mn.data(), 1);
    si::dp::rolling_minmax_i32(x.data(), 1, x.size(), w, true, mx.data(), 1);
    for (std::size_t i = 0; i + w <= x.size(); ++i) {
      EXPECT_EQ(mn[i], *std::min_element(x.begin() + i, x.begin() + i + w));
      EXPECT_EQ(mx[i], *std::max_element(x.begin() + i, x.begin() + i + w));
    }
  }
}
