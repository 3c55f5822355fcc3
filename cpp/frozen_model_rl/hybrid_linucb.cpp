// Hybrid LinUCB (Li et al. 2010, alg. 2): shared features z = kron(arm_features[a], x)
// with a shared coefficient vector beta, plus a disjoint ridge part on x.
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "frozen_model_rl/linalg.hpp"
#include "frozen_model_rl/ridge_policy.hpp"

namespace si::bandit {

namespace {

class HybridLinUCB final : public RidgePolicy {
 public:
  HybridLinUCB(const Config& cfg, const BanditKernels& kern) : RidgePolicy(cfg, kern) { init_shared(); }
  std::unique_ptr<Policy> clone() const override { return std::make_unique<HybridLinUCB>(*this); }

  void reset() override {
    RidgePolicy::reset();
    init_shared();
  }

  void scores(const double* x, double* out, bool with_width, std::uint64_t) const override;

  void means(const double* x, double* out, std::uint64_t t) const override { scores(x, out, false, t); }
  void learn(std::uint32_t arm, const double* x, double reward, std::uint64_t decided_at,
             std::uint64_t t) override;

  // theta_a = Ainv (b - B beta)
  std::vector<double> theta(std::uint32_t arm, std::uint64_t) const override {
    const std::size_t d = config().dim;
    const auto& r = ridge_[arm];
    std::vector<double> th(d, 0.0), c(d);
    for (std::size_t i = 0; i < d; ++i) c[i] = r.b[i] - dot(B_[arm].data() + i * k_, beta_.data(), k_);
    matvec(r.Ainv.data(), c.data(), d, th.data());
    return th;
  }

  void write(ByteWriter& w) const override {
    write_ridges(w);
    w.vec(A0_);
    w.vec(A0inv_);
    w.vec(b0_);
    w.vec(beta_);
    for (const auto& B : B_) w.vec(B);
    w.put<std::uint64_t>(0);  // window entries
  }

  void read(ByteReader& r, std::uint64_t) override {
    read_ridges(r);
    const std::size_t d = config().dim, k = k_;
    A0_ = read_doubles(r, k * k, "A0");
    A0inv_ = read_doubles(r, k * k, "A0_inv");
    b0_ = read_doubles(r, k, "b0");
    beta_ = read_doubles(r, k, "beta");
    for (auto& B : B_) B = read_doubles(r, d * k, "B");
    read_no_window(r);
  }

  static double state_bytes(const Config& c) {
    const double d = c.dim, K = c.n_arms;
    const double k = static_cast<double>(c.arm_feature_dim) * d;
    return ridge_state_bytes(c) + 8.0 * (2 * k * k + 2 * k + K * d * k);
  }

 private:
  // The prior of the shared part.
  void init_shared() {
    k_ = config().arm_feature_dim * config().dim;
    A0_.assign(k_ * k_, 0.0);
    A0inv_.assign(k_ * k_, 0.0);
    for (std::size_t i = 0; i < k_; ++i) {
      A0_[i * k_ + i] = config().lam;
      A0inv_[i * k_ + i] = 1.0 / config().lam;
    }
    b0_.assign(k_, 0.0);
    beta_.assign(k_, 0.0);
    B_.assign(config().n_arms, std::vector<double>(config().dim * k_, 0.0));
  }

  std::size_t k_ = 0;  // shared dim = arm_feature_dim * dim
  std::vector<double> A0_, A0inv_, b0_, beta_;
  std::vector<std::vector<double>> B_;  // per arm, dim x k_ row-major
};

void HybridLinUCB::scores(const double* x, double* out, bool with_width, std::uint64_t) const {
  const std::size_t d = config().dim, K = config().n_arms;
  const double alpha = config().alpha;
  const std::size_t m = config().arm_feature_dim, k = k_;
  std::vector<double> u(d), v(k), z(k), w(k);
  for (std::size_t a = 0; a < K; ++a) {
    const auto& r = ridge_[a];
    const double* af = config().arm_features.data() + a * m;
    for (std::size_t j = 0; j < m; ++j)
      for (std::size_t i = 0; i < d; ++i) z[j * d + i] = af[j] * x[i];
    matvec(r.Ainv.data(), x, d, u.data());
    const auto& B = B_[a];
    std::fill(v.begin(), v.end(), 0.0);
    for (std::size_t i = 0; i < d; ++i) {
      const double ui = u[i];
      const double* Bi = B.data() + i * k;
      for (std::size_t j = 0; j < k; ++j) v[j] += Bi[j] * ui;
    }
    // mean = z.beta + u.(b_a - B_a beta)
    double mean = dot(z.data(), beta_.data(), k);
    for (std::size_t i = 0; i < d; ++i) mean += u[i] * (r.b[i] - dot(B.data() + i * k, beta_.data(), k));
    if (!with_width) {
      out[a] = mean;
      continue;
    }
    for (std::size_t j = 0; j < k; ++j) w[j] = z[j] - v[j];
    double s = dot(x, u.data(), d);
    for (std::size_t j = 0; j < k; ++j) s += w[j] * dot(A0inv_.data() + j * k, w.data(), k);
    out[a] = mean + alpha * std::sqrt(std::max(s, 0.0));
  }
}

void HybridLinUCB::learn(std::uint32_t arm, const double* x, double reward, std::uint64_t, std::uint64_t) {
  const std::size_t d = config().dim;
  const std::size_t k = k_, mdim = config().arm_feature_dim;
  auto& r = ridge_[arm];
  auto& B = B_[arm];
  std::vector<double> z(k);
  const double* af = config().arm_features.data() + arm * mdim;
  for (std::size_t j = 0; j < mdim; ++j)
    for (std::size_t i = 0; i < d; ++i) z[j * d + i] = af[j] * x[i];
  // BtAB = B' Ainv B (k x k), BtAb = B' Ainv b (k).
  auto accumulate = [&](double sign) {
    std::vector<double> AiB(d * k, 0.0);  // Ainv B
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t l = 0; l < d; ++l) {
        const double v = r.Ainv[i * d + l];
        if (v == 0.0) continue;
        for (std::size_t j = 0; j < k; ++j) AiB[i * k + j] += v * B[l * k + j];
      }
    for (std::size_t i = 0; i < d; ++i) {
      const double* Bi = B.data() + i * k;
      const double* Ci = AiB.data() + i * k;
      for (std::size_t p = 0; p < k; ++p) {
        const double bp = sign * Bi[p];
        if (bp == 0.0) continue;
        double* Ap = A0_.data() + p * k;
        for (std::size_t q = 0; q < k; ++q) Ap[q] += bp * Ci[q];
      }
    }
    std::vector<double> Aib(d);
    matvec(r.Ainv.data(), r.b.data(), d, Aib.data());
    for (std::size_t i = 0; i < d; ++i) {
      const double* Bi = B.data() + i * k;
      for (std::size_t p = 0; p < k; ++p) b0_[p] += sign * Bi[p] * Aib[i];
    }
  };
  accumulate(+1.0);
  add(arm, x, reward, 1.0);
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = 0; j < k; ++j) B[i * k + j] += x[i] * z[j];
  for (std::size_t p = 0; p < k; ++p) {
    for (std::size_t q = 0; q < k; ++q) A0_[p * k + q] += z[p] * z[q];
    b0_[p] += reward * z[p];
  }
  accumulate(-1.0);
  // Symmetrise against rounding, then invert exactly (k <= 1024).
  for (std::size_t p = 0; p < k; ++p)
    for (std::size_t q = p + 1; q < k; ++q) {
      const double v = 0.5 * (A0_[p * k + q] + A0_[q * k + p]);
      A0_[p * k + q] = A0_[q * k + p] = v;
    }
  if (spd_inverse(A0_.data(), k, A0inv_.data())) ++reinversions_;
  matvec(A0inv_.data(), b0_.data(), k, beta_.data());
}

}  // namespace

const PolicyType kHybridLinUCBType{Algo::HybridLinUCB, "hybrid_linucb", &make_policy<HybridLinUCB>, &HybridLinUCB::state_bytes};

}  // namespace si::bandit
