// C++ unit tests of the bandit core: linear algebra helpers, the float64
// kernels on every SIMD level, LinUCB against a direct float64 recomputation,
// pending-table errors, and serialisation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <vector>

#include "common/cpu_features.hpp"
#include "common/errors.hpp"
#include "frozen_model_rl/bandit.hpp"
#include "frozen_model_rl/bandit_kernels.hpp"
#include "frozen_model_rl/linalg.hpp"

using namespace si::bandit;

namespace {

std::vector<double> randn(std::mt19937_64& g, std::size_t n) {
  std::normal_distribution<double> nd;
  std::vector<double> v(n);
  for (auto& x : v) x = nd(g);
  return v;
}

// Solves A y = b by Gaussian elimination with partial pivoting (reference).
std::vector<double> solve(std::vector<double> A, std::vector<double> b, std::size_t n) {
  for (std::size_t c = 0; c < n; ++c) {
    std::size_t p = c;
    for (std::size_t r = c + 1; r < n; ++r)
      if (std::fabs(A[r * n + c]) > std::fabs(A[p * n + c])) p = r;
    for (std::size_t k = 0; k < n; ++k) std::swap(A[c * n + k], A[p * n + k]);
    std::swap(b[c], b[p]);
    for (std::size_t r = c + 1; r < n; ++r) {
      const double f = A[r * n + c] / A[c * n + c];
      for (std::size_t k = c; k < n; ++k) A[r * n + k] -= f * A[c * n + k];
      b[r] -= f * b[c];
    }
  }
  std::vector<double> y(n);
  for (std::size_t i = n; i-- > 0;) {
    double s = b[i];
    for (std::size_t k = i + 1; k < n; ++k) s -= A[i * n + k] * y[k];
    y[i] = s / A[i * n + i];
  }
  return y;
}

}  // namespace

TEST(BanditLinalg, SpdInverseAndEigen) {
  std::mt19937_64 g(1);
  const std::size_t n = 9;
  auto M = randn(g, n * n);
  std::vector<double> A(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      for (std::size_t k = 0; k < n; ++k) A[i * n + j] += M[i * n + k] * M[j * n + k];
      if (i == j) A[i * n + j] += 1.0;
    }
  std::vector<double> inv(n * n);
  ASSERT_TRUE(spd_inverse(A.data(), n, inv.data()));
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (std::size_t k = 0; k < n; ++k) s += A[i * n + k] * inv[k * n + j];
      EXPECT_NEAR(s, i == j ? 1.0 : 0.0, 1e-10);
    }
  std::vector<double> Q(n * n), w(n);
  sym_eigen(A.data(), n, Q.data(), w.data());
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (std::size_t k = 0; k < n; ++k) s += Q[i * n + k] * w[k] * Q[j * n + k];
      EXPECT_NEAR(s, A[i * n + j], 1e-9);
    }
  std::vector<double> neg = {-1.0};
  EXPECT_FALSE(spd_inverse(neg.data(), 1, inv.data()));
}

TEST(BanditKernels, EveryLevelMatchesScalar) {
  std::mt19937_64 g(2);
  const auto& set = bandit_kernel_set();
  for (auto level : si::simd::available_levels()) {
    const BanditKernels& k = set.at(level);
    for (std::size_t n : {1, 3, 4, 7, 8, 13, 16, 31, 64, 65}) {
      auto a = randn(g, n), M = randn(g, n * n);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < i; ++j) M[i * n + j] = M[j * n + i];
      double ref = 0.0;
      for (std::size_t i = 0; i < n; ++i) ref += a[i] * a[i];
      EXPECT_NEAR(k.dot(a.data(), a.data(), n), ref, 1e-12 * ref + 1e-12) << si::simd::level_name(level);
      std::vector<double> y(n);
      k.symv(M.data(), a.data(), n, y.data());
      for (std::size_t i = 0; i < n; ++i) {
        double s = 0.0;
        for (std::size_t j = 0; j < n; ++j) s += M[i * n + j] * a[j];
        EXPECT_NEAR(y[i], s, 1e-11);
      }
      auto R = M;
      k.rank1(R.data(), a.data(), 0.5, n);
      for (std::size_t i = 0; i < n * n; ++i) EXPECT_NEAR(R[i], M[i] + 0.5 * a[i / n] * a[i % n], 1e-12);
    }
  }
}

TEST(Bandit, LinUCBMatchesDirectSolve) {
  Config c;
  c.n_arms = 3;
  c.dim = 4;
  c.alpha = 0.5;
  Bandit b(c);
  std::mt19937_64 g(3);
  std::vector<std::vector<double>> A(3, std::vector<double>(16, 0.0)), bb(3, std::vector<double>(4, 0.0));
  for (auto& m : A)
    for (int i = 0; i < 4; ++i) m[i * 4 + i] = 1.0;
  for (int t = 0; t < 300; ++t) {
    auto x = randn(g, 4);
    std::vector<double> s(3);
    b.scores(x.data(), s.data());
    std::size_t best = 0;
    double bestv = -1e300;
    for (std::size_t a = 0; a < 3; ++a) {
      auto th = solve(A[a], bb[a], 4);
      auto u = solve(A[a], x, 4);
      double mean = 0, q = 0;
      for (int i = 0; i < 4; ++i) {
        mean += th[i] * x[i];
        q += u[i] * x[i];
      }
      const double ref = mean + 0.5 * std::sqrt(q);
      EXPECT_NEAR(s[a], ref, 1e-9);
      if (ref > bestv) {
        bestv = ref;
        best = a;
      }
    }
    Decision d = b.select(x.data());
    EXPECT_EQ(d.arm, best);
    const double r = x[0] * (d.arm == 1 ? 1.0 : -0.5);
    b.update(d.id, r);
    for (int i = 0; i < 4; ++i) {
      bb[d.arm][i] += r * x[i];
      for (int j = 0; j < 4; ++j) A[d.arm][i * 4 + j] += x[i] * x[j];
    }
  }
}

TEST(Bandit, PendingErrorsAndSerialisation) {
  Config c;
  c.n_arms = 2;
  c.dim = 2;
  c.ttl = 3;
  Bandit b(c);
  double x[2] = {1.0, 0.0};
  Decision d0 = b.select(x);
  EXPECT_THROW(b.update(42, 1.0), si::UnknownId);
  EXPECT_THROW(b.update(d0.id, std::nan("")), std::invalid_argument);
  b.update(d0.id, 1.0);
  EXPECT_THROW(b.update(d0.id, 1.0), std::invalid_argument);
  Decision d1 = b.select(x);
  for (int i = 0; i < 3; ++i) b.select(x);
  EXPECT_THROW(b.update(d1.id, 1.0), si::UnknownId);
  EXPECT_EQ(b.stats().expired, 1u);
  double bad[2] = {1.0, INFINITY};
  EXPECT_THROW(b.select(bad), std::invalid_argument);

  const auto blob = b.serialize();
  auto copy = Bandit::deserialize(reinterpret_cast<const unsigned char*>(blob.data()), blob.size());
  EXPECT_EQ(copy->serialize(), blob);
  EXPECT_THROW(Bandit::deserialize(reinterpret_cast<const unsigned char*>(blob.data()), blob.size() - 1),
               si::CorruptFile);
  Config empty;
  empty.dim = 2;
  EXPECT_THROW(Bandit{empty}, std::invalid_argument);
  Config neg = c;
  neg.alpha = -1;
  EXPECT_THROW(Bandit{neg}, std::invalid_argument);
}

TEST(Bandit, UpdateClockStateRoundTripsAndVersionsAreChecked) {
  for (Algo algo : {Algo::DLinUCB, Algo::SWLinUCB}) {
    Config c;
    c.algo = algo;
    c.n_arms = 3;
    c.dim = 2;
    c.window = 12;  // SW: 4 observations per arm
    c.clock = Clock::Update;
    if (algo == Algo::DLinUCB) c.idle_gamma = 0.999;
    else c.max_age = 30;
    Bandit b(c);
    std::mt19937_64 g(7);
    for (int i = 0; i < 40; ++i) {
      const auto x = randn(g, 2);
      const Decision d = b.select(x.data());
      b.update(d.id, x[0]);
    }
    const auto blob = b.serialize();
    const auto* p = reinterpret_cast<const unsigned char*>(blob.data());
    auto copy = Bandit::deserialize(p, blob.size());
    EXPECT_EQ(copy->serialize(), blob);
    EXPECT_EQ(copy->config().clock, Clock::Update);
    // Read as version 1 (no clock fields) the payload does not parse.
    EXPECT_THROW(Bandit::deserialize(p, blob.size(), 1), si::CorruptFile);
    EXPECT_THROW(Bandit::deserialize(p, blob.size(), Bandit::kFormatVersion + 1), si::UnsupportedVersion);
    EXPECT_THROW(Bandit::deserialize(p, blob.size(), 0), si::UnsupportedVersion);
  }
  Config lin;
  lin.n_arms = 2;
  lin.dim = 2;
  lin.clock = Clock::Update;  // only the forgetting policies have a clock
  EXPECT_THROW(Bandit{lin}, std::invalid_argument);
  EXPECT_EQ(parse_clock("update"), Clock::Update);
  EXPECT_THROW(parse_clock("hour"), std::invalid_argument);
}

TEST(Bandit, InputDomainKeepsStateFiniteAndNothingChangesOnRefusal) {
  Config c;
  c.n_arms = 2;
  c.dim = 2;
  Bandit b(c);
  double ok[2] = {1.0, 0.5};
  b.update(b.select(ok).id, 1.0);
  const auto before = b.serialize();
  double huge[2] = {1e155, 0.0};  // x x' overflows
  EXPECT_THROW(b.select(huge), std::invalid_argument);
  EXPECT_THROW(b.update_arm(0, huge, 1.0), std::invalid_argument);
  double out[2];
  EXPECT_THROW(b.scores(huge, out), std::invalid_argument);
  const Decision d = b.select(ok);
  const auto after_select = b.serialize();
  EXPECT_THROW(b.update(d.id, 1e308), std::invalid_argument);
  EXPECT_EQ(b.serialize(), after_select);
  EXPECT_NE(before, after_select);
}

TEST(Bandit, LoaderAppliesTheConstructorsCaps) {
  Config c;
  c.algo = Algo::LinTS;
  c.n_arms = 3;
  c.dim = 2;
  Bandit b(c);
  auto blob = b.serialize();
  // ts_propensity_draws: after algo, n_arms, dim (u32), 4 doubles, window, seed (u64), reinvert_every (u32).
  const std::size_t off = 3 * 4 + 4 * 8 + 2 * 8 + 4;
  const std::uint32_t draws = 4000000000u;
  std::memcpy(&blob[off], &draws, sizeof draws);
  const auto* p = reinterpret_cast<const unsigned char*>(blob.data());
  EXPECT_THROW(Bandit::deserialize(p, blob.size()), si::CorruptFile);
  c.ts_propensity_draws = draws;
  EXPECT_THROW(Bandit{c}, std::invalid_argument);
  // n_arms within the cap, but more models than the payload holds: refused before allocating.
  auto blob2 = b.serialize();
  const std::uint32_t arms = 999999;
  std::memcpy(&blob2[4], &arms, sizeof arms);
  EXPECT_THROW(Bandit::deserialize(reinterpret_cast<const unsigned char*>(blob2.data()), blob2.size()),
               si::CorruptFile);
}

// Every algorithm's policy class: a copy (Policy::clone) and a state reloaded
// from its bytes go on exactly as the original (same decisions, same bytes),
// and reset returns to the freshly built state.
TEST(Bandit, EveryAlgorithmCopiesReloadsAndResets) {
  for (std::uint32_t a = 0; a <= kMaxAlgo; ++a) {
    Config c;
    c.algo = static_cast<Algo>(a);
    c.n_arms = 3;
    c.dim = 2;
    c.seed = 11;
    c.ttl = 9;
    c.window = 12;
    c.reinvert_every = 4;
    if (c.algo == Algo::HybridLinUCB) {
      c.arm_feature_dim = 2;
      c.arm_features = {1.0, 0.0, 0.0, 1.0, 0.5, 0.5};
    }
    SCOPED_TRACE(algo_name(c.algo));
    Bandit b(c);
    const auto fresh = b.serialize();
    std::mt19937_64 g(a);
    const auto contexts = randn(g, 2 * 70);
    auto step = [&contexts](Bandit& x, int i) {
      const double* ctx = contexts.data() + 2 * i;
      const Decision d = x.select(ctx);
      if (i % 3) x.update(d.id, ctx[0] - ctx[1]);
      return d.arm;
    };
    for (int i = 0; i < 40; ++i) step(b, i);
    Bandit copy(b);
    const auto blob = b.serialize();
    auto loaded = Bandit::deserialize(blob.data(), blob.size());
    EXPECT_EQ(copy.serialize(), blob);
    EXPECT_EQ(loaded->serialize(), blob);
    for (int i = 40; i < 70; ++i) {
      const std::uint32_t arm = step(b, i);
      EXPECT_EQ(step(copy, i), arm);
      EXPECT_EQ(step(*loaded, i), arm);
    }
    EXPECT_EQ(copy.serialize(), b.serialize());
    EXPECT_EQ(loaded->serialize(), b.serialize());
    b.reset();
    EXPECT_EQ(b.serialize(), fresh);
  }
}
