// D-LinUCB (Russac, Vernade & Cappe 2019, alg. 1) per arm: every round,
// V <- gV + (1-g)lam I, Vt <- g^2 Vt + (1-g^2) lam I, b <- g b. Discounting is
// applied lazily from the last update of the arm via an eigen-decomposition of
// V (score O(d^2), update O(d^3): Jacobi warm-started in the previous
// eigenbasis, where the new V is diagonal plus rank one; a fresh decomposition
// every reinvert_every). With Clock::Update an arm is discounted by
// gamma^n_arms per update of that arm, and by idle_gamma per round on top.
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "common/errors.hpp"
#include "frozen_model_rl/linalg.hpp"
#include "frozen_model_rl/policy.hpp"

namespace si::bandit {

namespace {

// Per-arm discounted statistics with the eigen-decomposition of V.
struct Discounted {
  std::vector<double> V, Vt, b;         // caught up to time t_last
  std::vector<double> Q, evals, Qb, M;  // V = Q diag(evals) Q'; Qb = Q'b; M = Q' Vt Q
  std::uint64_t t_last = 0;
  std::uint32_t since_exact = 0;  // warm-started updates since a fresh decomposition
};

class DLinUCB final : public Policy {
 public:
  DLinUCB(const Config& cfg, const BanditKernels& kern) : Policy(cfg, kern) { DLinUCB::reset(); }
  std::unique_ptr<Policy> clone() const override { return std::make_unique<DLinUCB>(*this); }

  void reset() override {
    const std::size_t d = config().dim;
    const double lam = config().lam;
    disc_.assign(config().n_arms, Discounted{});
    for (auto& m : disc_) {
      m.V.assign(d * d, 0.0);
      m.Q.assign(d * d, 0.0);
      for (std::size_t i = 0; i < d; ++i) m.V[i * d + i] = m.Q[i * d + i] = 1.0;
      for (double& v : m.V) v *= lam;
      m.Vt = m.V;
      m.M = m.V;
      m.evals.assign(d, lam);
      m.b.assign(d, 0.0);
      m.Qb.assign(d, 0.0);
      m.t_last = 0;
    }
  }

  void scores(const double* x, double* out, bool with_width, std::uint64_t t) const override {
    const std::size_t d = config().dim, K = config().n_arms;
    const double alpha = config().alpha, lam = config().lam;
    std::vector<double> z(d);
    for (std::size_t a = 0; a < K; ++a) {
      const auto& m = disc_[a];
      const double g = idle_decay(m, t);
      const double c = (1.0 - g) * lam;
      double mean = 0.0, zz = 0.0;
      for (std::size_t i = 0; i < d; ++i) {
        double yi = 0.0;
        for (std::size_t k = 0; k < d; ++k) yi += m.Q[k * d + i] * x[k];
        const double e = g * m.evals[i] + c;
        z[i] = yi / e;
        mean += z[i] * g * m.Qb[i];
        zz += z[i] * z[i];
      }
      if (!with_width) {
        out[a] = mean;
        continue;
      }
      double zMz = 0.0;
      for (std::size_t i = 0; i < d; ++i) zMz += z[i] * dot(m.M.data() + i * d, z.data(), d);
      const double w2 = g * g * zMz + (1.0 - g * g) * lam * zz;
      out[a] = mean + alpha * std::sqrt(std::max(w2, 0.0));
    }
  }

  void means(const double* x, double* out, std::uint64_t t) const override {
    const std::size_t d = config().dim;
    for (std::size_t a = 0; a < config().n_arms; ++a) {
      const auto& m = disc_[a];
      const double g = idle_decay(m, t);
      const double c = (1.0 - g) * config().lam;
      double mean = 0.0;
      for (std::size_t i = 0; i < d; ++i) {
        double yi = 0.0;
        for (std::size_t k = 0; k < d; ++k) yi += m.Q[k * d + i] * x[k];
        mean += yi * g * m.Qb[i] / (g * m.evals[i] + c);
      }
      out[a] = mean;
    }
  }

  void learn(std::uint32_t arm, const double* x, double reward, std::uint64_t decided_at,
             std::uint64_t t) override;

  std::vector<double> theta(std::uint32_t arm, std::uint64_t t) const override {
    const std::size_t d = config().dim;
    std::vector<double> th(d, 0.0);
    const auto& m = disc_[arm];
    const double g = idle_decay(m, t);
    const double c = (1.0 - g) * config().lam;
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t k = 0; k < d; ++k) th[k] += m.Q[k * d + i] * g * m.Qb[i] / (g * m.evals[i] + c);
    return th;
  }

  std::vector<double> a_inv(std::uint32_t arm, std::uint64_t t) const override {
    const std::size_t d = config().dim;
    const auto& m = disc_[arm];
    const double g = idle_decay(m, t);
    const double c = (1.0 - g) * config().lam;
    std::vector<double> out(d * d, 0.0);
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = 0; j < d; ++j) {
        double s = 0.0;
        for (std::size_t k = 0; k < d; ++k) s += m.Q[i * d + k] * m.Q[j * d + k] / (g * m.evals[k] + c);
        out[i * d + j] = s;
      }
    return out;
  }

  void write(ByteWriter& w) const override {
    for (const auto& m : disc_) {
      w.vec(m.V);
      w.vec(m.Vt);
      w.vec(m.b);
      w.vec(m.Q);
      w.vec(m.evals);
      w.vec(m.Qb);
      w.vec(m.M);
      w.put<std::uint64_t>(m.t_last);
      w.put<std::uint32_t>(m.since_exact);
    }
    w.put<std::uint64_t>(0);  // window entries
  }

  void read(ByteReader& r, std::uint64_t t) override {
    const std::size_t d = config().dim;
    for (auto& m : disc_) {
      m.V = read_doubles(r, d * d, "V");
      m.Vt = read_doubles(r, d * d, "V_tilde");
      m.b = read_doubles(r, d, "b");
      m.Q = read_doubles(r, d * d, "Q");
      m.evals = read_doubles(r, d, "eigenvalues");
      m.Qb = read_doubles(r, d, "Qb");
      m.M = read_doubles(r, d * d, "M");
      m.t_last = r.get<std::uint64_t>();
      m.since_exact = r.get<std::uint32_t>();
      if (m.t_last > t) throw CorruptFile("bandit state: arm time after current time");
    }
    if (r.get<std::uint64_t>() != 0) throw CorruptFile("bandit state: bad window size");
  }

  static double state_bytes(const Config& c) {
    const double d = c.dim, K = c.n_arms;
    const double per_vec = sizeof(std::uint64_t);  // each vector's length prefix
    return K * (8.0 * (4 * d * d + 3 * d) + 7 * per_vec);  // V, Vt, Q, M; b, evals, Qb
  }

 private:
  // Decay of an arm's statistics since its last update (idle: per round) and
  // the decay its next update applies.
  double idle_decay(const Discounted& m, std::uint64_t t) const {
    const double per_round = config().clock == Clock::Round ? config().gamma : config().idle_gamma;
    if (per_round == 1.0) return 1.0;
    return std::pow(per_round, static_cast<double>(t - m.t_last));
  }
  double update_decay(const Discounted& m, std::uint64_t t) const {
    const double idle = idle_decay(m, t);
    return config().clock == Clock::Round ? idle : idle * config().arm_gamma();
  }

  std::vector<Discounted> disc_;
};

void DLinUCB::learn(std::uint32_t arm, const double* x, double reward, std::uint64_t decided_at,
                    std::uint64_t t) {
  const std::size_t d = config().dim;
  const Config& cfg = config();
  auto& m = disc_[arm];
  const double lam = cfg.lam, gam = cfg.gamma;
  const double g = update_decay(m, t);
  const double c1 = (1.0 - g) * lam, c2 = (1.0 - g * g) * lam;
  // Weight of an observation decided `age` rounds before the current time
  // (round clock); on the update clock an arm's time is its own updates, and
  // a late reward counts from its arrival.
  const std::uint64_t now = t == 0 ? 0 : t - 1;
  const double w = cfg.clock == Clock::Update || decided_at == UINT64_MAX || decided_at >= now
                       ? 1.0
                       : std::pow(gam, static_cast<double>(now - decided_at));
  // Explicit statistics (kept for exact refreshes and saving).
  for (std::size_t i = 0; i < d * d; ++i) {
    m.V[i] *= g;
    m.Vt[i] *= g * g;
  }
  for (std::size_t i = 0; i < d; ++i) {
    m.V[i * d + i] += c1;
    m.Vt[i * d + i] += c2;
    m.b[i] *= g;
  }
  for (std::size_t i = 0; i < d; ++i) {
    for (std::size_t j = 0; j < d; ++j) {
      m.V[i * d + j] += w * x[i] * x[j];
      m.Vt[i * d + j] += w * w * x[i] * x[j];
    }
    m.b[i] += w * reward * x[i];
  }
  m.t_last = t;
  std::vector<double> T(d * d, 0.0);
  ++m.since_exact;
  if (cfg.reinvert_every && m.since_exact >= cfg.reinvert_every) {
    // Fresh decomposition of the explicit V; M = Q' Vt Q.
    sym_eigen(m.V.data(), d, m.Q.data(), m.evals.data());
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t k = 0; k < d; ++k) {
        const double v = m.Vt[i * d + k];
        for (std::size_t j = 0; j < d; ++j) T[i * d + j] += v * m.Q[k * d + j];
      }
    std::fill(m.M.begin(), m.M.end(), 0.0);
    for (std::size_t k = 0; k < d; ++k)
      for (std::size_t i = 0; i < d; ++i) {
        const double q = m.Q[k * d + i];
        for (std::size_t j = 0; j < d; ++j) m.M[i * d + j] += q * T[k * d + j];
      }
    m.since_exact = 0;
    ++reinversions_;
  } else {
    // Warm start in the old eigenbasis: Q'V_new Q = diag(g evals + c1) + w y y'
    // (y = Q'x) is diagonal plus rank one, so Jacobi converges in a few sweeps.
    std::vector<double> y(d), B(d * d), Q2(d * d), e2(d);
    for (std::size_t i = 0; i < d; ++i) {
      double s2 = 0.0;
      for (std::size_t k = 0; k < d; ++k) s2 += m.Q[k * d + i] * x[k];
      y[i] = s2;
    }
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = 0; j < d; ++j) B[i * d + j] = w * y[i] * y[j];
    for (std::size_t i = 0; i < d; ++i) B[i * d + i] += g * m.evals[i] + c1;
    sym_eigen(B.data(), d, Q2.data(), e2.data());
    // Q <- Q Q2
    std::fill(T.begin(), T.end(), 0.0);
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t k = 0; k < d; ++k) {
        const double q = m.Q[i * d + k];
        for (std::size_t j = 0; j < d; ++j) T[i * d + j] += q * Q2[k * d + j];
      }
    m.Q.swap(T);
    m.evals.swap(e2);
    // Old-basis Vt: g^2 M + c2 I + w^2 y y'; then M <- Q2' (that) Q2.
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = 0; j < d; ++j) B[i * d + j] = g * g * m.M[i * d + j] + w * w * y[i] * y[j];
    for (std::size_t i = 0; i < d; ++i) B[i * d + i] += c2;
    std::vector<double> BQ(d * d, 0.0);
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t k = 0; k < d; ++k) {
        const double v = B[i * d + k];
        for (std::size_t j = 0; j < d; ++j) BQ[i * d + j] += v * Q2[k * d + j];
      }
    std::fill(m.M.begin(), m.M.end(), 0.0);
    for (std::size_t k = 0; k < d; ++k)
      for (std::size_t i = 0; i < d; ++i) {
        const double q = Q2[k * d + i];
        for (std::size_t j = 0; j < d; ++j) m.M[i * d + j] += q * BQ[k * d + j];
      }
  }
  for (std::size_t i = 0; i < d; ++i) {
    double s2 = 0.0;
    for (std::size_t k = 0; k < d; ++k) s2 += m.Q[k * d + i] * m.b[k];
    m.Qb[i] = s2;
  }
}

}  // namespace

const PolicyType kDLinUCBType{Algo::DLinUCB, "dlinucb", &make_policy<DLinUCB>, &DLinUCB::state_bytes};

}  // namespace si::bandit
